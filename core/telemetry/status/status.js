// The status page's script: polls status/snapshot.json (built by status-snapshot.ts) and draws it.
// Plain browser JavaScript with no dependencies: the page must work offline and without a build.
// Everything from the snapshot goes in through textContent, never as HTML: instance names and
// error messages come from senders and from the network.
'use strict';

const POLL_MS = 1000;
/** Points kept per sparkline (one per poll). */
const SPARK_POINTS = 40;

const KIND_TITLES = { receiver: 'Receivers', processor: 'Processors', exporter: 'Exporters' };
const FLOW_LABELS = { in: 'spans in', out: 'spans out', spans_out: 'spans out', segments_out: 'segments out' };
const CONNECTION_TEXT = {
  ready: 'connected',
  connecting: 'connecting…',
  idle: 'idle (connects on the next send)',
  transient_failure: 'cannot connect',
  shutdown: 'closed',
};

/** Rate history per component key, for the sparklines. */
const sparkHistory = new Map();
let graphSignature = '';
let lastSuccess = 0;

// el() and svg() come from /assets/dom.js, shared with the trace view.
const h = el;

function formatRate(rate) {
  if (rate === null || rate === undefined) return '–';
  if (rate === 0) return '0';
  if (rate < 10) return rate.toFixed(1);
  return Math.round(rate).toLocaleString('en-US');
}

function formatCount(n) {
  if (n < 1000) return String(Math.round(n));
  const units = [['G', 1e9], ['M', 1e6], ['k', 1e3]];
  const [suffix, size] = units.find(([, s]) => n >= s);
  return `${(n / size).toFixed(n / size < 10 ? 1 : 0)}${suffix}`;
}

function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i === 0 || n >= 10 ? 0 : 1)} ${units[i]}`;
}

function formatAgo(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

function meter(value, limit, format) {
  const fraction = limit ? Math.min(1, value / limit) : 0;
  const level = fraction >= 0.9 ? 'high' : fraction >= 0.6 ? 'mid' : 'low';
  return h('div', { class: 'meter' },
    h('div', { class: 'meter-bar' }, h('div', { class: `meter-fill ${level}`, style: `width:${(fraction * 100).toFixed(1)}%` })),
    h('span', { class: 'meter-text' }, limit ? `${format(value)} of ${format(limit)} (${(fraction * 100).toFixed(0)}%)` : `${format(value)} (no bound)`));
}

function emptyNote(text) {
  return h('p', { class: 'empty' }, text);
}

function table(headers, rows) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell) => (cell instanceof Node && cell.tagName === 'TD' ? cell : h('td', {}, cell)))))));
}

// ---- totals ----------------------------------------------------------------------------------

function renderTotals(s) {
  const t = s.totals;
  const exporters = Object.values(s.components).filter((c) => c.kind === 'exporter').length;
  const summed = exporters > 1 ? ` · ${exporters} exporters summed` : '';
  const tile = (label, flow, unit, tone, note) => h('div', { class: `tile ${tone || ''}`, 'data-total': label },
    h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value', 'data-rate': flow.rate ?? '' }, formatRate(flow.rate), h('span', { class: 'unit' }, unit)),
    h('div', { class: 'tile-sub' }, h('span', { class: 'count' }, formatCount(flow.total)), ` in all${note || ''}`));
  const a = s.admission;
  document.getElementById('totals').replaceChildren(
    tile('received', t.received, 'spans/s'),
    tile('exported', t.exportedSpans, 'spans/s', '', summed),
    tile('segments', t.exportedSegments, '/s', '', summed),
    tile('refused', t.refused, 'spans/s', t.refused.rate ? 'warn' : ''),
    tile('lost', t.lost, 'spans/s', t.lost.rate ? 'bad' : ''),
    h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, 'admission held'),
      meter(a.heldBytes, a.limitBytes, formatBytes), meter(a.heldSpans, a.limitSpans, (n) => `${formatCount(n)} spans`)),
  );
}

// ---- pipelines graph -------------------------------------------------------------------------

/** The flow whose rate a node shows large, and in its sparkline. */
function mainFlow(c) {
  return c.kind === 'exporter' ? c.flows.spans_out : c.kind === 'processor' ? c.flows.out : c.flows.in;
}

function sparkline(key, rate) {
  const points = sparkHistory.get(key) || [];
  if (rate !== null && rate !== undefined) points.push(rate);
  while (points.length > SPARK_POINTS) points.shift();
  sparkHistory.set(key, points);
  const width = 120;
  const height = 22;
  const max = Math.max(1, ...points);
  const el = svg('svg', { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, 'aria-hidden': 'true' });
  if (points.length > 1) {
    const step = width / (SPARK_POINTS - 1);
    const offset = width - step * (points.length - 1);
    const xy = points.map((p, i) => `${(offset + i * step).toFixed(1)},${(height - 1 - (p / max) * (height - 3)).toFixed(1)}`);
    el.append(svg('polyline', { points: xy.join(' '), fill: 'none', 'stroke-width': 1.5 }));
  }
  return el;
}

function connectionBadge(connection) {
  const threads = Object.entries(connection.threads);
  const detail = threads.length > 1 || (threads[0] && threads[0][1] > 1) ? ` (${threads.map(([st, n]) => `${n} ${st}`).join(', ')})` : '';
  return h('div', { class: `conn conn-${connection.state}`, 'data-connection-state': connection.state },
    h('span', { class: 'dot' }), `OAP ${CONNECTION_TEXT[connection.state] || connection.state}${detail}`);
}

function nodeBody(c) {
  const main = mainFlow(c);
  const lines = [];
  const flowLine = (name) => {
    const f = c.flows[name];
    return h('div', { class: 'flow', 'data-flow': name, 'data-rate': f.rate ?? '', 'data-total': f.total },
      h('span', { class: 'flow-label' }, FLOW_LABELS[name]), h('span', { class: 'flow-value' }, `${formatRate(f.rate)}/s`));
  };
  for (const name of Object.keys(c.flows)) if (c.flows[name] !== main) lines.push(flowLine(name));
  const refused = c.refused.reduce((n, r) => n + (r.rate || 0), 0);
  if (c.refused.some((r) => r.total > 0)) lines.push(h('div', { class: `flow ${refused ? 'warn' : ''}` }, h('span', { class: 'flow-label' }, 'refused'), h('span', { class: 'flow-value' }, `${formatRate(refused)}/s`)));
  const lost = c.dropped.filter((d) => !d.intentional);
  if (lost.some((d) => d.total > 0)) {
    const rate = lost.reduce((n, d) => n + (d.rate || 0), 0);
    lines.push(h('div', { class: `flow ${rate ? 'bad' : ''}` }, h('span', { class: 'flow-label' }, 'dropped'), h('span', { class: 'flow-value' }, `${formatRate(rate)}/s`)));
  }
  for (const q of c.queues.filter((x) => x.capacity)) {
    lines.push(h('div', { class: 'queue', title: `${q.queue}: ${q.size} of ${q.capacity}` }, h('span', { class: 'flow-label' }, q.queue.replace(/_/g, ' ')), meter(q.size, q.capacity, formatCount)));
  }
  if (c.connection) lines.push(connectionBadge(c.connection));
  if (c.instances) lines.push(h('div', { class: 'flow' }, h('span', { class: 'flow-label' }, 'instances'), h('span', { class: 'flow-value' }, formatCount(c.instances.count))));
  if (c.lastError) lines.push(h('div', { class: 'node-error', title: c.lastError.message }, `${formatAgo(c.lastError.at)}: ${c.lastError.message}`));
  return [
    h('div', { class: 'node-head' },
      h('span', { class: 'node-id' }, c.id),
      c.type !== c.id ? h('span', { class: 'node-type' }, c.type) : null),
    h('div', { class: 'node-main', 'data-flow': 'main', 'data-rate': main.rate ?? '', 'data-total': main.total },
      h('span', { class: 'big' }, formatRate(main.rate)), h('span', { class: 'unit' }, `${FLOW_LABELS[Object.keys(c.flows).find((k) => c.flows[k] === main)]}/s`)),
    sparkline(c.key, main.rate),
    h('div', { class: 'node-sub' }, `${formatCount(main.total)} in all`),
    ...lines,
  ];
}

function nodeKeys(s, p) {
  return {
    receiver: p.receivers.map((id) => `receiver:${id}`),
    processor: p.processors.map((id) => `processor:${p.id}:${id}`),
    exporter: p.exporters.map((id) => `exporter:${id}`),
  };
}

/** Each receiver feeds the first processor, each processor the next, the last every exporter. */
function edgesOf(keys) {
  const stages = [keys.receiver, ...keys.processor.map((k) => [k]), keys.exporter];
  const edges = [];
  for (let i = 0; i + 1 < stages.length; i++) for (const from of stages[i]) for (const to of stages[i + 1]) edges.push([from, to]);
  return edges;
}

function buildGraph(s) {
  const container = document.getElementById('pipelines');
  container.replaceChildren();
  for (const p of s.pipelines) {
    const keys = nodeKeys(s, p);
    const column = (kind, list, title) => h('div', { class: `column column-${kind}` },
      h('div', { class: 'column-title' }, title),
      list.map((key) => h('div', { class: `node node-${kind}`, 'data-key': key, 'data-kind': kind, id: `node-${p.id}-${key}` })));
    const columns = [column('receiver', keys.receiver, KIND_TITLES.receiver)];
    keys.processor.forEach((key, i) => columns.push(column('processor', [key], i === 0 ? KIND_TITLES.processor : '\u00a0')));
    columns.push(column('exporter', keys.exporter, KIND_TITLES.exporter));
    const edgeLayer = svg('svg', { class: 'edges', 'aria-hidden': 'true' });
    const graph = h('div', { class: 'graph', 'data-pipeline': p.id }, edgeLayer, h('div', { class: 'columns' }, columns));
    graph.dataset.edges = JSON.stringify(edgesOf(keys));
    container.append(h('div', { class: 'pipeline' }, h('h3', {}, h('span', { class: 'pipeline-badge' }, 'pipeline'), p.id), graph));
  }
}

/** Edges are drawn after layout, from each node's right edge to the next one's left edge. */
function drawEdges() {
  for (const graph of document.querySelectorAll('.graph')) {
    const layer = graph.querySelector('svg.edges');
    const box = graph.getBoundingClientRect();
    layer.setAttribute('width', box.width);
    layer.setAttribute('height', box.height);
    layer.replaceChildren(markerDefs());
    for (const [from, to] of JSON.parse(graph.dataset.edges)) {
      const a = graph.querySelector(`.node[data-key="${CSS.escape(from)}"]`).getBoundingClientRect();
      const b = graph.querySelector(`.node[data-key="${CSS.escape(to)}"]`).getBoundingClientRect();
      const x1 = a.right - box.left;
      const y1 = a.top + Math.min(a.height / 2, 40) - box.top;
      const x2 = b.left - box.left - 4;
      const y2 = b.top + Math.min(b.height / 2, 40) - box.top;
      const bend = Math.max(20, (x2 - x1) / 2);
      layer.append(svg('path', {
        class: 'edge', 'data-from': from, 'data-to': to, 'marker-end': 'url(#arrow)',
        d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
      }));
    }
  }
}

function markerDefs() {
  const defs = svg('defs', {});
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
  defs.append(marker);
  return defs;
}

function renderGraph(s) {
  const signature = JSON.stringify(s.pipelines);
  if (signature !== graphSignature) {
    buildGraph(s);
    graphSignature = signature;
  }
  for (const node of document.querySelectorAll('.node')) {
    const c = s.components[node.dataset.key];
    if (c) node.replaceChildren(...nodeBody(c));
    node.classList.toggle('has-error', Boolean(c && c.lastError));
  }
  drawEdges();
}

// ---- tables ----------------------------------------------------------------------------------

function renderAdmission(a) {
  const rows = a.holders.filter((x) => x.bytes > 0 || x.spans > 0).map((x) => [x.holder, formatBytes(x.bytes), formatCount(x.spans)]);
  document.getElementById('admission').replaceChildren(
    h('div', { class: 'meter-row' }, h('span', { class: 'meter-label' }, 'bytes'), meter(a.heldBytes, a.limitBytes, formatBytes)),
    h('div', { class: 'meter-row' }, h('span', { class: 'meter-label' }, 'spans'), meter(a.heldSpans, a.limitSpans, formatCount)),
    rows.length ? table(['holder', 'bytes', 'spans'], rows) : emptyNote('Nothing held right now.'),
  );
}

function renderQueues(s) {
  const rows = s.queues.map((q) => [q.component, q.queue.replace(/_/g, ' '), q.capacity ? meter(q.size, q.capacity, formatCount) : formatCount(q.size)]);
  document.getElementById('queues').replaceChildren(rows.length ? table(['component', 'queue', 'usage'], rows) : emptyNote('No queue reported yet.'));
}

function renderLosses(s) {
  const rows = [];
  for (const c of Object.values(s.components)) {
    for (const r of c.refused) rows.push({ component: c.id, what: 'refused', tone: 'warn', ...r });
  }
  for (const d of s.drops) rows.push({ component: d.component, what: d.intentional ? 'dropped (policy)' : 'dropped', tone: d.intentional ? '' : 'bad', ...d });
  for (const c of Object.values(s.components)) {
    for (const f of c.failed) rows.push({ component: c.id, what: 'send failed (segments, retried)', tone: 'warn', ...f });
  }
  rows.sort((a, b) => (b.rate || 0) - (a.rate || 0) || b.total - a.total);
  document.getElementById('losses').replaceChildren(rows.length
    ? table(['component', 'what', 'reason', 'per second', 'in all'], rows.map((r) => [r.component, h('td', { class: r.tone }, r.what), r.reason, formatRate(r.rate), formatCount(r.total)]))
    : emptyNote('Nothing refused or dropped.'));
}

function renderErrors(s) {
  const rows = Object.values(s.components).filter((c) => c.lastError).sort((a, b) => b.lastError.at - a.lastError.at)
    .map((c) => [c.id, h('td', { class: 'nowrap' }, formatAgo(c.lastError.at)), h('td', { class: 'message' }, c.lastError.message)]);
  document.getElementById('errors').replaceChildren(rows.length ? table(['component', 'when', 'error'], rows) : emptyNote('No errors.'));
}

function renderInstances(s) {
  const rows = [];
  let total = 0;
  for (const c of Object.values(s.components)) {
    if (!c.instances) continue;
    total += c.instances.count;
    for (const i of c.instances.recent) rows.push([i.service, i.instance, c.id, h('td', { class: 'nowrap' }, formatAgo(i.lastSeen))]);
  }
  const note = h('p', { class: 'hint-line' }, `${formatCount(total)} kept alive; the most recently seen are listed.`);
  document.getElementById('instances').replaceChildren(rows.length ? h('div', {}, note, table(['service', 'instance', 'exporter', 'last segment'], rows)) : emptyNote('No instance seen yet.'));
}

// ---- polling ---------------------------------------------------------------------------------

function render(s) {
  renderTotals(s);
  renderGraph(s);
  renderAdmission(s.admission);
  renderQueues(s);
  renderLosses(s);
  renderErrors(s);
  renderInstances(s);
}

function showFreshness(ok, s) {
  const el = document.getElementById('freshness');
  if (ok) {
    lastSuccess = Date.now();
    const window = s.rateWindowSeconds === null ? 'rates after the next reading' : `rates over the last ${s.rateWindowSeconds.toFixed(0)} s`;
    el.textContent = `Live · ${s.workers} ${s.workers === 1 ? 'thread' : 'worker threads'} · ${window}`;
    el.dataset.state = 'live';
  } else {
    el.textContent = lastSuccess ? `Cannot reach skybridge (last reading ${formatAgo(lastSuccess)})` : 'Cannot reach skybridge';
    el.dataset.state = 'stale';
  }
}

async function poll() {
  try {
    const res = await fetch('status/snapshot.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const s = await res.json();
    render(s);
    showFreshness(true, s);
  } catch {
    showFreshness(false);
  }
  setTimeout(poll, POLL_MS);
}

window.addEventListener('resize', drawEdges);
poll();
