/**
 * Encodes a SpanBatch as OTLP `ExportTraceServiceRequest` protobuf bytes, the inverse of
 * `receivers/otlp/decode-protobuf.ts`. Kafka between tiers carries these bytes (docs/wire-formats.md "Kafka between tiers"), so an
 * OpenTelemetry Collector can read what skybridge writes; the benchmark uses it to build its load.
 *
 * Field numbers follow opentelemetry-proto (docs/wire-formats.md). Each tag below is written as the
 * wire tag `(field_number << 3) | wire_type`, the same numbers the decoder's `case` labels use.
 * Fields holding their proto3 default (empty string, 0, empty id) are left out, as protobuf's own
 * serializers do: a reader cannot tell them from absent ones, and they cost bytes on every span.
 */
import protobuf from 'protobufjs/minimal.js';
import type {
  AttributeValue,
  Attributes,
  InstrumentationScope,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  SpanBatch,
  SpanEvent,
  SpanLink,
  SpanStatus,
} from './span-batch.ts';

type Writer = protobuf.Writer;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
// Powers of two, so both bounds are exact doubles and the comparison is exact.
const INT64_MIN_NUMBER = -(2 ** 63);
const INT64_LIMIT_NUMBER = 2 ** 63;

/** Encodes `batch` as one ExportTraceServiceRequest. Never throws for a well-formed SpanBatch. */
export function encodeExportTraceServiceRequest(batch: SpanBatch): Uint8Array {
  const w = protobuf.Writer.create();
  for (const rs of batch.resourceSpans) {
    w.uint32(10).fork(); // 1 resource_spans
    resourceSpans(w, rs);
    w.ldelim();
  }
  return w.finish();
}

function resourceSpans(w: Writer, rs: ResourceSpans): void {
  // The resource is written even when empty: OTel SDKs always send one, and some readers treat an
  // absent Resource differently from an empty one.
  w.uint32(10).fork(); // 1 resource
  resource(w, rs.resource);
  w.ldelim();
  for (const ss of rs.scopeSpans) {
    w.uint32(18).fork(); // 2 scope_spans
    scopeSpans(w, ss);
    w.ldelim();
  }
  if (rs.schemaUrl !== '') w.uint32(26).string(rs.schemaUrl); // 3 schema_url
}

function resource(w: Writer, r: Resource): void {
  attributes(w, 10, r.attributes); // 1 attributes
  if (r.droppedAttributesCount !== 0) w.uint32(16).uint32(r.droppedAttributesCount); // 2
}

function scopeSpans(w: Writer, ss: ScopeSpans): void {
  w.uint32(10).fork(); // 1 scope
  scope(w, ss.scope);
  w.ldelim();
  for (const span of ss.spans) {
    w.uint32(18).fork(); // 2 spans
    spanMessage(w, span);
    w.ldelim();
  }
  if (ss.schemaUrl !== '') w.uint32(26).string(ss.schemaUrl); // 3 schema_url
}

function scope(w: Writer, s: InstrumentationScope): void {
  if (s.name !== '') w.uint32(10).string(s.name); // 1 name
  if (s.version !== '') w.uint32(18).string(s.version); // 2 version
  attributes(w, 26, s.attributes); // 3 attributes
  if (s.droppedAttributesCount !== 0) w.uint32(32).uint32(s.droppedAttributesCount); // 4
}

function spanMessage(w: Writer, s: Span): void {
  id(w, 10, s.traceId); // 1 trace_id
  id(w, 18, s.spanId); // 2 span_id
  if (s.traceState !== '') w.uint32(26).string(s.traceState); // 3 trace_state
  id(w, 34, s.parentSpanId); // 4 parent_span_id; empty for a root, so left out
  if (s.name !== '') w.uint32(42).string(s.name); // 5 name
  if (s.kind !== 0) w.uint32(48).int32(s.kind); // 6 kind
  fixed64(w, 57, s.startTimeUnixNano); // 7 start_time_unix_nano
  fixed64(w, 65, s.endTimeUnixNano); // 8 end_time_unix_nano
  attributes(w, 74, s.attributes); // 9 attributes
  if (s.droppedAttributesCount !== 0) w.uint32(80).uint32(s.droppedAttributesCount); // 10
  for (const e of s.events) {
    w.uint32(90).fork(); // 11 events
    event(w, e);
    w.ldelim();
  }
  if (s.droppedEventsCount !== 0) w.uint32(96).uint32(s.droppedEventsCount); // 12
  for (const l of s.links) {
    w.uint32(106).fork(); // 13 links
    link(w, l);
    w.ldelim();
  }
  if (s.droppedLinksCount !== 0) w.uint32(112).uint32(s.droppedLinksCount); // 14
  if (s.status.code !== 0 || s.status.message !== '') {
    w.uint32(122).fork(); // 15 status
    status(w, s.status);
    w.ldelim();
  }
  // 16 flags, fixed32. 0 means "the sender set none", which is also the proto3 default.
  if (s.flags !== 0) w.uint32(133).fixed32(s.flags);
}

function event(w: Writer, e: SpanEvent): void {
  fixed64(w, 9, e.timeUnixNano); // 1 time_unix_nano
  if (e.name !== '') w.uint32(18).string(e.name); // 2 name
  attributes(w, 26, e.attributes); // 3 attributes
  if (e.droppedAttributesCount !== 0) w.uint32(32).uint32(e.droppedAttributesCount); // 4
}

function link(w: Writer, l: SpanLink): void {
  id(w, 10, l.traceId); // 1 trace_id
  id(w, 18, l.spanId); // 2 span_id
  if (l.traceState !== '') w.uint32(26).string(l.traceState); // 3 trace_state
  attributes(w, 34, l.attributes); // 4 attributes
  if (l.droppedAttributesCount !== 0) w.uint32(40).uint32(l.droppedAttributesCount); // 5
  if (l.flags !== 0) w.uint32(53).fixed32(l.flags); // 6 flags, fixed32
}

function status(w: Writer, s: SpanStatus): void {
  // Field 1 is reserved (the old deprecated_code); message is 2 and code is 3.
  if (s.message !== '') w.uint32(18).string(s.message);
  if (s.code !== 0) w.uint32(24).int32(s.code);
}

/** A hex id as a bytes field; '' (no parent) writes nothing. */
function id(w: Writer, tag: number, hex: string): void {
  if (hex === '') return;
  w.uint32(tag).bytes(Buffer.from(hex, 'hex'));
}

/** An unsigned 64-bit nanosecond time, written as two little-endian words so no Long is needed. */
function fixed64(w: Writer, tag: number, nanos: bigint): void {
  if (nanos === 0n) return;
  const v = BigInt.asUintN(64, nanos);
  w.uint32(tag).fixed32(Number(v & 0xffffffffn)).fixed32(Number(v >> 32n));
}

/** Repeated KeyValue under `tag`. Own keys only, so a "__proto__" key the decoder kept is written too. */
function attributes(w: Writer, tag: number, attrs: Attributes): void {
  for (const key of Object.keys(attrs)) {
    w.uint32(tag).fork();
    keyValue(w, key, attrs[key]!);
    w.ldelim();
  }
}

function keyValue(w: Writer, key: string, value: AttributeValue): void {
  if (key !== '') w.uint32(10).string(key); // KeyValue 1 key
  w.uint32(18).fork(); // KeyValue 2 value
  anyValue(w, value);
  w.ldelim();
}

/** One AnyValue oneof variant. Buffers and Uint8Arrays are bytes, never kvlists. */
function anyValue(w: Writer, v: AttributeValue): void {
  switch (typeof v) {
    case 'string':
      w.uint32(10).string(v); // 1 string_value
      return;
    case 'boolean':
      w.uint32(16).bool(v); // 2 bool_value
      return;
    case 'number':
      // Integers go to int_value as OTel JS does; only those int64 cannot hold become doubles.
      if (Number.isInteger(v) && v >= INT64_MIN_NUMBER && v < INT64_LIMIT_NUMBER) w.uint32(24).int64(v); // 3 int_value
      else w.uint32(33).double(v); // 4 double_value
      return;
    case 'bigint':
      // The decoders only produce bigints inside int64; a larger one (from a translator) keeps
      // its magnitude as a double rather than wrapping around to a wrong integer.
      if (v >= INT64_MIN && v <= INT64_MAX) {
        const u = BigInt.asUintN(64, v);
        w.uint32(24).int64({ low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: false });
      } else w.uint32(33).double(Number(v));
      return;
    default:
      break;
  }
  if (v instanceof Uint8Array) {
    w.uint32(58).bytes(v); // 7 bytes_value
  } else if (Array.isArray(v)) {
    w.uint32(42).fork(); // 5 array_value: ArrayValue { 1 repeated AnyValue values }
    for (const item of v) {
      w.uint32(10).fork();
      anyValue(w, item);
      w.ldelim();
    }
    w.ldelim();
  } else {
    w.uint32(50).fork(); // 6 kvlist_value: KeyValueList { 1 repeated KeyValue values }
    attributes(w, 10, v as Attributes);
    w.ldelim();
  }
}
