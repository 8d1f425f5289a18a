/**
 * Zipkin proto3 (`POST /api/v2/spans` with `application/x-protobuf`; zipkin-api `zipkin.proto`,
 * package `zipkin.proto3`), decoded by hand with protobufjs' Reader. Each `case` label is the wire
 * tag `(field_number << 3) | wire_type`; a field sent with another wire type falls through to
 * `skipType`, as protobuf parsers treat an unknown field.
 *
 *   ListOfSpans { 1 spans repeated Span }
 *   Span        { 1 trace_id bytes(8|16), 2 parent_id bytes(8), 3 id bytes(8), 4 kind enum,
 *                 5 name string, 6 timestamp fixed64 µs, 7 duration uint64 µs,
 *                 8 local_endpoint Endpoint, 9 remote_endpoint Endpoint, 10 annotations repeated,
 *                 11 tags map<string,string>, 12 debug bool, 13 shared bool }
 *   Endpoint    { 1 service_name string, 2 ipv4 bytes(4), 3 ipv6 bytes(16), 4 port int32 }
 *   Annotation  { 1 timestamp fixed64 µs, 2 value string }
 *   Kind        { 0 unspecified, 1 CLIENT, 2 SERVER, 3 PRODUCER, 4 CONSUMER }
 */
import protobuf from 'protobufjs/minimal.js';
import { InvalidInputError } from '../../core/errors.ts';
import { SpanRejections } from '../../core/model/span-rejections.ts';
import { SpanProblem, type DecodedSpans } from './decoded-spans.ts';
import { hexFromBytes, spanIdFromHex, traceIdFromHex } from './hex-id.ts';
import { ipv4FromBytes, ipv6FromBytes } from './ip-address.ts';
import { emptyZipkinSpan, type ZipkinAnnotation, type ZipkinEndpoint, type ZipkinKind, type ZipkinSpan } from './zipkin-span.ts';

const KINDS: readonly (ZipkinKind | undefined)[] = [undefined, 'CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'];

/**
 * Decodes an (uncompressed) ListOfSpans. Spans with ids of the wrong length or all zeros are left out
 * and counted.
 *
 * @throws InvalidInputError when the bytes are not a valid message (truncated, lengths past the end,
 *   bad wire types); the message names the byte offset and the span being read.
 */
export function decodeProto3(body: Uint8Array): DecodedSpans {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return new Proto3Decoder(buf).decode();
}

class Proto3Decoder {
  readonly #buf: Buffer;
  /** For fixed64 reads: DataView#getBigUint64 makes one BigInt where Buffer#readBigUInt64LE makes four. */
  readonly #view: DataView;
  readonly #r: protobuf.Reader;
  #index = -1;

  constructor(buf: Buffer) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#r = protobuf.Reader.create(buf);
  }

  decode(): DecodedSpans {
    const r = this.#r;
    const spans: ZipkinSpan[] = [];
    const rejections = new SpanRejections('left out');
    try {
      while (r.pos < r.len) {
        const tag = r.tag();
        if (tag !== 10) {
          this.#skip(tag);
          continue;
        }
        this.#index++;
        const outer = this.#enter();
        try {
          spans.push(this.#span());
        } catch (err) {
          if (!(err instanceof SpanProblem)) throw err;
          rejections.add(`spans[${this.#index}]`, err.message);
          r.pos = r.len; // the rest of this span is skipped; its length prefix was valid
        }
        this.#leave(outer);
      }
    } catch (err) {
      const where = this.#index < 0 ? '' : `, in spans[${this.#index}]`;
      throw new InvalidInputError(
        `Expected a PROTO3 encoded list (zipkin.proto3.ListOfSpans): ${err instanceof Error ? err.message : String(err)} (at byte ${r.pos} of ${this.#buf.length}${where}).`,
        err,
      );
    }
    return { spans, rejected: rejections.count, rejectReason: rejections.message() };
  }

  #skip(tag: number): void {
    this.#r.skipType(tag & 7, 0, tag >>> 3);
  }

  /** Narrows the reader to a length-delimited sub-message so every read inside is bounds-checked. */
  #enter(): number {
    const r = this.#r;
    const length = r.size();
    if (length > r.len - r.pos) throw new RangeError(`length ${length} runs past the end of the enclosing message (${r.len - r.pos} bytes left)`);
    const outer = r.len;
    r.len = r.pos + length;
    return outer;
  }

  #leave(outer: number): void {
    this.#r.len = outer;
  }

  /** Reads the span's fields, then checks its ids (a SpanProblem leaves the reader inside the span). */
  #span(): ZipkinSpan {
    const r = this.#r;
    let traceId: Uint8Array | undefined;
    let parentId: Uint8Array | undefined;
    let id: Uint8Array | undefined;
    let kind: ZipkinKind | undefined;
    let name = '';
    let timestamp = 0n;
    let duration = 0n;
    let localEndpoint: ZipkinEndpoint | undefined;
    let remoteEndpoint: ZipkinEndpoint | undefined;
    const annotations: ZipkinAnnotation[] = [];
    const tags = new Map<string, string>();
    let debug = false;
    let shared = false;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 10: traceId = r.bytes(); break;
        case 18: parentId = r.bytes(); break;
        case 26: id = r.bytes(); break;
        case 32: kind = KINDS[r.uint32()]; break;
        case 42: name = r.string(); break;
        case 49: timestamp = this.#fixed64(); break;
        case 56: duration = this.#varint64(); break;
        case 66: localEndpoint = this.#endpoint(); break;
        case 74: remoteEndpoint = this.#endpoint(); break;
        case 82: {
          // An annotation without a time cannot be placed; Zipkin's readers skip it too.
          const a = this.#annotation();
          if (a.timestamp !== 0n) annotations.push(a);
          break;
        }
        case 90: this.#tag(tags); break;
        case 96: debug = r.bool(); break;
        case 104: shared = r.bool(); break;
        default: this.#skip(tag);
      }
    }
    const span = emptyZipkinSpan(traceIdFromBytes(traceId), idFromBytes(id, 'id'));
    if (parentId !== undefined && parentId.length > 0) span.parentId = idFromBytes(parentId, 'parent_id');
    span.kind = kind;
    span.name = name;
    span.timestamp = timestamp === 0n ? undefined : timestamp;
    span.duration = duration === 0n ? undefined : duration;
    span.localEndpoint = localEndpoint;
    span.remoteEndpoint = remoteEndpoint;
    span.annotations = annotations;
    span.tags = tags;
    span.debug = debug;
    span.shared = shared;
    return span;
  }

  #endpoint(): ZipkinEndpoint | undefined {
    const r = this.#r;
    const outer = this.#enter();
    let serviceName: string | undefined;
    let ipv4: string | undefined;
    let ipv6: string | undefined;
    let port: number | undefined;
    while (r.pos < r.len) {
      const tag = r.tag();
      switch (tag) {
        case 10: serviceName = r.string() || undefined; break;
        case 18: ipv4 = ipv4FromBytes(r.bytes()); break;
        case 26: {
          const v6 = ipv6FromBytes(r.bytes());
          ipv6 = v6.ipv6;
          if (v6.ipv4 !== undefined) ipv4 ??= v6.ipv4;
          break;
        }
        case 32: {
          const p = r.int32();
          port = p > 0 && p <= 0xffff ? p : undefined;
          break;
        }
        default: this.#skip(tag);
      }
    }
    this.#leave(outer);
    if (serviceName === undefined && ipv4 === undefined && ipv6 === undefined && port === undefined) return undefined;
    return { serviceName, ipv4, ipv6, port };
  }

  #annotation(): ZipkinAnnotation {
    const r = this.#r;
    const outer = this.#enter();
    let timestamp = 0n;
    let value = '';
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 9) timestamp = this.#fixed64();
      else if (tag === 18) value = r.string();
      else this.#skip(tag);
    }
    this.#leave(outer);
    return { timestamp, value };
  }

  /** One map<string,string> entry: { 1 key, 2 value }. */
  #tag(tags: Map<string, string>): void {
    const r = this.#r;
    const outer = this.#enter();
    let key = '';
    let value = '';
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 10) key = r.string();
      else if (tag === 18) value = r.string();
      else this.#skip(tag);
    }
    this.#leave(outer);
    tags.set(key, value);
  }

  #fixed64(): bigint {
    const r = this.#r;
    if (r.pos + 8 > r.len) throw new RangeError(`fixed64 needs 8 bytes, ${r.len - r.pos} left`);
    const v = this.#view.getBigUint64(r.pos, true);
    r.pos += 8;
    return v;
  }

  /** A uint64 varint as a bigint (protobufjs would hand back a Long). */
  #varint64(): bigint {
    const r = this.#r;
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (r.pos >= r.len) throw new RangeError('varint runs past the end of the message');
      const b = this.#buf[r.pos++]!;
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, value);
    }
    throw new RangeError('varint longer than 10 bytes');
  }
}

function traceIdFromBytes(b: Uint8Array | undefined): string {
  if (b === undefined || (b.length !== 8 && b.length !== 16)) {
    throw new SpanProblem(`trace_id must be 8 or 16 bytes, got ${b?.length ?? 0}`);
  }
  return traceIdFromHex(hexFromBytes(b), 'trace_id');
}

function idFromBytes(b: Uint8Array | undefined, field: string): string {
  if (b === undefined || b.length !== 8) throw new SpanProblem(`${field} must be 8 bytes, got ${b?.length ?? 0}`);
  return spanIdFromHex(hexFromBytes(b), field);
}
