/**
 * The one internal span model. Every receiver decodes into it; nothing downstream knows which wire
 * protocol a span came from except through attributes. It mirrors OTLP's shape
 * (resource → scope → spans) so OTLP decodes straight into it and re-encodes losslessly for Kafka.
 *
 * Ids are lower-case hex strings: they are map keys in the trace buffer, and OTLP/JSON, Zipkin and
 * Jaeger all carry hex already. Times are unix nanoseconds as bigint because an epoch in nanoseconds
 * does not fit a double exactly.
 */

/** OTLP AnyValue. Integers decode to `number` when they fit a double exactly, else `bigint`. */
export type AttributeValue =
  | string
  | boolean
  | number
  | bigint
  | Uint8Array
  | AttributeValue[]
  | { readonly [key: string]: AttributeValue };

export type Attributes = Record<string, AttributeValue>;

/** OTLP SpanKind numbering (opentelemetry.proto.trace.v1.Span.SpanKind). */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;
export type SpanKind = (typeof SpanKind)[keyof typeof SpanKind];

/** OTLP Status.StatusCode numbering. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

/** OTLP span flags: low 8 bits are W3C trace flags; these two say whether the parent is remote. */
export const SpanFlags = {
  SAMPLED: 0x01,
  CONTEXT_HAS_IS_REMOTE: 0x100,
  CONTEXT_IS_REMOTE: 0x200,
} as const;

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attributes;
  droppedAttributesCount: number;
  flags: number;
}

export interface SpanStatus {
  code: StatusCode;
  message: string;
}

export interface Span {
  /** 32 lower-case hex chars. */
  traceId: string;
  /** 16 lower-case hex chars. */
  spanId: string;
  /** 16 lower-case hex chars, or '' for a root span. */
  parentSpanId: string;
  traceState: string;
  /** OTLP Span.flags (fixed32); 0 when the sender did not set any. */
  flags: number;
  name: string;
  kind: SpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status: SpanStatus;
}

export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface ScopeSpans {
  scope: InstrumentationScope;
  spans: Span[];
  schemaUrl: string;
}

export interface Resource {
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface ResourceSpans {
  resource: Resource;
  scopeSpans: ScopeSpans[];
  schemaUrl: string;
}

/** What travels between pipeline stages. */
export interface SpanBatch {
  resourceSpans: ResourceSpans[];
}

/** The distinct trace ids of a batch's spans. */
export function traceIdsOf(batch: SpanBatch): Set<string> {
  const ids = new Set<string>();
  for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) ids.add(span.traceId);
  return ids;
}

export function countSpans(batch: SpanBatch): number {
  let n = 0;
  for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

/**
 * What most spans carry: no events, no links, an unset status. Decoders share these frozen values
 * instead of allocating them per span, because the trace assembler holds every span through a quiet
 * period and each object it holds is copied and marked by the GC (bench/README.md, "Stage costs").
 * Frozen, so a stage that tried to change one in place would throw instead of changing every span.
 */
export const NO_EVENTS = Object.freeze([]) as unknown as SpanEvent[];
export const NO_LINKS = Object.freeze([]) as unknown as SpanLink[];
export const UNSET_STATUS: SpanStatus = Object.freeze({ code: StatusCode.UNSET, message: '' });

export function emptyScope(): InstrumentationScope {
  return { name: '', version: '', attributes: {}, droppedAttributesCount: 0 };
}

export function emptyResource(): Resource {
  return { attributes: {}, droppedAttributesCount: 0 };
}

/** Deep copy for fan-out to a consumer that mutates. Attribute values are immutable and shared. */
export function cloneBatch(batch: SpanBatch): SpanBatch {
  return {
    resourceSpans: batch.resourceSpans.map((rs) => ({
      resource: { attributes: { ...rs.resource.attributes }, droppedAttributesCount: rs.resource.droppedAttributesCount },
      schemaUrl: rs.schemaUrl,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: { ...ss.scope, attributes: { ...ss.scope.attributes } },
        schemaUrl: ss.schemaUrl,
        spans: ss.spans.map((s) => ({
          ...s,
          attributes: { ...s.attributes },
          events: s.events.map((e) => ({ ...e, attributes: { ...e.attributes } })),
          links: s.links.map((l) => ({ ...l, attributes: { ...l.attributes } })),
          status: { ...s.status },
        })),
      })),
    })),
  };
}
