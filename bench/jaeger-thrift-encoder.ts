/**
 * The benchmark's generated batches as Jaeger Thrift: one `jaeger.Batch` per process (resource), in
 * TBinaryProtocol, the body jaeger-client's HTTPSender POSTs to `/api/traces` as
 * `application/x-thrift`. A Batch carries exactly one Process, so a generated request with seven
 * service instances becomes seven bodies, as seven jaeger-client tracers would send them.
 *
 * The mapping is the OpenTelemetry Collector's OTLP → Jaeger one (pkg/translator/jaeger):
 * - Process: `serviceName` from `service.name`; every other resource attribute a typed tag;
 * - Span: `traceIdHigh`/`traceIdLow`, `spanId`, `parentSpanId` (0 for a root), no references,
 *   `flags` 1 (sampled), `startTime`/`duration` in microseconds;
 * - tags: every attribute typed (string STRING, integer LONG, other number DOUBLE, boolean BOOL),
 *   `span.kind` in lower case, `otel.status_code` ("OK"/"ERROR"), `error` = true and
 *   `otel.status_description` for an error;
 * - logs: one per event, `event` = its name, then its attributes.
 *
 * Field ids follow jaeger-idl `thrift/jaeger.thrift`; fields are written in id order, as Thrift's
 * generated code and thriftrw write them. It also returns where each id's bytes start, so the
 * request pool can give later rounds fresh ids without re-encoding (see request-pool.ts).
 */
import type { AttributeValue, Attributes, ResourceSpans } from '../core/model/span-batch.ts';
import { SpanKind, StatusCode } from '../core/model/span-batch.ts';

/** TBinaryProtocol type ids. */
const T = { STOP: 0, BOOL: 2, DOUBLE: 4, I32: 8, I64: 10, STRING: 11, STRUCT: 12, LIST: 15 } as const;
/** jaeger.thrift `enum TagType`. */
const TagType = { STRING: 0, DOUBLE: 1, BOOL: 2, LONG: 3 } as const;

const KIND_TAG: Record<number, string | undefined> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

export interface EncodedThriftBatch {
  bytes: Buffer;
  /** Byte offsets of every span's `traceIdHigh` value (8 bytes; the trace id's first half). */
  traceIdOffsets: number[];
  /** Byte offsets of every `spanId` and non-zero `parentSpanId` value (8 bytes). */
  spanIdOffsets: number[];
  /** Trace ids of the spans in this batch, and how many spans each has here, in first-seen order. */
  traceIds: string[];
  spansPerTrace: number[];
  spanCount: number;
}

/** A growable big-endian byte buffer with Thrift binary primitives. */
class BinaryWriter {
  #buf = Buffer.allocUnsafe(64 * 1024);
  length = 0;

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.length + n));
    this.#buf.copy(bigger, 0, 0, this.length);
    this.#buf = bigger;
  }
  byte(v: number): void {
    this.#room(1);
    this.#buf[this.length++] = v;
  }
  i16(v: number): void {
    this.#room(2);
    this.length = this.#buf.writeInt16BE(v, this.length);
  }
  i32(v: number): void {
    this.#room(4);
    this.length = this.#buf.writeInt32BE(v, this.length);
  }
  i64(v: bigint): void {
    this.#room(8);
    this.length = this.#buf.writeBigInt64BE(BigInt.asIntN(64, v), this.length);
  }
  /** 16 hex digits as the i64 they spell (two's complement), returning where its bytes start. */
  i64Hex(hex: string): number {
    this.#room(8);
    const at = this.length;
    this.#buf.write(hex, at, 8, 'hex');
    this.length += 8;
    return at;
  }
  double(v: number): void {
    this.#room(8);
    this.length = this.#buf.writeDoubleBE(v, this.length);
  }
  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.i32(n);
    this.#room(n);
    this.length += this.#buf.write(s, this.length, n, 'utf8');
  }
  field(type: number, id: number): void {
    this.byte(type);
    this.i16(id);
  }
  listBegin(elemType: number, size: number): void {
    this.byte(elemType);
    this.i32(size);
  }
  stop(): void {
    this.byte(T.STOP);
  }
  toBuffer(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.length));
  }
}

type TagValue = string | number | boolean | bigint;

function tagValue(value: AttributeValue): TagValue {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return value;
  // Arrays, maps and bytes: the Collector writes them as JSON text (none in the generated load).
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** jaeger.thrift `struct Tag { 1 key, 2 vType, 3 vStr, 4 vDouble, 5 vBool, 6 vLong }`. */
function writeTag(w: BinaryWriter, key: string, value: TagValue): void {
  w.field(T.STRING, 1);
  w.string(key);
  if (typeof value === 'string') {
    w.field(T.I32, 2);
    w.i32(TagType.STRING);
    w.field(T.STRING, 3);
    w.string(value);
  } else if (typeof value === 'boolean') {
    w.field(T.I32, 2);
    w.i32(TagType.BOOL);
    w.field(T.BOOL, 5);
    w.byte(value ? 1 : 0);
  } else if (typeof value === 'bigint' || Number.isInteger(value)) {
    w.field(T.I32, 2);
    w.i32(TagType.LONG);
    w.field(T.I64, 6);
    w.i64(BigInt(value));
  } else {
    w.field(T.I32, 2);
    w.i32(TagType.DOUBLE);
    w.field(T.DOUBLE, 4);
    w.double(value);
  }
  w.stop();
}

function writeTags(w: BinaryWriter, id: number, tags: [string, TagValue][]): void {
  w.field(T.LIST, id);
  w.listBegin(T.STRUCT, tags.length);
  for (const [key, value] of tags) writeTag(w, key, value);
}

const typed = (attributes: Attributes): [string, TagValue][] => Object.entries(attributes).map(([k, v]) => [k, tagValue(v)]);

/** One resource's spans as one `jaeger.Batch { 1 process, 2 spans }`. */
export function encodeJaegerBatch(rs: ResourceSpans): EncodedThriftBatch {
  const w = new BinaryWriter();
  const traceIdOffsets: number[] = [];
  const spanIdOffsets: number[] = [];
  const perTrace = new Map<string, number>();
  let spanCount = 0;

  const { 'service.name': serviceName, ...processTags } = rs.resource.attributes;
  // Batch.process: Process { 1 serviceName, 2 tags }
  w.field(T.STRUCT, 1);
  w.field(T.STRING, 1);
  w.string(serviceName === undefined ? 'unknown_service' : String(serviceName));
  writeTags(w, 2, typed(processTags));
  w.stop();

  const spans = rs.scopeSpans.flatMap((ss) => ss.spans);
  // Batch.spans: list<Span>
  w.field(T.LIST, 2);
  w.listBegin(T.STRUCT, spans.length);
  for (const span of spans) {
    spanCount++;
    perTrace.set(span.traceId, (perTrace.get(span.traceId) ?? 0) + 1);
    w.field(T.I64, 1); // traceIdLow
    w.i64Hex(span.traceId.slice(16));
    w.field(T.I64, 2); // traceIdHigh
    traceIdOffsets.push(w.i64Hex(span.traceId.slice(0, 16)));
    w.field(T.I64, 3); // spanId
    spanIdOffsets.push(w.i64Hex(span.spanId));
    w.field(T.I64, 4); // parentSpanId: 0 for a root, and a zero id must stay zero in later rounds
    if (span.parentSpanId === '') w.i64(0n);
    else spanIdOffsets.push(w.i64Hex(span.parentSpanId));
    w.field(T.STRING, 5); // operationName
    w.string(span.name);
    w.field(T.I32, 7); // flags: sampled
    w.i32(1);
    w.field(T.I64, 8); // startTime, µs
    w.i64(span.startTimeUnixNano / 1000n);
    w.field(T.I64, 9); // duration, µs
    w.i64((span.endTimeUnixNano - span.startTimeUnixNano + 500n) / 1000n);

    const tags = typed(span.attributes);
    const kind = KIND_TAG[span.kind];
    if (kind !== undefined) tags.push(['span.kind', kind]);
    if (span.status.code === StatusCode.OK) tags.push(['otel.status_code', 'OK']);
    if (span.status.code === StatusCode.ERROR) {
      tags.push(['otel.status_code', 'ERROR'], ['error', true]);
      if (span.status.message !== '') tags.push(['otel.status_description', span.status.message]);
    }
    writeTags(w, 10, tags);

    if (span.events.length > 0) {
      // Span.logs: list<Log { 1 timestamp, 2 fields }>
      w.field(T.LIST, 11);
      w.listBegin(T.STRUCT, span.events.length);
      for (const event of span.events) {
        w.field(T.I64, 1);
        w.i64(event.timeUnixNano / 1000n);
        writeTags(w, 2, [['event', event.name], ...typed(event.attributes)]);
        w.stop();
      }
    }
    w.stop();
  }
  w.stop();
  return {
    bytes: w.toBuffer(),
    traceIdOffsets,
    spanIdOffsets,
    traceIds: [...perTrace.keys()],
    spansPerTrace: [...perTrace.values()],
    spanCount,
  };
}
