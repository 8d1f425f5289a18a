/**
 * Splits an OTLP `ExportTraceServiceRequest` by owning worker without decoding it: each span's
 * bytes are copied as they are into a request of their own worker, under copies of their resource
 * and scope. The receiving thread reads only tags, lengths and each span's trace id; the owning
 * worker decodes (and validates) its share. This is why `workers: N` scales: the thread that owns
 * the sockets does a small fraction of a decode's work per span.
 *
 * Field numbers (opentelemetry-proto, docs/wire-formats.md): ExportTraceServiceRequest
 * 1 resource_spans; ResourceSpans 1 resource, 2 scope_spans, 3 schema_url; ScopeSpans 1 scope,
 * 2 spans, 3 schema_url; Span 1 trace_id. Fields other than scope_spans and spans (the resource,
 * scope, schema URLs, fields newer than this code) are copied to every part unchanged.
 */
import { InvalidInputError } from '../errors.ts';
import { ownerOfTraceIdBytes } from './trace-owner.ts';

export interface SplitRequest {
  /** One encoded request per worker; undefined for a worker that owns none of the spans. */
  parts: (Buffer | undefined)[];
  spanCount: number;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** A byte range of the request: [start, end). */
type Range = readonly [number, number];

/**
 * @throws InvalidInputError when the wrappers are malformed (bad lengths, groups, truncation). The
 *   spans' contents are checked by the worker that decodes them.
 */
export function splitEncodedOtlp(bytes: Uint8Array, workers: number): SplitRequest {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return split(buf, workers);
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`Cannot decode OTLP protobuf ExportTraceServiceRequest: ${(err as Error).message}.`, err);
  }
}

function split(buf: Buffer, workers: number): SplitRequest {
  // Per worker, the encoded ResourceSpans fields (tag + length + body) in request order.
  const out: Buffer[][] = Array.from({ length: workers }, () => []);
  let spanCount = 0;
  const r = new Cursor(buf, 0, buf.length);
  while (r.more()) {
    const { field, wire, start, end } = r.field();
    if (field !== 1 || wire !== WIRE_LEN) continue; // unknown top-level field: dropped, as decoders ignore it
    spanCount += splitResourceSpans(buf, start, end, workers, out);
  }
  return { parts: out.map((fields) => (fields.length === 0 ? undefined : Buffer.concat(fields))), spanCount };
}

function splitResourceSpans(buf: Buffer, from: number, to: number, workers: number, out: Buffer[][]): number {
  const shared: Range[] = [];
  // Per worker, the ScopeSpans fields it gets from this resource.
  const scopes: Buffer[][] = Array.from({ length: workers }, () => []);
  let spans = 0;
  const r = new Cursor(buf, from, to);
  while (r.more()) {
    const f = r.field();
    if (f.field === 2 && f.wire === WIRE_LEN) spans += splitScopeSpans(buf, f.start, f.end, workers, scopes);
    else shared.push([f.fieldStart, f.end]);
  }
  for (let w = 0; w < workers; w++) {
    if (scopes[w]!.length > 0) out[w]!.push(message(1, buf, shared, scopes[w]!));
  }
  return spans;
}

function splitScopeSpans(buf: Buffer, from: number, to: number, workers: number, scopes: Buffer[][]): number {
  const shared: Range[] = [];
  const spans: Range[][] = Array.from({ length: workers }, () => []);
  let count = 0;
  const r = new Cursor(buf, from, to);
  while (r.more()) {
    const f = r.field();
    if (f.field === 2 && f.wire === WIRE_LEN) {
      spans[ownerOfSpan(buf, f.start, f.end, workers)]!.push([f.fieldStart, f.end]);
      count++;
    } else shared.push([f.fieldStart, f.end]);
  }
  for (let w = 0; w < workers; w++) {
    if (spans[w]!.length > 0) scopes[w]!.push(message(2, buf, [...shared, ...spans[w]!], []));
  }
  return count;
}

/** The worker owning the span at [from, to): by its trace_id (field 1), worker 0 when it has none. */
function ownerOfSpan(buf: Buffer, from: number, to: number, workers: number): number {
  const r = new Cursor(buf, from, to);
  while (r.more()) {
    const f = r.field();
    if (f.field === 1 && f.wire === WIRE_LEN) return f.end - f.start === 16 ? ownerOfTraceIdBytes(buf, f.start, workers) : 0;
  }
  return 0;
}

/** Encodes field `field` (LEN) whose body is `ranges` of `buf` followed by `tail` buffers. */
function message(field: number, buf: Buffer, ranges: readonly Range[], tail: readonly Buffer[]): Buffer {
  let length = 0;
  for (const [s, e] of ranges) length += e - s;
  for (const t of tail) length += t.length;
  const head = [(field << 3) | WIRE_LEN];
  for (let n = length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      head.push(n);
      break;
    }
    head.push((n % 128) | 128);
  }
  const outBuf = Buffer.allocUnsafe(head.length + length);
  let at = 0;
  for (const b of head) outBuf[at++] = b;
  for (const [s, e] of ranges) at += buf.copy(outBuf, at, s, e);
  for (const t of tail) at += t.copy(outBuf, at);
  return outBuf;
}

interface Field {
  field: number;
  wire: number;
  /** Where the field's tag starts. */
  fieldStart: number;
  /** A LEN field's body; for other wire types start = end = the field's end. */
  start: number;
  end: number;
}

/** Reads tags and skips values within [pos, end), checking every length against the bounds. */
class Cursor {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.#buf = buf;
    this.#pos = pos;
    this.#end = end;
  }

  more(): boolean {
    return this.#pos < this.#end;
  }

  field(): Field {
    const fieldStart = this.#pos;
    const tag = this.#varint();
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    if (field === 0) throw new RangeError(`invalid field number 0 at byte ${fieldStart}`);
    switch (wire) {
      case WIRE_VARINT:
        this.#varint();
        break;
      case WIRE_FIXED64:
        this.#advance(8);
        break;
      case WIRE_FIXED32:
        this.#advance(4);
        break;
      case WIRE_LEN: {
        const length = this.#varint();
        const start = this.#pos;
        this.#advance(length);
        return { field, wire, fieldStart, start, end: this.#pos };
      }
      default:
        throw new RangeError(`unsupported wire type ${wire} at byte ${fieldStart}`);
    }
    return { field, wire, fieldStart, start: this.#pos, end: this.#pos };
  }

  #advance(n: number): void {
    if (n > this.#end - this.#pos) throw new RangeError(`length ${n} at byte ${this.#pos} runs past the end of its message`);
    this.#pos += n;
  }

  #varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.#end) throw new RangeError(`truncated varint at byte ${this.#pos}`);
      const b = this.#buf[this.#pos++]!;
      value += (b & 127) * scale;
      if (b < 128) return value;
      scale *= 128;
    }
    throw new RangeError(`varint longer than 10 bytes at byte ${this.#pos}`);
  }
}
