/**
 * What the status page shows, built from one reading of the metrics (prometheus-text.ts) and the
 * pipelines (topology.ts). Counter totals go through a RateHistory, so every flow carries its
 * total and its per-second rate. Only this module knows metric names; the browser gets plain JSON.
 */
import type { Sample } from './prometheus-text.ts';
import type { RateHistory } from './rate-history.ts';
import type { ComponentKind, Topology, TopologyPipeline } from './topology.ts';

export interface Flow {
  total: number;
  /** Per second over the rate window; null until there are two samples. */
  rate: number | null;
}

export interface ReasonFlow extends Flow {
  reason: string;
}

export interface DropFlow extends ReasonFlow {
  component: string;
  /** Policy (sampling, duplicates), not a loss. */
  intentional: boolean;
}

export interface ComponentStatus {
  key: string;
  kind: ComponentKind;
  id: string;
  type: string;
  /** Processors only: one per pipeline that lists them. */
  pipeline?: string;
  /** receiver: in; processor: in, out; exporter: in, spans_out, segments_out. */
  flows: Record<string, Flow>;
  /** Receivers: spans answered with an error, by reason. */
  refused: ReasonFlow[];
  dropped: DropFlow[];
  /** Exporters: failed send attempts (segments), by status. */
  failed: ReasonFlow[];
  queues: { queue: string; size: number; capacity: number | null }[];
  /** gRPC exporters: the channel's state, and with worker threads how many are in each. */
  connection?: { state: string; threads: Record<string, number> };
  lastError?: { message: string; at: number };
  instances?: { count: number; recent: { service: string; instance: string; lastSeen: number }[] };
}

export interface StatusSnapshot {
  at: number;
  workers: number;
  rateWindowSeconds: number | null;
  totals: { received: Flow; refused: Flow; exportedSpans: Flow; exportedSegments: Flow; lost: Flow; intentional: Flow };
  pipelines: TopologyPipeline[];
  components: Record<string, ComponentStatus>;
  admission: {
    heldBytes: number;
    limitBytes: number | null;
    heldSpans: number;
    limitSpans: number | null;
    holders: { holder: string; bytes: number; spans: number }[];
  };
  /** Every queue and buffer, under the component label it is reported with. */
  queues: { component: string; queue: string; size: number; capacity: number | null }[];
  /** Every drop, including those of components no pipeline draws. */
  drops: DropFlow[];
}

export const componentKey = (kind: ComponentKind, id: string, pipeline?: string): string =>
  pipeline === undefined ? `${kind}:${id}` : `${kind}:${pipeline}:${id}`;

/** Worst first: the state a component with threads in several states is shown in. */
const CONNECTION_STATES = ['transient_failure', 'connecting', 'idle', 'ready', 'shutdown'];

/** A label's wanted value, or a test of it. */
type Labels = Record<string, string | ((value: string) => boolean)>;

/**
 * Segment exporters of one pipeline with the same assembly share one trace assembler, whose metrics
 * carry the ids joined by '+' (and '@pipeline' when the exporters serve several): `skywalking+debug`.
 * What it counts belongs to each exporter of the group.
 */
export function ownedBy(id: string): (component: string) => boolean {
  return (component) => component === id || component.replace(/@[^@]*$/, '').split('+').includes(id);
}

/** The samples of one reading, by metric name. */
class Readings {
  readonly #byName = new Map<string, Sample[]>();

  constructor(samples: readonly Sample[]) {
    for (const s of samples) {
      const list = this.#byName.get(s.name);
      if (list) list.push(s);
      else this.#byName.set(s.name, [s]);
    }
  }

  all(name: string, where: Labels = {}): Sample[] {
    return (this.#byName.get(name) ?? []).filter((s) =>
      Object.entries(where).every(([k, want]) => (typeof want === 'string' ? s.labels[k] === want : want(s.labels[k] ?? ''))));
  }

  sum(name: string, where: Labels = {}): number {
    return this.all(name, where).reduce((total, s) => total + s.value, 0);
  }

  /** Sums by one label's value. */
  sumBy(name: string, label: string, where: Labels = {}): Map<string, number> {
    const sums = new Map<string, number>();
    for (const s of this.all(name, where)) sums.set(s.labels[label] ?? '', (sums.get(s.labels[label] ?? '') ?? 0) + s.value);
    return sums;
  }

  single(name: string): number | null {
    const [first] = this.all(name);
    return first === undefined ? null : first.value;
  }
}

/** Collects counter totals while the snapshot is built, then fills in their rates. */
class FlowRecorder {
  readonly totals = new Map<string, number>();
  readonly #flows: [string, Flow][] = [];

  /** A flow (with `fields` beside total and rate): the object returned is the one whose rate is filled in. */
  flow<T extends object>(key: string, total: number, fields?: T): Flow & T {
    const flow = { ...fields, total, rate: null } as Flow & T;
    this.totals.set(key, total);
    this.#flows.push([key, flow]);
    return flow;
  }

  fillRates(history: RateHistory): void {
    for (const [key, flow] of this.#flows) flow.rate = history.rate(key);
  }
}

export interface SnapshotInput {
  at: number;
  samples: readonly Sample[];
  topology: Topology;
  workers: number;
  history: RateHistory;
}

export function buildSnapshot({ at, samples, topology, workers, history }: SnapshotInput): StatusSnapshot {
  const m = new Readings(samples);
  const rec = new FlowRecorder();
  const components: Record<string, ComponentStatus> = {};
  const byReason = (key: string, sums: Map<string, number>): ReasonFlow[] =>
    [...sums].map(([reason, total]) => rec.flow(`${key}:${reason}`, total, { reason }));

  const queues = allQueues(m);
  const drops: DropFlow[] = m.all('skybridge_dropped_spans_total').map((s) =>
    rec.flow(`drop:${s.labels.component}:${s.labels.reason}:${s.labels.intentional}`, s.value, {
      component: s.labels.component ?? '',
      reason: s.labels.reason ?? '',
      intentional: s.labels.intentional === 'true',
    }));
  const add = (kind: ComponentKind, id: string, pipeline?: string): ComponentStatus => {
    const key = componentKey(kind, id, pipeline);
    // A processor in several pipelines is one instance per pipeline, reporting as `id@pipeline`.
    const label = kind === 'processor' && pipeline !== undefined && topology.pipelines.length > 1 ? `${id}@${pipeline}` : id;
    const owned = ownedBy(label);
    const status: ComponentStatus = {
      key, kind, id, type: topology.types[kind][id] ?? id, ...(pipeline === undefined ? {} : { pipeline }),
      flows: {}, refused: [], dropped: drops.filter((d) => owned(d.component)), failed: [], queues: nodeQueues(queues, label),
    };
    const lastError = lastErrorOf(m, label);
    if (lastError) status.lastError = lastError;
    components[key] = status;
    return status;
  };

  for (const p of topology.pipelines) {
    for (const id of p.receivers) {
      if (components[componentKey('receiver', id)]) continue;
      const r = add('receiver', id);
      r.flows.in = rec.flow(`${r.key}:in`, m.sum('skybridge_receiver_accepted_spans_total', { component: id }));
      r.refused = byReason(`${r.key}:refused`, m.sumBy('skybridge_receiver_refused_spans_total', 'reason', { component: id }));
    }
    for (const id of p.processors) {
      const proc = add('processor', id, p.id);
      const where = { component: id, pipeline: p.id };
      proc.flows.in = rec.flow(`${proc.key}:in`, m.sum('skybridge_processor_incoming_spans_total', where));
      proc.flows.out = rec.flow(`${proc.key}:out`, m.sum('skybridge_processor_outgoing_spans_total', where));
    }
    for (const id of p.exporters) {
      if (components[componentKey('exporter', id)]) continue;
      const e = add('exporter', id);
      const where = { component: ownedBy(id) };
      e.flows.in = rec.flow(`${e.key}:in`, m.sum('skybridge_exporter_incoming_spans_total', where));
      e.flows.spans_out = rec.flow(`${e.key}:spans_out`, m.sum('skybridge_exporter_sent_spans_total', where));
      e.flows.segments_out = rec.flow(`${e.key}:segments_out`, m.sum('skybridge_exporter_sent_segments_total', where));
      e.failed = byReason(`${e.key}:failed`, m.sumBy('skybridge_exporter_send_failed_segments_total', 'reason', where));
      const connection = connectionOf(m, id);
      if (connection) e.connection = connection;
      const instances = instancesOf(m, id);
      if (instances) e.instances = instances;
    }
  }

  const receivers = Object.values(components).filter((c) => c.kind === 'receiver');
  const exporters = Object.values(components).filter((c) => c.kind === 'exporter');
  const sumOf = (list: { total: number }[]) => list.reduce((t, x) => t + x.total, 0);
  const totals = {
    received: rec.flow('total:received', sumOf(receivers.map((r) => r.flows.in!))),
    refused: rec.flow('total:refused', sumOf(receivers.flatMap((r) => r.refused))),
    exportedSpans: rec.flow('total:spans_out', sumOf(exporters.map((e) => e.flows.spans_out!))),
    exportedSegments: rec.flow('total:segments_out', sumOf(exporters.map((e) => e.flows.segments_out!))),
    lost: rec.flow('total:lost', sumOf(drops.filter((d) => !d.intentional))),
    intentional: rec.flow('total:intentional', sumOf(drops.filter((d) => d.intentional))),
  };

  history.add(at, rec.totals);
  rec.fillRates(history);
  return {
    at,
    workers,
    rateWindowSeconds: history.windowSeconds(),
    totals,
    pipelines: topology.pipelines,
    components,
    admission: admissionOf(m),
    queues,
    drops,
  };
}

/**
 * Every queue and buffer, by the component label it is reported under. An exporter whose trace
 * assembler is shared (ownedBy) keeps an idle one of its own; the shared one stands in for it.
 */
function allQueues(m: Readings): StatusSnapshot['queues'] {
  const capacity = (component: string, queue: string) => m.all('skybridge_queue_capacity', { component, queue })[0]?.value ?? null;
  const queues = m.all('skybridge_queue_size').map((s) => {
    const component = s.labels.component ?? '';
    const queue = s.labels.queue ?? '';
    return { component, queue, size: s.value, capacity: capacity(component, queue) };
  });
  return queues.filter((q) => !queues.some((shared) => shared.queue === q.queue && shared.component !== q.component && ownedBy(q.component)(shared.component)));
}

function nodeQueues(queues: StatusSnapshot['queues'], id: string): ComponentStatus['queues'] {
  const owned = ownedBy(id);
  return queues.filter((q) => owned(q.component)).map(({ queue, size, capacity }) => ({ queue, size, capacity }));
}

function lastErrorOf(m: Readings, component: string): ComponentStatus['lastError'] {
  let latest: Sample | undefined;
  for (const s of m.all('skybridge_component_last_error_timestamp_seconds', { component })) {
    if (latest === undefined || s.value > latest.value) latest = s;
  }
  return latest && { message: latest.labels.message ?? '', at: latest.value * 1000 };
}

function connectionOf(m: Readings, component: string): ComponentStatus['connection'] {
  const threads = Object.fromEntries([...m.sumBy('skybridge_exporter_connection_state', 'state', { component })].filter(([, n]) => n > 0));
  const state = CONNECTION_STATES.find((s) => (threads[s] ?? 0) > 0);
  return state === undefined ? undefined : { state, threads };
}

function instancesOf(m: Readings, component: string): ComponentStatus['instances'] {
  // Only exporters that keep instances alive report the gauge at all.
  if (m.all('skybridge_exporter_instances', { component }).length === 0) return undefined;
  const recent = m.all('skybridge_exporter_recent_instance_seen_timestamp_seconds', { component })
    .map((s) => ({ service: s.labels.service ?? '', instance: s.labels.instance ?? '', lastSeen: s.value * 1000 }))
    .sort((a, b) => b.lastSeen - a.lastSeen);
  return { count: m.sum('skybridge_exporter_instances', { component }), recent };
}

function admissionOf(m: Readings): StatusSnapshot['admission'] {
  const spans = m.sumBy('skybridge_admission_held_spans', 'holder');
  const holders = [...m.sumBy('skybridge_admission_held_bytes', 'holder')].map(([holder, bytes]) => ({ holder, bytes, spans: spans.get(holder) ?? 0 }));
  return {
    heldBytes: m.sum('skybridge_admission_held_bytes'),
    limitBytes: m.single('skybridge_admission_limit_bytes'),
    heldSpans: m.sum('skybridge_admission_held_spans'),
    limitSpans: m.single('skybridge_admission_limit_spans'),
    holders: holders.sort((a, b) => b.bytes - a.bytes),
  };
}
