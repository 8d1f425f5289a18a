/**
 * Zipkin v1 Thrift (`POST /api/v1/spans` with `application/x-thrift`): a TBinaryProtocol
 * `list<Span>` of zipkinCore structs (zipkin-api `thrift/zipkinCore.thrift`), converted to v2 spans
 * with `convertV1Span`. Field ids and types:
 *
 *   Span             { 1 trace_id i64, 3 name string, 4 id i64, 5 parent_id i64,
 *                      6 annotations list<Annotation>, 8 binary_annotations list<BinaryAnnotation>,
 *                      9 debug bool, 10 timestamp i64 µs, 11 duration i64 µs, 12 trace_id_high i64 }
 *   Annotation       { 1 timestamp i64 µs, 2 value string, 3 host Endpoint }
 *   BinaryAnnotation { 1 key string, 2 value binary (big-endian), 3 annotation_type i32, 4 host Endpoint }
 *   Endpoint         { 1 ipv4 i32, 2 port i16 (unsigned), 3 service_name string, 4 ipv6 binary(16) }
 *   AnnotationType   BOOL 0, BYTES 1, I16 2, I32 3, I64 4, DOUBLE 5, STRING 6
 *
 * A field with an unexpected type is skipped, as Zipkin's reader does. Zipkin keeps only STRING
 * binary annotations (and BOOL addresses); we also keep the numeric and other BOOL ones as text.
 */
import { InvalidInputError } from '../../core/errors.ts';
import { SpanRejections } from '../../core/model/span-rejections.ts';
import { BinaryProtocolReader } from '../../core/thrift/binary-protocol-reader.ts';
import { TType } from '../../core/thrift/thrift-reader.ts';
import { SpanProblem, type DecodedSpans } from './decoded-spans.ts';
import { convertV1Span } from './convert-v1-span.ts';
import { spanIdFromHex, traceIdFromHex } from './hex-id.ts';
import { ipv4FromInt32, ipv6FromBytes } from './ip-address.ts';
import { ADDRESS_KEYS, type V1Annotation, type V1BinaryAnnotation, type V1Span } from './v1-span.ts';
import type { ZipkinEndpoint, ZipkinSpan } from './zipkin-span.ts';

const ZERO_ID = '0000000000000000';

/**
 * Decodes a Thrift body into v2 spans. Spans with missing or zero ids are left out and counted.
 *
 * @throws InvalidInputError when the bytes are not a TBinaryProtocol list of structs (truncated,
 *   lengths past the end, unknown types, bytes left over); the message names the byte offset.
 */
export function decodeThriftV1(body: Uint8Array): DecodedSpans {
  const r = new BinaryProtocolReader(body);
  const spans: ZipkinSpan[] = [];
  const rejections = new SpanRejections('left out');
  let index = -1;
  try {
    const size = r.readListBegin();
    if (r.elemType !== TType.STRUCT) throw new RangeError(`the list holds elements of type ${r.elemType}, not structs (type 12)`);
    for (index = 0; index < size; index++) {
      // The whole struct is read before its ids are checked, so a bad span never desynchronises the list.
      const raw = readSpan(r);
      try {
        spans.push(...convertV1Span(toV1Span(raw)));
      } catch (err) {
        if (!(err instanceof SpanProblem)) throw err;
        rejections.add(`spans[${index}]`, err.message);
      }
    }
    index = -1;
    if (r.remaining > 0) throw new RangeError(`${r.remaining} bytes follow the end of the list`);
  } catch (err) {
    const where = index < 0 ? '' : ` in spans[${index}]`;
    // The reader's own errors name the byte already.
    const problem = err instanceof InvalidInputError ? err.message : `${err instanceof Error ? err.message : String(err)} (at byte ${r.offset}).`;
    throw new InvalidInputError(`Expected a THRIFT encoded list (TBinaryProtocol list<zipkinCore.Span>) of ${body.length} bytes${where}: ${problem}`, err);
  }
  return { spans, rejected: rejections.count, rejectReason: rejections.message() };
}

/** A Span struct as read, before id checks. */
interface RawSpan {
  traceIdHigh: string;
  traceId: string;
  id: string;
  parentId: string | undefined;
  name: string;
  timestamp: bigint;
  duration: bigint;
  debug: boolean;
  annotations: V1Annotation[];
  binaryAnnotations: V1BinaryAnnotation[];
}

function readSpan(r: BinaryProtocolReader): RawSpan {
  const span: RawSpan = {
    traceIdHigh: ZERO_ID,
    traceId: ZERO_ID,
    id: ZERO_ID,
    parentId: undefined,
    name: '',
    timestamp: 0n,
    duration: 0n,
    debug: false,
    annotations: [],
    binaryAnnotations: [],
  };
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (id === 1 && t === TType.I64) span.traceId = r.readI64Hex();
    else if (id === 3 && t === TType.STRING) span.name = r.readString();
    else if (id === 4 && t === TType.I64) span.id = r.readI64Hex();
    else if (id === 5 && t === TType.I64) span.parentId = r.readI64Hex();
    else if (id === 6 && t === TType.LIST) readList(r, TType.STRUCT, () => readAnnotation(r, span.annotations));
    else if (id === 8 && t === TType.LIST) readList(r, TType.STRUCT, () => readBinaryAnnotation(r, span.binaryAnnotations));
    else if (id === 9 && t === TType.BOOL) span.debug = r.readBool();
    else if (id === 10 && t === TType.I64) span.timestamp = nonNegative(r.readI64());
    else if (id === 11 && t === TType.I64) span.duration = nonNegative(r.readI64());
    else if (id === 12 && t === TType.I64) span.traceIdHigh = r.readI64Hex();
    else r.skip(t);
  }
  return span;
}

/** Reads a list whose elements must be `elemType`; a list of anything else is skipped whole. */
function readList(r: BinaryProtocolReader, elemType: number, readOne: () => void): void {
  const size = r.readListBegin();
  const actual = r.elemType;
  for (let i = 0; i < size; i++) {
    if (actual === elemType) readOne();
    else r.skip(actual);
  }
}

function readAnnotation(r: BinaryProtocolReader, out: V1Annotation[]): void {
  let timestamp = 0n;
  let value: string | undefined;
  let endpoint: ZipkinEndpoint | undefined;
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (id === 1 && t === TType.I64) timestamp = nonNegative(r.readI64());
    else if (id === 2 && t === TType.STRING) value = r.readString();
    else if (id === 3 && t === TType.STRUCT) endpoint = readEndpoint(r);
    else r.skip(t);
  }
  // Zipkin's reader skips an annotation without a time or value.
  if (timestamp !== 0n && value !== undefined) out.push({ timestamp, value, endpoint });
}

function readBinaryAnnotation(r: BinaryProtocolReader, out: V1BinaryAnnotation[]): void {
  let key: string | undefined;
  let value: Buffer | undefined;
  let type: number | undefined;
  let endpoint: ZipkinEndpoint | undefined;
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (id === 1 && t === TType.STRING) key = r.readString();
    else if (id === 2 && t === TType.STRING) value = r.readBinary();
    else if (id === 3 && t === TType.I32) type = r.readI32();
    else if (id === 4 && t === TType.STRUCT) endpoint = readEndpoint(r);
    else r.skip(t);
  }
  if (key === undefined || value === undefined) return;
  if (type === 0 && ADDRESS_KEYS.has(key)) {
    // An address annotation: value is the single byte 1, the endpoint is the remote side.
    if (value.length === 1 && value[0] === 1 && endpoint !== undefined) out.push({ key, stringValue: undefined, endpoint });
    return;
  }
  const text = binaryAnnotationText(type, value);
  if (text !== undefined) out.push({ key, stringValue: text, endpoint });
}

/** The value of a typed binary annotation as text; undefined when its bytes do not fit its type. */
function binaryAnnotationText(type: number | undefined, v: Buffer): string | undefined {
  switch (type) {
    case 0: return v.length === 1 ? String(v[0] === 1) : undefined;
    case 1: return v.toString('base64');
    case 2: return v.length === 2 ? String(v.readInt16BE(0)) : undefined;
    case 3: return v.length === 4 ? String(v.readInt32BE(0)) : undefined;
    case 4: return v.length === 8 ? String(v.readBigInt64BE(0)) : undefined;
    case 5: return v.length === 8 ? String(v.readDoubleBE(0)) : undefined;
    case 6: return v.toString('utf8');
    default: return undefined;
  }
}

function readEndpoint(r: BinaryProtocolReader): ZipkinEndpoint | undefined {
  let serviceName: string | undefined;
  let ipv4: string | undefined;
  let ipv6: string | undefined;
  let port: number | undefined;
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (id === 1 && t === TType.I32) ipv4 = ipv4FromInt32(r.readI32());
    else if (id === 2 && t === TType.I16) {
      // An unsigned port in a signed i16.
      const p = r.readI16() & 0xffff;
      port = p === 0 ? undefined : p;
    } else if (id === 3 && t === TType.STRING) serviceName = r.readString() || undefined;
    else if (id === 4 && t === TType.STRING) {
      const v6 = ipv6FromBytes(r.readBinary());
      ipv6 = v6.ipv6;
      if (v6.ipv4 !== undefined) ipv4 ??= v6.ipv4;
    } else r.skip(t);
  }
  if (serviceName === undefined && ipv4 === undefined && ipv6 === undefined && port === undefined) return undefined;
  return { serviceName, ipv4, ipv6, port };
}

function toV1Span(raw: RawSpan): V1Span {
  if (raw.traceId === ZERO_ID && raw.traceIdHigh === ZERO_ID) throw new SpanProblem('trace_id is missing or zero');
  if (raw.id === ZERO_ID) throw new SpanProblem('id is missing or zero');
  const traceHex = raw.traceIdHigh === ZERO_ID ? raw.traceId : raw.traceIdHigh + raw.traceId;
  return {
    traceId: traceIdFromHex(traceHex, 'trace_id'),
    id: spanIdFromHex(raw.id),
    // Zipkin reads a zero parent id as "no parent".
    parentId: raw.parentId === undefined || raw.parentId === ZERO_ID ? undefined : spanIdFromHex(raw.parentId, 'parent_id'),
    name: raw.name,
    timestamp: raw.timestamp,
    duration: raw.duration,
    debug: raw.debug,
    annotations: raw.annotations,
    binaryAnnotations: raw.binaryAnnotations,
  };
}

/** Negative times are garbage; treat them as absent. */
function nonNegative(v: bigint): bigint {
  return v > 0n ? v : 0n;
}
