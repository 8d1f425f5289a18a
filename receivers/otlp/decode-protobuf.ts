/**
 * Decodes OTLP `ExportTraceServiceRequest` protobuf bytes straight into a SpanBatch in one pass: no
 * generated message classes, no intermediate objects, no JSON round trip. This is the receiver's hot
 * path. Field numbers follow opentelemetry-proto (see docs/wire-formats.md); each `case` label is the
 * wire tag `(field_number << 3) | wire_type`, so a field sent with an unexpected wire type falls
 * through to `skipType` and is ignored, as protobuf's own parsers treat it as an unknown field.
 */
import protobuf from 'protobufjs/minimal.js';
import { InvalidInputError } from '../../core/errors.ts';
import { setAttribute } from '../../core/model/attributes.ts';
import {
  NO_EVENTS,
  NO_LINKS,
  UNSET_STATUS,
  type AttributeValue,
  type Attributes,
  type InstrumentationScope,
  type Resource,
  type ResourceSpans,
  type ScopeSpans,
  type Span,
  type SpanEvent,
  type SpanKind,
  type SpanLink,
  type SpanStatus,
  type StatusCode,
} from '../../core/model/span-batch.ts';
import { SpanRejections } from '../../core/model/span-rejections.ts';
import { spanTimeProblem } from '../../core/model/span-times.ts';
import { ZERO_SPAN_ID, spanIdProblem, type DecodedTraces } from './decoded-traces.ts';
import { hex, KEY_CACHE, StringCache, VALUE_CACHE } from '../../core/model/string-cache.ts';

type Reader = protobuf.Reader;

/** Nesting allowed inside an attribute value (arrays of kvlists of ...); real SDKs use one or two levels. */
const MAX_VALUE_DEPTH = 32;
const TWO_POW_32 = 4294967296;
/** Shared by every request: attribute keys repeat across spans and requests alike. */
const ATTRIBUTE_KEYS = new StringCache(KEY_CACHE);
/** Short string attribute values and span names, which mostly repeat too (core/model/string-cache.ts). */
const SHORT_STRINGS = new StringCache(VALUE_CACHE);
/** Trace ids: every span of a trace carries its trace's, and one request usually holds several of them. */
const TRACE_IDS = new StringCache({ slots: 1024, maxBytes: 16, decode: hex });
/**
 * Span ids: a parent's id is read once as its own and once as each child's parent id. Stored on
 * first sight, because whichever comes first (SDKs export children before their parents) is the one
 * the next reads can share.
 */
const SPAN_IDS = new StringCache({ slots: 4096, maxBytes: 8, decode: hex, admit: 'always' });

/**
 * Decodes `bytes` (an uncompressed ExportTraceServiceRequest). Spans whose ids are missing, all zeros
 * or of the wrong length are left out and counted in `rejectedSpans`.
 *
 * @throws InvalidInputError when the bytes are not a valid message (truncated, bad lengths or wire
 *   types, nesting too deep); its message names the byte offset and the span being decoded.
 */
export function decodeProtobufTraces(bytes: Uint8Array): DecodedTraces {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new ProtobufTraceDecoder(buf).decode();
}

class ProtobufTraceDecoder {
  readonly #buf: Buffer;
  /** For fixed64 reads: DataView#getBigUint64 makes one BigInt where Buffer#readBigUInt64LE makes four. */
  readonly #view: DataView;
  readonly #r: Reader;
  readonly #rejections = new SpanRejections('rejected for invalid trace_id/span_id');
  #spanCount = 0;
  // Where the decoder is, for error messages only: indices of the enclosing repeated fields (-1 when
  // outside) and the message type being read.
  #rs = -1;
  #ss = -1;
  #sp = -1;
  #msg = 'ExportTraceServiceRequest';

  constructor(buf: Buffer) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#r = protobuf.Reader.create(buf);
  }

  decode(): DecodedTraces {
    const r = this.#r;
    const resourceSpans: ResourceSpans[] = [];
    try {
      while (r.pos < r.len) {
        const tag = r.tag();
        if (tag === 10) {
          this.#rs = resourceSpans.length;
          const rs = this.#resourceSpans();
          if (rs.scopeSpans.length > 0) resourceSpans.push(rs);
        } else this.#skip(tag);
      }
    } catch (err) {
      if (err instanceof InvalidInputError) throw err;
      throw new InvalidInputError(
        `Cannot decode OTLP protobuf ExportTraceServiceRequest: ${err instanceof Error ? err.message : String(err)} (in ${this.#msg} at byte ${r.pos} of ${this.#buf.length}${this.#location()}).`,
        err,
      );
    }
    return {
      batch: { resourceSpans },
      spanCount: this.#spanCount,
      rejectedSpans: this.#rejections.count,
      rejectMessage: this.#rejections.message(),
    };
  }

  #location(): string {
    if (this.#rs < 0) return '';
    let at = `, resource_spans[${this.#rs}]`;
    if (this.#ss >= 0) at += `.scope_spans[${this.#ss}]`;
    if (this.#sp >= 0) at += `.spans[${this.#sp}]`;
    return at;
  }

  #skip(tag: number): void {
    this.#r.skipType(tag & 7, 0, tag >>> 3);
  }

  /**
   * Reads a length prefix and narrows the reader to that sub-message, so every read inside is
   * bounds-checked against the sub-message's end. Returns the outer limit to restore with `#leave`.
   */
  #enter(): number {
    const r = this.#r;
    const length = r.size();
    const end = r.pos + length;
    if (end > r.len) throw new RangeError(`length ${length} runs past the end of the enclosing message (${r.len - r.pos} bytes left)`);
    const outer = r.len;
    r.len = end;
    return outer;
  }

  #leave(outer: number): void {
    this.#r.len = outer;
  }

  #resourceSpans(): ResourceSpans {
    const r = this.#r;
    const outer = this.#enter();
    const prevMsg = this.#msg;
    this.#msg = 'ResourceSpans';
    let resource: Resource = { attributes: {}, droppedAttributesCount: 0 };
    const scopeSpans: ScopeSpans[] = [];
    let schemaUrl = '';
    let ssIndex = 0;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 10:
          resource = this.#resource();
          break;
        case 18: {
          this.#ss = ssIndex++;
          const ss = this.#scopeSpans();
          if (ss.spans.length > 0) scopeSpans.push(ss);
          this.#ss = -1;
          break;
        }
        case 26:
          schemaUrl = r.string();
          break;
        default:
          this.#skip(tag);
      }
    }
    this.#msg = prevMsg;
    this.#leave(outer);
    return { resource, scopeSpans, schemaUrl };
  }

  #resource(): Resource {
    const r = this.#r;
    const outer = this.#enter();
    const prevMsg = this.#msg;
    this.#msg = 'Resource';
    const attributes: Attributes = {};
    let droppedAttributesCount = 0;
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 10) this.#keyValue(attributes, 0);
      else if (tag === 16) droppedAttributesCount = r.uint32();
      else this.#skip(tag);
    }
    this.#msg = prevMsg;
    this.#leave(outer);
    return { attributes, droppedAttributesCount };
  }

  #scopeSpans(): ScopeSpans {
    const r = this.#r;
    const outer = this.#enter();
    const prevMsg = this.#msg;
    this.#msg = 'ScopeSpans';
    let scope: InstrumentationScope = { name: '', version: '', attributes: {}, droppedAttributesCount: 0 };
    const spans: Span[] = [];
    let schemaUrl = '';
    let spIndex = 0;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 10:
          scope = this.#scope();
          break;
        case 18: {
          this.#sp = spIndex++;
          const span = this.#span();
          if (span !== undefined) spans.push(span);
          this.#sp = -1;
          break;
        }
        case 26:
          schemaUrl = r.string();
          break;
        default:
          this.#skip(tag);
      }
    }
    this.#spanCount += spans.length;
    this.#msg = prevMsg;
    this.#leave(outer);
    return { scope, spans, schemaUrl };
  }

  #scope(): InstrumentationScope {
    const r = this.#r;
    const outer = this.#enter();
    const prevMsg = this.#msg;
    this.#msg = 'InstrumentationScope';
    let name = '';
    let version = '';
    const attributes: Attributes = {};
    let droppedAttributesCount = 0;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 10:
          name = r.string();
          break;
        case 18:
          version = r.string();
          break;
        case 26:
          this.#keyValue(attributes, 0);
          break;
        case 32:
          droppedAttributesCount = r.uint32();
          break;
        default:
          this.#skip(tag);
      }
    }
    this.#msg = prevMsg;
    this.#leave(outer);
    return { name, version, attributes, droppedAttributesCount };
  }

  /** Returns undefined (and records why) when the span's ids make it unusable. */
  #span(): Span | undefined {
    const r = this.#r;
    const outer = this.#enter();
    const prevMsg = this.#msg;
    this.#msg = 'Span';
    let traceId: string | undefined = '';
    let spanId: string | undefined = '';
    let parentSpanId: string | undefined = '';
    let traceState = '';
    let flags = 0;
    let name = '';
    let kind: SpanKind = 0;
    let startTimeUnixNano = 0n;
    let endTimeUnixNano = 0n;
    const attributes: Attributes = {};
    let droppedAttributesCount = 0;
    let events: SpanEvent[] | undefined;
    let droppedEventsCount = 0;
    let links: SpanLink[] | undefined;
    let droppedLinksCount = 0;
    let status = UNSET_STATUS;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 10:
          traceId = this.#id(16, TRACE_IDS);
          break;
        case 18:
          spanId = this.#id(8, SPAN_IDS);
          break;
        case 26:
          traceState = r.string();
          break;
        case 34:
          parentSpanId = this.#id(8, SPAN_IDS);
          break;
        case 42:
          name = this.#cachedString(SHORT_STRINGS);
          break;
        case 48:
          kind = toSpanKind(r.int32());
          break;
        case 57:
          startTimeUnixNano = this.#fixed64();
          break;
        case 65:
          endTimeUnixNano = this.#fixed64();
          break;
        case 74:
          this.#keyValue(attributes, 0);
          break;
        case 80:
          droppedAttributesCount = r.uint32();
          break;
        case 90:
          (events ??= []).push(this.#event());
          break;
        case 96:
          droppedEventsCount = r.uint32();
          break;
        case 106: {
          const link = this.#link();
          // A link that points nowhere is dropped on its own; the span itself is still good.
          if (link === undefined) droppedLinksCount++;
          else (links ??= []).push(link);
          break;
        }
        case 112:
          droppedLinksCount = r.uint32();
          break;
        case 122:
          status = this.#status();
          break;
        case 133:
          flags = r.fixed32();
          break;
        default:
          this.#skip(tag);
      }
    }
    this.#msg = prevMsg;
    this.#leave(outer);
    // An all-zero parent is what some SDKs send for "no parent"; it is read as a root span.
    if (parentSpanId === ZERO_SPAN_ID) parentSpanId = '';
    const problem = spanIdProblem(traceId, spanId, parentSpanId) ?? spanTimeProblem(startTimeUnixNano, endTimeUnixNano);
    if (problem !== undefined) {
      this.#rejections.add(`resource_spans[${this.#rs}].scope_spans[${this.#ss}].spans[${this.#sp}]`, problem);
      return undefined;
    }
    return {
      traceId: traceId!,
      spanId: spanId!,
      parentSpanId: parentSpanId!,
      traceState,
      flags,
      name,
      kind,
      startTimeUnixNano,
      endTimeUnixNano,
      attributes,
      droppedAttributesCount,
      events: events ?? NO_EVENTS,
      droppedEventsCount,
      links: links ?? NO_LINKS,
      droppedLinksCount,
      status,
    };
  }

  #event(): SpanEvent {
    const r = this.#r;
    const outer = this.#enter();
    const prevMsg = this.#msg;
    this.#msg = 'Span.Event';
    let timeUnixNano = 0n;
    let name = '';
    const attributes: Attributes = {};
    let droppedAttributesCount = 0;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 9:
          timeUnixNano = this.#fixed64();
          break;
        case 18:
          name = r.string();
          break;
        case 26:
          this.#keyValue(attributes, 0);
          break;
        case 32:
          droppedAttributesCount = r.uint32();
          break;
        default:
          this.#skip(tag);
      }
    }
    this.#msg = prevMsg;
    this.#leave(outer);
    return { timeUnixNano, name, attributes, droppedAttributesCount };
  }

  #link(): SpanLink | undefined {
    const r = this.#r;
    const outer = this.#enter();
    const prevMsg = this.#msg;
    this.#msg = 'Span.Link';
    let traceId: string | undefined = '';
    let spanId: string | undefined = '';
    let traceState = '';
    const attributes: Attributes = {};
    let droppedAttributesCount = 0;
    let flags = 0;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 10:
          traceId = this.#id(16, TRACE_IDS);
          break;
        case 18:
          spanId = this.#id(8);
          break;
        case 26:
          traceState = r.string();
          break;
        case 34:
          this.#keyValue(attributes, 0);
          break;
        case 40:
          droppedAttributesCount = r.uint32();
          break;
        case 53:
          flags = r.fixed32();
          break;
        default:
          this.#skip(tag);
      }
    }
    this.#msg = prevMsg;
    this.#leave(outer);
    if (spanIdProblem(traceId, spanId, '') !== undefined) return undefined;
    return { traceId: traceId!, spanId: spanId!, traceState, attributes, droppedAttributesCount, flags };
  }

  #status(): SpanStatus {
    const r = this.#r;
    const outer = this.#enter();
    let code: StatusCode = 0;
    let message = '';
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 18) message = r.string();
      else if (tag === 24) code = toStatusCode(r.int32());
      else this.#skip(tag);
    }
    this.#leave(outer);
    return code === 0 && message === '' ? UNSET_STATUS : { code, message };
  }

  /** Decodes one KeyValue into `into`; a value with no variant set is left out (the model has no null). */
  #keyValue(into: Record<string, AttributeValue>, depth: number): void {
    const r = this.#r;
    const outer = this.#enter();
    let key = '';
    let value: AttributeValue | undefined;
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 10) key = this.#key();
      else if (tag === 18) value = this.#anyValue(depth);
      else this.#skip(tag);
    }
    this.#leave(outer);
    if (value !== undefined) setAttribute(into, key, value);
  }

  #anyValue(depth: number): AttributeValue | undefined {
    if (depth >= MAX_VALUE_DEPTH) throw new RangeError(`attribute values nested deeper than ${MAX_VALUE_DEPTH} levels`);
    const r = this.#r;
    const outer = this.#enter();
    // AnyValue is a oneof: when a sender writes several variants, the last one wins.
    let value: AttributeValue | undefined;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 10:
          value = this.#cachedString(SHORT_STRINGS);
          break;
        case 16:
          value = r.bool();
          break;
        case 24:
          value = this.#int64();
          break;
        case 33:
          value = r.double();
          break;
        case 42:
          value = this.#arrayValue(depth + 1);
          break;
        case 50:
          value = this.#kvlistValue(depth + 1);
          break;
        case 58:
          value = this.#bytes();
          break;
        default:
          this.#skip(tag);
      }
    }
    this.#leave(outer);
    return value;
  }

  #arrayValue(depth: number): AttributeValue[] {
    const r = this.#r;
    const outer = this.#enter();
    const values: AttributeValue[] = [];
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 10) {
        const v = this.#anyValue(depth);
        if (v !== undefined) values.push(v);
      } else this.#skip(tag);
    }
    this.#leave(outer);
    return values;
  }

  #kvlistValue(depth: number): Record<string, AttributeValue> {
    const r = this.#r;
    const outer = this.#enter();
    const values: Record<string, AttributeValue> = {};
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 10) this.#keyValue(values, depth);
      else this.#skip(tag);
    }
    this.#leave(outer);
    return values;
  }

  /** Reads a string field through one of the shared string caches. */
  #cachedString(cache: StringCache): string {
    const r = this.#r;
    const length = r.size();
    const start = r.pos;
    if (start + length > r.len) throw new RangeError(`string of ${length} bytes runs past the end of the message`);
    r.pos = start + length;
    return cache.read(this.#buf, start, start + length);
  }

  /** Reads a KeyValue.key. */
  #key(): string {
    return this.#cachedString(ATTRIBUTE_KEYS);
  }

  /**
   * Reads a bytes field holding an id: lower-case hex when it is `size` bytes long, '' when empty,
   * undefined for any other length (the caller rejects the span).
   */
  #id(size: number, cache?: StringCache): string | undefined {
    const r = this.#r;
    const length = r.size();
    const start = r.pos;
    const end = start + length;
    if (end > r.len) throw new RangeError(`id of ${length} bytes runs past the end of the message`);
    r.pos = end;
    if (length === size) return cache !== undefined ? cache.read(this.#buf, start, end) : hex(this.#buf, start, end);
    return length === 0 ? '' : undefined;
  }

  /** A copy, so that an attribute does not pin the whole request buffer in memory. */
  #bytes(): Uint8Array {
    const r = this.#r;
    const length = r.size();
    const start = r.pos;
    if (start + length > r.len) throw new RangeError(`bytes value of ${length} bytes runs past the end of the message`);
    r.pos = start + length;
    const out = new Uint8Array(length);
    out.set(this.#buf.subarray(start, start + length));
    return out;
  }

  #fixed64(): bigint {
    const r = this.#r;
    if (r.pos + 8 > r.len) throw new RangeError(`fixed64 needs 8 bytes, ${r.len - r.pos} left`);
    const v = this.#view.getBigUint64(r.pos, true);
    r.pos += 8;
    return v;
  }

  /** A varint int64 as a number when it is a safe integer, else a bigint (the model's rule). */
  #int64(): number | bigint {
    const r = this.#r;
    const buf = this.#buf;
    const len = r.len;
    let pos = r.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    // Bytes 1-4 carry bits 0-27.
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= len) throw new RangeError('varint runs past the end of the message');
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        r.pos = pos;
        return lo;
      }
    }
    // Byte 5 carries bits 28-34, split across the low and high words.
    if (pos >= len) throw new RangeError('varint runs past the end of the message');
    b = buf[pos++]!;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      // Bytes 6-10 carry bits 35-63.
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw new RangeError('varint longer than 10 bytes');
        if (pos >= len) throw new RangeError('varint runs past the end of the message');
        b = buf[pos++]!;
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    r.pos = pos;
    return int64FromWords(lo >>> 0, hi >>> 0);
  }
}

/** Two's-complement 64-bit value from its 32-bit words, as a number when that is exact and safe. */
function int64FromWords(lo: number, hi: number): number | bigint {
  if (hi <= 0x1fffff) return hi * TWO_POW_32 + lo; // 0 ≤ v < 2^53
  if (hi > 0xffe00000 || (hi === 0xffe00000 && lo !== 0)) return (hi - TWO_POW_32) * TWO_POW_32 + lo; // -2^53 < v < 0
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** Unknown enum values (a newer proto) read as UNSPECIFIED, which downstream treats as "no kind given". */
function toSpanKind(v: number): SpanKind {
  return v >= 0 && v <= 5 ? (v as SpanKind) : 0;
}

function toStatusCode(v: number): StatusCode {
  return v >= 0 && v <= 2 ? (v as StatusCode) : 0;
}
