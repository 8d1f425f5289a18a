/**
 * Decodes `jaeger.api_v2.PostSpansRequest` protobuf bytes (jaeger-idl proto/api_v2/collector.proto
 * and model.proto) into a JaegerBatch, in one pass with protobufjs's Reader and no generated code.
 * Each `case` is the wire tag `(field << 3) | wire_type`, so a field sent with an unexpected wire type
 * is skipped as unknown, as protobuf parsers do.
 */
import protobuf from 'protobufjs/minimal.js';
import { echo, InvalidInputError } from '../../core/errors.ts';
import { setAttribute } from '../../core/model/attributes.ts';
import type { AttributeValue, Attributes } from '../../core/model/span-batch.ts';
import { int64Value, type JaegerBatch, type JaegerLog, type JaegerProcess, type JaegerSpan, type JaegerSpanRef } from './jaeger-batch.ts';

type Reader = protobuf.Reader;

/** model.proto `enum ValueType { STRING, BOOL, INT64, FLOAT64, BINARY }` (not Thrift's TagType order). */
const ValueType = { STRING: 0, BOOL: 1, INT64: 2, FLOAT64: 3, BINARY: 4 } as const;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/**
 * Decodes an uncompressed PostSpansRequest. Ids of the wrong length decode as '' and the translator
 * rejects those spans; everything else wrong is a malformed message.
 *
 * @throws InvalidInputError when the bytes are not a valid message (truncated, bad lengths, groups).
 */
export function decodePostSpansRequest(bytes: Uint8Array): JaegerBatch {
  const r = protobuf.Reader.create(bytes);
  try {
    let batch: JaegerBatch = { process: undefined, spans: [] };
    while (r.pos < r.len) {
      const tag = r.uint32();
      // A repeated non-repeated message field merges in protobuf; Jaeger senders write it once.
      if (tag === 10) batch = readNested(r, readBatch);
      else skip(r, tag);
    }
    return batch;
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(
      `Cannot decode jaeger.api_v2.PostSpansRequest: ${err instanceof Error ? err.message : String(err)} (at byte ${r.pos} of ${r.len}).`,
      err,
    );
  }
}

/** Runs `read` over one length-delimited sub-message, with the reader's end moved to its end. */
function readNested<T>(r: Reader, read: (r: Reader) => T): T {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > r.len) throw new RangeError(`a sub-message of ${length} bytes runs past the end of its parent`);
  const outerLen = r.len;
  r.len = end;
  const value = read(r);
  r.len = outerLen;
  return value;
}

function readBatch(r: Reader): JaegerBatch {
  const spans: JaegerSpan[] = [];
  let process: JaegerProcess | undefined;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 10) spans.push(readNested(r, readSpan));
    else if (tag === 18) process = readNested(r, readProcess);
    else skip(r, tag);
  }
  return { process, spans };
}

function readProcess(r: Reader): JaegerProcess {
  let serviceName = '';
  const tags: Attributes = {};
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 10) serviceName = r.string();
    else if (tag === 18) readNested(r, (n) => readKeyValueInto(n, tags));
    else skip(r, tag);
  }
  return { serviceName, tags };
}

function readSpan(r: Reader): JaegerSpan {
  const span: JaegerSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    operationName: '',
    references: [],
    flags: 0,
    startTimeUnixNano: 0n,
    durationNano: 0n,
    tags: {},
    logs: [],
    process: undefined,
  };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case 10: span.traceId = readId(r, 16); break;
      case 18: span.spanId = readId(r, 8); break;
      case 26: span.operationName = r.string(); break;
      case 34: span.references.push(readNested(r, readSpanRef)); break;
      case 40: span.flags = r.uint32(); break;
      case 50: span.startTimeUnixNano = readNested(r, readTimestamp); break;
      case 58: span.durationNano = readNested(r, readTimestamp); break;
      case 66: readNested(r, (n) => readKeyValueInto(n, span.tags)); break;
      case 74: span.logs.push(readNested(r, readLog)); break;
      case 82: span.process = readNested(r, readProcess); break;
      default: skip(r, tag); // 11 process_id, 12 warnings
    }
  }
  return span;
}

function readSpanRef(r: Reader): JaegerSpanRef {
  const ref: JaegerSpanRef = { refType: 0, traceId: '', spanId: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 10) ref.traceId = readId(r, 16);
    else if (tag === 18) ref.spanId = readId(r, 8);
    else if (tag === 24) ref.refType = r.int32();
    else skip(r, tag);
  }
  return ref;
}

function readLog(r: Reader): JaegerLog {
  const log: JaegerLog = { timeUnixNano: 0n, fields: {} };
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 10) log.timeUnixNano = readNested(r, readTimestamp);
    else if (tag === 18) readNested(r, (n) => readKeyValueInto(n, log.fields));
    else skip(r, tag);
  }
  return log;
}

/**
 * google.protobuf.Timestamp and Duration share their layout (1 seconds int64, 2 nanos int32), so one
 * reader serves both, returning nanoseconds.
 */
function readTimestamp(r: Reader): bigint {
  let seconds = 0n;
  let nanos = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 8) seconds = BigInt.asIntN(64, readVarint64(r));
    else if (tag === 16) nanos = r.int32();
    else skip(r, tag);
  }
  return seconds * 1_000_000_000n + BigInt(nanos);
}

function readKeyValueInto(r: Reader, into: Attributes): void {
  let key = '';
  let vType = 0;
  let vStr = '';
  let vBool = false;
  let vInt64 = 0n;
  let vFloat64 = 0;
  let vBinary: Uint8Array | undefined;
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case 10: key = r.string(); break;
      case 16: vType = r.int32(); break;
      case 26: vStr = r.string(); break;
      case 32: vBool = r.bool(); break;
      case 40: vInt64 = readVarint64(r); break;
      case 49: vFloat64 = r.double(); break;
      // protobufjs returns a view of the request; copy so an attribute does not pin the whole body.
      case 58: vBinary = new Uint8Array(r.bytes()); break;
      default: skip(r, tag);
    }
  }
  let value: AttributeValue;
  switch (vType) {
    case ValueType.STRING: value = vStr; break;
    case ValueType.BOOL: value = vBool; break;
    case ValueType.INT64: value = int64Value(BigInt.asIntN(64, vInt64)); break;
    case ValueType.FLOAT64: value = vFloat64; break;
    case ValueType.BINARY: value = vBinary ?? new Uint8Array(0); break;
    default:
      throw new InvalidInputError(`KeyValue "${echo(key)}" has an unknown v_type ${vType}; model.proto ValueType is 0..4.`);
  }
  setAttribute(into, key, value);
}

/** An id field: lower-case hex when it has `size` bytes, '' otherwise (the translator rejects the span). */
function readId(r: Reader, size: number): string {
  const length = r.uint32();
  const start = r.pos;
  if (start + length > r.len) throw new RangeError(`an id of ${length} bytes runs past the end of its message`);
  r.pos = start + length;
  return length === size ? Buffer.from(r.buf.buffer, r.buf.byteOffset + start, length).toString('hex') : '';
}

/** A varint as an unsigned 64-bit bigint; protobufjs would hand back a Long or a lossy number. */
function readVarint64(r: Reader): bigint {
  const buf = r.buf;
  let low = 0;
  let shift = 0;
  // Up to 7 bytes (49 bits) stay exact in a double; only longer varints pay for bigint arithmetic.
  for (; shift < 49; shift += 7) {
    if (r.pos >= r.len) throw new RangeError('a varint runs past the end of its message');
    const b = buf[r.pos++]!;
    low += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return BigInt(low);
  }
  let result = BigInt(low);
  for (; shift < 70; shift += 7) {
    if (r.pos >= r.len) throw new RangeError('a varint runs past the end of its message');
    const b = buf[r.pos++]!;
    result |= BigInt(b & 0x7f) << BigInt(shift);
    if (b < 0x80) return BigInt.asUintN(64, result);
  }
  throw new RangeError('a varint is longer than 10 bytes');
}

/** Skips an unknown field. Groups (wire types 3, 4) do not exist in proto3 and are refused, not recursed into. */
function skip(r: Reader, tag: number): void {
  const wireType = tag & 7;
  if (tag >>> 3 === 0) throw new RangeError('a field number of 0');
  switch (wireType) {
    case WIRE_VARINT:
    case WIRE_FIXED64:
    case WIRE_LEN:
    case WIRE_FIXED32:
      r.skipType(wireType);
      return;
    default:
      throw new RangeError(`unsupported wire type ${wireType}`);
  }
}
