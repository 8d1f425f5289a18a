/**
 * Normalised segment shapes for the golden comparison (agent-vs-skybridge.test.ts): what must be
 * the same whether a service is instrumented by the SkyWalking Node agent or by OpenTelemetry
 * through skybridge, with everything that legitimately varies per run (ids, times, ports, the
 * order spans were archived in) taken out.
 */
import type { DecodedSegment, DecodedSpan } from '../../support/oap-rules.ts';

export const SPAN_TYPES = ['Entry', 'Exit', 'Local'] as const;
export const SPAN_LAYERS = ['Unknown', 'Database', 'RPCFramework', 'Http', 'MQ', 'Cache', 'FAAS', 'GenAI'] as const;
const REF_TYPES = ['CrossProcess', 'CrossThread'] as const;

/**
 * Component ids that name the same library role (component-libraries.yml). Shapes carry the role,
 * so a documented equivalent (e.g. the Node-only `HttpServer` 4001 for the generic `http` 49) is
 * not a difference; the raw ids are still compared, under field `componentId`.
 */
export const COMPONENT_ROLES: Readonly<Record<number, string>> = {
  49: 'http-server', // `http`: the Node agent's HTTP_SERVER and ours
  4001: 'http-server', // `HttpServer` (Node.js)
  2: 'http-client', // `HttpClient`: the Node agent's HTTP and ours
  7: 'redis', // `Redis`: the Node agent's IORedis plugin and ours
  52: 'rabbitmq-producer',
  53: 'rabbitmq-consumer',
  40: 'kafka-producer',
  41: 'kafka-consumer',
};

export function componentRole(id: number): string {
  return COMPONENT_ROLES[id] ?? `component-${id}`;
}

export interface RefShape {
  refType: string;
  parentService: string;
  /** `service:spanKey` of the span the ref points at, '?' when that segment is not in the trace. */
  parentSpan: string;
  /** Whether parentEndpoint is filled (its value is checked separately). */
  parentEndpoint: 'set' | 'empty';
  networkAddressUsedAtPeer: string;
}

export interface SpanShape {
  /** `Type/Layer/role`, with `#n` for the n-th repeat in a segment: how spans are paired up. */
  key: string;
  componentId: number;
  operationName: string;
  peer: string;
  /** Key of the parent span in the segment, '-' for span 0. */
  parent: string;
  isError: boolean;
  tagKeys: string[];
  refs: RefShape[];
}

export interface SegmentShape {
  service: string;
  /** Key of span 0. */
  key: string;
  spans: SpanShape[];
}

/** service → its segments in one trace, sorted by key. */
export type TraceShape = Record<string, SegmentShape[]>;

export interface Normaliser {
  /** host:port values that differ per run → stable placeholders. */
  address(value: string): string;
  /** Operation names with per-run names (exchange, topic) → placeholders. */
  operation(value: string): string;
}

function baseKey(span: DecodedSpan): string {
  return `${SPAN_TYPES[span.spantype] ?? span.spantype}/${SPAN_LAYERS[span.spanlayer] ?? span.spanlayer}/${componentRole(span.componentid)}`;
}

/** Keys for every span of a segment, repeats numbered in span-id order. */
function spanKeys(segment: DecodedSegment): Map<number, string> {
  const keys = new Map<number, string>();
  const seen = new Map<string, number>();
  for (const span of [...segment.spansList].sort((a, b) => a.spanid - b.spanid)) {
    const base = baseKey(span);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    keys.set(span.spanid, n === 1 ? base : `${base}#${n}`);
  }
  return keys;
}

/** The shapes of one trace's segments. `segments` should hold this trace's segments only. */
export function traceShape(segments: readonly DecodedSegment[], norm: Normaliser): TraceShape {
  const keysBySegment = new Map(segments.map((s) => [s.tracesegmentid, spanKeys(s)]));
  const bySegmentId = new Map(segments.map((s) => [s.tracesegmentid, s]));
  const shape: TraceShape = {};
  for (const segment of segments) {
    const keys = keysBySegment.get(segment.tracesegmentid)!;
    const spans: SpanShape[] = segment.spansList.map((span) => ({
      key: keys.get(span.spanid)!,
      componentId: span.componentid,
      operationName: norm.operation(span.operationname),
      peer: norm.address(span.peer),
      parent: span.spanid === 0 ? '-' : keys.get(span.parentspanid) ?? `?${span.parentspanid}`,
      isError: span.iserror,
      tagKeys: [...new Set(span.tagsList.map((t) => t.key))].sort(),
      refs: span.refsList.map((ref) => {
        const parent = bySegmentId.get(ref.parenttracesegmentid);
        const parentKey = parent && keysBySegment.get(parent.tracesegmentid)!.get(ref.parentspanid);
        return {
          refType: REF_TYPES[ref.reftype] ?? String(ref.reftype),
          parentService: ref.parentservice,
          parentSpan: parent && parentKey ? `${parent.service}:${parentKey}` : '?',
          parentEndpoint: ref.parentendpoint ? 'set' : 'empty',
          networkAddressUsedAtPeer: norm.address(ref.networkaddressusedatpeer),
        };
      }),
    }));
    spans.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    (shape[segment.service] ??= []).push({ service: segment.service, key: keys.get(0) ?? '?', spans });
  }
  for (const list of Object.values(shape)) {
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    // Several segments of one service with the same first span (two calls into it): number them.
    const seen = new Map<string, number>();
    for (const seg of list) {
      const n = (seen.get(seg.key) ?? 0) + 1;
      seen.set(seg.key, n);
      if (n > 1) seg.key = `${seg.key}#${n}`;
    }
  }
  return shape;
}

/** One field where the two variants disagree. `agent` / `ours` are display strings. */
export interface Difference {
  service: string;
  /** Key of the segment's span 0. */
  segment: string;
  /** Key of the span ('' for a whole segment). */
  span: string;
  /** `segment`, `span`, `operationName`, `peer`, `componentId`, `parent`, `isError`, `tag:<key>`, `refs`, `ref.<field>`. */
  field: string;
  agent: string;
  ours: string;
}

export const ABSENT = '(absent)';
export const PRESENT = '(present)';

function pairUp<T extends { key: string }>(a: readonly T[], b: readonly T[]): [string, T | undefined, T | undefined][] {
  const keys = [...new Set([...a.map((x) => x.key), ...b.map((x) => x.key)])].sort();
  return keys.map((k) => [k, a.find((x) => x.key === k), b.find((x) => x.key === k)]);
}

/** One line per segment and its span keys, e.g. `orders: Entry/Http/http-server [Exit/Cache/redis, ...]`. */
export function summarise(shape: TraceShape): string[] {
  return Object.entries(shape)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([service, segments]) => segments.map((seg) => `${service}: ${seg.key} [${seg.spans.map((s) => s.key).join(', ')}]`));
}

/** Every field in which `ours` differs from `agent` (the reference). */
export function diffTraces(agent: TraceShape, ours: TraceShape): Difference[] {
  const out: Difference[] = [];
  const services = [...new Set([...Object.keys(agent), ...Object.keys(ours)])].sort();
  for (const service of services) {
    for (const [segKey, a, o] of pairUp(agent[service] ?? [], ours[service] ?? [])) {
      const at = (span: string, field: string, av: unknown, ov: unknown) =>
        out.push({ service, segment: segKey, span, field, agent: String(av), ours: String(ov) });
      if (!a || !o) {
        at('', 'segment', a ? PRESENT : ABSENT, o ? PRESENT : ABSENT);
        continue;
      }
      for (const [spanKey, as, os] of pairUp(a.spans, o.spans)) {
        if (!as || !os) {
          at(spanKey, 'span', as ? `${PRESENT} ${as.operationName}` : ABSENT, os ? `${PRESENT} ${os.operationName}` : ABSENT);
          continue;
        }
        for (const field of ['componentId', 'operationName', 'peer', 'parent', 'isError'] as const) {
          if (as[field] !== os[field]) at(spanKey, field, as[field], os[field]);
        }
        for (const key of [...new Set([...as.tagKeys, ...os.tagKeys])].sort()) {
          const inA = as.tagKeys.includes(key);
          const inO = os.tagKeys.includes(key);
          if (inA !== inO) at(spanKey, `tag:${key}`, inA ? PRESENT : ABSENT, inO ? PRESENT : ABSENT);
        }
        if (as.refs.length !== os.refs.length) {
          at(spanKey, 'refs', as.refs.length, os.refs.length);
          continue;
        }
        as.refs.forEach((ar, i) => {
          const or = os.refs[i]!;
          for (const f of Object.keys(ar) as (keyof RefShape)[]) if (ar[f] !== or[f]) at(spanKey, `ref.${f}`, ar[f] || '""', or[f] || '""');
        });
      }
    }
  }
  return out;
}

export function describeDifference(d: Difference): string {
  return `${d.service} [${d.segment}] ${d.span || '(segment)'} ${d.field}: agent ${d.agent}, ours ${d.ours}`;
}

/** A difference the test expects, with the reason (mirrored in docs/translation.md). */
export interface NamedDifference {
  name: string;
  /** `intended`: by design, documented. `reported`: a translation bug reported to core/segments' owner. */
  kind: 'intended' | 'reported';
  reason: string;
  matches(d: Difference): boolean;
}

/**
 * Splits differences into explained (by the first named difference that matches) and unexplained;
 * also returns the named differences nothing matched (stale entries).
 */
export function explain(diffs: readonly Difference[], named: readonly NamedDifference[]) {
  const used = new Set<string>();
  const unexplained: Difference[] = [];
  const explained = new Map<string, Difference[]>();
  for (const d of diffs) {
    const n = named.find((x) => x.matches(d));
    if (!n) {
      unexplained.push(d);
      continue;
    }
    used.add(n.name);
    explained.set(n.name, [...(explained.get(n.name) ?? []), d]);
  }
  return { unexplained, explained, unused: named.filter((n) => !used.has(n.name)) };
}
