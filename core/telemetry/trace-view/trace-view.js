// The trace view's browser side: lists the traces skybridge kept (/traces/api/traces), and draws
// one (/traces/api/trace/<id>) as SkyWalking would: a section per segment, its spans as a
// waterfall, SVG arrows for the refs between segments, and the source spans beside it.
// Plain browser JavaScript, no build step; every value from the server goes in as text, never HTML.
'use strict';

const LIST_REFRESH_MS = 3000;

// el() and svg() come from /assets/dom.js, shared with the status page.

/** A stable hue per service name, so a service has one colour in the list and the waterfall. */
function serviceHue(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h % 360;
}

function serviceChip(name) {
  return el('span', { class: 'chip', style: `--hue:${serviceHue(name)}` }, name);
}

function formatMs(ms) {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

const state = { selected: undefined, query: new URLSearchParams() };

async function getJson(url) {
  const res = await fetch(url, { cache: 'no-store' });
  const body = await res.json();
  return { status: res.status, body };
}

function showNotice(text) {
  const notice = document.getElementById('notice');
  notice.hidden = !text;
  notice.textContent = text ?? '';
}

// ---- the list ------------------------------------------------------------------------------

async function refreshList() {
  const query = String(state.query);
  const { body } = await getJson(`/traces/api/traces?${query}`);
  // A search typed meanwhile wins over this (older) answer.
  if (query !== String(state.query)) return;
  showNotice(body.notice);
  document.getElementById('kept').textContent = body.kept ? `${body.kept.traces} traces, ${body.kept.spans} spans kept` : '';
  const list = document.getElementById('traces');
  list.replaceChildren(...body.traces.map(traceItem));
  list.dataset.query = query;
  document.getElementById('empty').hidden = body.traces.length > 0 || Boolean(body.notice);
}

function traceItem(t) {
  const item = el(
    'li',
    { class: `trace${t.error ? ' error' : ''}${state.selected === t.traceId ? ' selected' : ''}`, dataset: { traceId: t.traceId } },
    el(
      'button',
      { type: 'button', onclick: () => openTrace(t.traceId) },
      el('span', { class: 'endpoint' }, t.endpoint || '(no endpoint)'),
      t.error ? el('span', { class: 'badge error' }, 'error') : null,
      t.truncated ? el('span', { class: 'badge' }, 'truncated') : null,
      el('span', { class: 'services' }, t.services.map(serviceChip)),
      el('span', { class: 'meta' }, `${clockTime(t.lastMs)} · ${t.segments} segments · ${t.spans} spans · ${formatMs(t.durationMs)}`),
      el('code', { class: 'id' }, t.traceId),
    ),
  );
  return item;
}

function onSearch(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const query = new URLSearchParams();
  for (const key of ['traceId', 'service', 'endpoint']) {
    const value = String(form.get(key) ?? '').trim();
    if (value) query.set(key, value);
  }
  if (form.get('error')) query.set('error', '1');
  state.query = query;
  refreshList().catch(showError);
}

function showError(error) {
  showNotice(`Could not reach skybridge: ${error.message}`);
}

// ---- one trace -----------------------------------------------------------------------------

async function openTrace(traceId) {
  state.selected = traceId;
  history.replaceState(null, '', `#trace=${encodeURIComponent(traceId)}`);
  for (const li of document.querySelectorAll('#traces li')) li.classList.toggle('selected', li.dataset.traceId === traceId);
  const detail = document.getElementById('detail');
  const { status, body } = await getJson(`/traces/api/trace/${encodeURIComponent(traceId)}`);
  if (status !== 200) {
    detail.replaceChildren(el('p', { class: 'notice' }, body.notice ?? `No trace ${traceId}.`));
    return;
  }
  detail.replaceChildren(...body.traces.map((trace) => renderTrace(trace, body.vocabulary)));
  for (const view of detail.querySelectorAll('.trace-view')) drawRefs(view);
}

function spanDepths(spans) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = new Map();
  const of = (s) => {
    if (depth.has(s.spanId)) return depth.get(s.spanId);
    const parent = byId.get(s.parentSpanId);
    const d = parent && parent !== s ? of(parent) + 1 : 0;
    depth.set(s.spanId, d);
    return d;
  };
  for (const s of spans) of(s);
  return depth;
}

function renderTrace(trace, vocabulary) {
  const segments = [...trace.segments].sort((a, b) => (a.spans[0]?.startTime ?? 0) - (b.spans[0]?.startTime ?? 0));
  const spans = segments.flatMap((s) => s.spans);
  const t0 = Math.min(...spans.map((s) => s.startTime));
  const t1 = Math.max(...spans.map((s) => s.endTime));
  const total = Math.max(1, t1 - t0);
  const known = new Set(segments.map((s) => s.traceSegmentId));

  const waterfall = el(
    'div',
    { class: 'waterfall' },
    el('div', { class: 'axis' }, el('span', {}, '0 ms'), el('span', {}, formatMs(total / 2)), el('span', {}, formatMs(total))),
    segments.map((segment) => renderSegment(segment, { t0, total, vocabulary, known })),
  );
  const refsLayer = svg('svg', { class: 'refs', 'aria-label': 'refs between segments' });
  const view = el(
    'section',
    { class: 'trace-view', dataset: { traceId: trace.traceId } },
    el(
      'header',
      { class: 'trace-head' },
      el('h2', {}, 'Trace ', el('code', {}, trace.traceId)),
      el(
        'p',
        { class: 'muted' },
        `${segments.length} segments from ${new Set(segments.map((s) => s.service)).size} services, ${trace.sources.length} source spans, built by ${trace.assembler} at ${clockTime(trace.lastMs)}`,
        trace.truncated ? ' · truncated (telemetry.trace_view.max_spans_per_trace)' : '',
      ),
    ),
    el(
      'div',
      { class: 'columns' },
      el('div', { class: 'waterfall-wrap' }, el('h3', {}, 'Segments (as sent to SkyWalking)'), el('div', { class: 'waterfall-area' }, refsLayer, waterfall)),
      renderSources(trace),
    ),
  );
  linkHighlights(view);
  return view;
}

function renderSegment(segment, ctx) {
  const depths = spanDepths(segment.spans);
  const hue = serviceHue(segment.service);
  const rows = [...segment.spans].sort((a, b) => a.spanId - b.spanId).map((span) => renderSpan(segment, span, depths.get(span.spanId), ctx));
  const refs = segment.spans.flatMap((span) => span.refs.map((ref) => ({ span, ref })));
  return el(
    'section',
    { class: 'segment', style: `--hue:${hue}`, dataset: { segmentId: segment.traceSegmentId, service: segment.service } },
    el(
      'header',
      { class: 'segment-head' },
      serviceChip(segment.service),
      el('span', { class: 'instance' }, segment.serviceInstance),
      el('code', { class: 'id', title: 'segment id' }, segment.traceSegmentId),
      segment.traceId !== undefined ? el('span', { class: 'muted sw-trace', title: 'SkyWalking trace id' }, `trace ${segment.traceId}`) : null,
    ),
    refs.map(({ span, ref }) =>
      el(
        'p',
        {
          class: 'ref-text',
          dataset: { parentSegment: ref.parentTraceSegmentId, parentSpan: ref.parentSpanId, childSpan: span.spanId, refType: ctx.vocabulary.refType[ref.refType] ?? ref.refType },
        },
        `↳ span ${span.spanId} ${ctx.vocabulary.refType[ref.refType] ?? ref.refType} ref from ${ref.parentService} `,
        el('code', {}, `${ref.parentTraceSegmentId.slice(0, 16)}…/${ref.parentSpanId}`),
        ` (${ref.parentEndpoint})`,
        ref.networkAddressUsedAtPeer ? ` via ${ref.networkAddressUsedAtPeer}` : '',
        ctx.known.has(ref.parentTraceSegmentId) ? '' : el('span', { class: 'badge' }, 'parent not kept here'),
      ),
    ),
    el('div', { class: 'rows' }, rows),
  );
}

function renderSpan(segment, span, depth, { t0, total, vocabulary }) {
  const type = vocabulary.spanType[span.spanType] ?? String(span.spanType);
  const layer = vocabulary.spanLayer[span.spanLayer] ?? String(span.spanLayer);
  const component = vocabulary.component[span.componentId] ?? `component ${span.componentId}`;
  const left = ((span.startTime - t0) / total) * 100;
  const width = Math.max(0.4, ((span.endTime - span.startTime) / total) * 100);
  const tags = el(
    'dl',
    { class: 'tags', hidden: true },
    span.tags.map((t) => [el('dt', {}, t.key), el('dd', {}, t.value)]),
    span.logs.map((log) => [el('dt', {}, `log @${formatMs(log.time - t0)}`), el('dd', {}, log.data.map((d) => `${d.key}=${d.value}`).join(' '))]),
  );
  const row = el(
    'div',
    {
      class: `span-row${span.isError ? ' error' : ''}`,
      dataset: { segmentId: segment.traceSegmentId, spanId: span.spanId, type },
      tabindex: 0,
      title: 'Click for tags',
    },
    el(
      'div',
      { class: 'label', style: `padding-left:${depth * 14}px` },
      el('span', { class: `type type-${type.toLowerCase()}` }, type),
      el('span', { class: 'op' }, span.operationName),
      el('span', { class: 'attrs' }, [`layer ${layer}`, `component ${component}`, span.peer ? `peer ${span.peer}` : null].filter(Boolean).join(' · ')),
    ),
    el('div', { class: 'track' }, el('div', { class: 'bar', style: `left:${left}%;width:${width}%` }), durationLabel(span, left, width)),
  );
  row.addEventListener('click', () => {
    tags.hidden = !tags.hidden;
    row.classList.toggle('open', !tags.hidden);
    const view = row.closest('.trace-view');
    if (view) drawRefs(view);
  });
  return el('div', { class: 'span' }, row, tags);
}

/** The duration beside a bar, or inside it (right-aligned) when the bar reaches the right edge. */
function durationLabel(span, left, width) {
  const text = formatMs(span.endTime - span.startTime);
  if (left + width > 80 && width > 12) return el('span', { class: 'dur inside', style: `right:${100 - left - width}%` }, text);
  return el('span', { class: 'dur', style: `left:${left + width}%` }, text);
}

function shortId(id) {
  return id ? id.slice(0, 8) : '—';
}

const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

function renderSources(trace) {
  const sorted = [...trace.sources].sort((a, b) => (BigInt(a.span.startTimeUnixNano) < BigInt(b.span.startTimeUnixNano) ? -1 : 1));
  return el(
    'div',
    { class: 'sources' },
    el('h3', {}, 'Source spans (as decoded)'),
    el(
      'table',
      {},
      el('thead', {}, el('tr', {}, ['service', 'name', 'kind', 'span ← parent', 'became'].map((h) => el('th', {}, h)))),
      el(
        'tbody',
        {},
        sorted.map((s) => {
          const attrs = el(
            'tr',
            { class: 'source-attrs', hidden: true },
            el('td', { colspan: 5 }, el('pre', {}, JSON.stringify({ attributes: s.span.attributes, status: s.span.status, flags: s.span.flags, scope: s.scope, links: s.span.links, events: s.span.events }, null, 1))),
          );
          const row = el(
            'tr',
            {
              class: `source${s.span.status?.code === 2 ? ' error' : ''}`,
              dataset: { spanId: s.span.spanId, segmentId: s.placement?.segmentId ?? '', swSpanId: s.placement?.spanId ?? '' },
              title: 'Click for attributes',
            },
            el('td', {}, serviceChip(s.service)),
            el('td', {}, s.span.name),
            el('td', {}, KINDS[s.span.kind] ?? s.span.kind),
            el('td', { class: 'ids' }, el('code', { title: s.span.spanId }, shortId(s.span.spanId)), ' ← ', el('code', { title: s.span.parentSpanId }, shortId(s.span.parentSpanId))),
            el('td', {}, s.placement ? el('code', { title: s.placement.segmentId }, `${shortId(s.placement.segmentId)}…/${s.placement.spanId}`) : '—'),
          );
          row.addEventListener('click', () => (attrs.hidden = !attrs.hidden));
          return [row, attrs];
        }),
      ),
    ),
  );
}

/** Hovering a segment span lights up the source span it came from, and the other way round. */
function linkHighlights(view) {
  const light = (segmentId, spanId, on) => {
    for (const node of view.querySelectorAll(`.span-row[data-segment-id="${segmentId}"][data-span-id="${spanId}"], tr.source[data-segment-id="${segmentId}"][data-sw-span-id="${spanId}"]`)) {
      node.classList.toggle('lit', on);
    }
  };
  for (const type of ['mouseover', 'mouseout']) {
    view.addEventListener(type, (event) => {
      const node = event.target.closest?.('.span-row, tr.source');
      if (!node || !node.dataset.segmentId) return;
      const spanId = node.dataset.spanId !== undefined && node.classList.contains('span-row') ? node.dataset.spanId : node.dataset.swSpanId;
      light(node.dataset.segmentId, spanId, type === 'mouseover');
    });
  }
}

/**
 * One arrow per ref whose parent segment is on the page, in the gutter left of the waterfall:
 * from the parent span's row to the row of the span holding the ref.
 */
function drawRefs(view) {
  const layer = view.querySelector('svg.refs');
  const area = view.querySelector('.waterfall-area');
  if (!layer || !area) return;
  const box = area.getBoundingClientRect();
  layer.setAttribute('width', String(area.clientWidth));
  layer.setAttribute('height', String(area.scrollHeight));
  const defs = svg('defs', {});
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
  defs.append(marker);
  layer.replaceChildren(defs);
  const rowY = (segmentId, spanId) => {
    const row = area.querySelector(`.span-row[data-segment-id="${segmentId}"][data-span-id="${spanId}"]`);
    if (!row) return undefined;
    const r = row.getBoundingClientRect();
    return r.top - box.top + r.height / 2;
  };
  let lane = 0;
  for (const segment of area.querySelectorAll('section.segment')) {
    const childSegment = segment.dataset.segmentId;
    for (const text of segment.querySelectorAll('.ref-text')) {
      const parentSegment = text.dataset.parentSegment;
      const parentSpan = text.dataset.parentSpan;
      const y1 = rowY(parentSegment, parentSpan);
      const childSpan = text.dataset.childSpan;
      const y2 = rowY(childSegment, childSpan);
      if (y1 === undefined || y2 === undefined) continue;
      const x = 34;
      const bend = 10 + (lane++ % 3) * 8;
      const path = svg('path', {
        class: `ref ${text.dataset.refType === 'CrossThread' ? 'cross-thread' : 'cross-process'}`,
        d: `M ${x} ${y1} C ${x - bend} ${y1}, ${x - bend} ${y2}, ${x} ${y2}`,
        'marker-end': 'url(#arrow)',
        'data-parent-segment': parentSegment,
        'data-parent-span': parentSpan,
        'data-child-segment': childSegment,
        'data-child-span': childSpan,
      });
      const title = svg('title', {});
      title.textContent = text.textContent;
      path.append(title);
      layer.append(path);
    }
  }
}

// ---- start ---------------------------------------------------------------------------------

document.getElementById('search').addEventListener('submit', onSearch);
window.addEventListener('resize', () => {
  for (const view of document.querySelectorAll('.trace-view')) drawRefs(view);
});
const linked = /^#trace=(.+)$/.exec(location.hash);
refreshList()
  .then(() => (linked ? openTrace(decodeURIComponent(linked[1])) : undefined))
  .catch(showError);
setInterval(() => {
  if (!document.hidden) refreshList().catch(showError);
}, LIST_REFRESH_MS);
