/**
 * Decodes Thrift `jaeger.Batch` and the `Agent.emitBatch` message around it, over either protocol.
 * Field ids follow jaeger-idl `thrift/jaeger.thrift` and `agent.thrift` (also shipped in the
 * jaeger-client package). As generated Thrift code does, a known field sent with another type is
 * skipped like an unknown one, and a missing `required` field fails the whole message.
 */
import { echo, InvalidInputError } from '../../core/errors.ts';
import { setAttribute } from '../../core/model/attributes.ts';
import type { AttributeValue, Attributes } from '../../core/model/span-batch.ts';
import { TMessageType, TType, typeName, type ThriftReader } from '../../core/thrift/thrift-reader.ts';
import { hex, KEY_CACHE, StringCache, VALUE_CACHE } from '../../core/model/string-cache.ts';
import { int64Value, type JaegerBatch, type JaegerLog, type JaegerProcess, type JaegerSpan, type JaegerSpanRef } from './jaeger-batch.ts';

/**
 * Tag keys, and short tag values, operation names and service names: strings most spans repeat,
 * read once per distinct value instead of once per span (core/model/string-cache.ts).
 */
const TAG_KEYS = new StringCache(KEY_CACHE);
const SHORT_STRINGS = new StringCache(VALUE_CACHE);
/**
 * Ids, as the OTLP decoder shares them: a trace id's halves and the whole id (spans of one trace
 * mostly follow each other in a batch), and span ids stored on first sight, so that a parent's id
 * is one string with its children's parent ids.
 */
const TRACE_ID_HALVES = new StringCache({ slots: 1024, maxBytes: 8, decode: hex });
const SPAN_IDS = new StringCache({ slots: 4096, maxBytes: 8, decode: hex, admit: 'always' });
let lastTraceId = { high: '', low: '', id: '' };

/** `high + low`, the same string as the last time these halves came. */
function joinTraceId(high: string, low: string): string {
  if (high !== lastTraceId.high || low !== lastTraceId.low) lastTraceId = { high, low, id: high + low };
  return lastTraceId.id;
}

/** jaeger.thrift `enum TagType { STRING, DOUBLE, BOOL, LONG, BINARY }`. */
const TagType = { STRING: 0, DOUBLE: 1, BOOL: 2, LONG: 3, BINARY: 4 } as const;

const ZERO_ID = '0000000000000000';

/**
 * Reads one `Agent.emitBatch` call: message header, then the args struct whose field 1 is the Batch.
 *
 * @throws InvalidInputError for a bad header, another method (`emitZipkinBatch` is not served), a
 *   reply or exception message, or a malformed Batch.
 */
export function decodeEmitBatch(reader: ThriftReader): JaegerBatch {
  const header = reader.readMessageBegin();
  if (header.type !== TMessageType.ONEWAY && header.type !== TMessageType.CALL) {
    throw new InvalidInputError(`Expected an Agent.emitBatch call (oneway), got a message of type ${header.type}.`);
  }
  if (header.name !== 'emitBatch') {
    throw new InvalidInputError(`Agent.${header.name} is not supported; only Agent.emitBatch (jaeger.thrift Batch) is accepted.`);
  }
  let batch: JaegerBatch | undefined;
  reader.readStructBegin();
  for (let t = reader.readFieldBegin(); t !== TType.STOP; t = reader.readFieldBegin()) {
    if (reader.fieldId === 1 && t === TType.STRUCT) batch = decodeThriftBatch(reader);
    else reader.skip(t);
  }
  reader.readStructEnd();
  if (batch === undefined) throw new InvalidInputError('Agent.emitBatch arguments carry no batch (field 1).');
  return batch;
}

/**
 * Reads one `jaeger.Batch` struct (the HTTP body, or emitBatch's argument).
 *
 * @throws InvalidInputError when the bytes are malformed or a required field is missing.
 */
export function decodeThriftBatch(reader: ThriftReader): JaegerBatch {
  let process: JaegerProcess | undefined;
  let spans: JaegerSpan[] | undefined;
  reader.readStructBegin();
  for (let t = reader.readFieldBegin(); t !== TType.STOP; t = reader.readFieldBegin()) {
    const id = reader.fieldId;
    if (id === 1 && t === TType.STRUCT) process = readProcess(reader);
    else if (id === 2 && t === TType.LIST) spans = readList(reader, 'Batch.spans', readSpan);
    else reader.skip(t); // 3 seqNo, 4 stats in newer IDL versions: not needed here.
  }
  reader.readStructEnd();
  if (process === undefined) missing('Batch', 'process');
  if (spans === undefined) missing('Batch', 'spans');
  return { process, spans };
}

function readProcess(r: ThriftReader): JaegerProcess {
  let serviceName: string | undefined;
  let tags: Attributes = {};
  r.readStructBegin();
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (id === 1 && t === TType.STRING) serviceName = r.readString(SHORT_STRINGS);
    else if (id === 2 && t === TType.LIST) tags = readTags(r, 'Process.tags');
    else r.skip(t);
  }
  r.readStructEnd();
  if (serviceName === undefined) missing('Process', 'serviceName');
  return { serviceName, tags };
}

function readSpan(r: ThriftReader): JaegerSpan {
  let traceIdLow: string | undefined;
  let traceIdHigh: string | undefined;
  let spanId: string | undefined;
  let parentSpanId: string | undefined;
  let operationName: string | undefined;
  let references: JaegerSpanRef[] = [];
  let flags: number | undefined;
  let startTime: bigint | undefined;
  let duration: bigint | undefined;
  let tags: Attributes = {};
  let logs: JaegerLog[] = [];
  r.readStructBegin();
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (t === TType.I64) {
      if (id === 1) traceIdLow = r.readI64Hex(TRACE_ID_HALVES);
      else if (id === 2) traceIdHigh = r.readI64Hex(TRACE_ID_HALVES);
      else if (id === 3) spanId = r.readI64Hex(SPAN_IDS);
      else if (id === 4) parentSpanId = r.readI64Hex(SPAN_IDS);
      else if (id === 8) startTime = r.readI64();
      else if (id === 9) duration = r.readI64();
      else r.skip(t);
    } else if (id === 5 && t === TType.STRING) operationName = r.readString(SHORT_STRINGS);
    else if (id === 6 && t === TType.LIST) references = readList(r, 'Span.references', readSpanRef);
    else if (id === 7 && t === TType.I32) flags = r.readI32();
    else if (id === 10 && t === TType.LIST) tags = readTags(r, 'Span.tags');
    else if (id === 11 && t === TType.LIST) logs = readList(r, 'Span.logs', readLog);
    else r.skip(t);
  }
  r.readStructEnd();
  if (traceIdLow === undefined) missing('Span', 'traceIdLow');
  if (traceIdHigh === undefined) missing('Span', 'traceIdHigh');
  if (spanId === undefined) missing('Span', 'spanId');
  if (parentSpanId === undefined) missing('Span', 'parentSpanId');
  if (operationName === undefined) missing('Span', 'operationName');
  if (flags === undefined) missing('Span', 'flags');
  if (startTime === undefined) missing('Span', 'startTime');
  if (duration === undefined) missing('Span', 'duration');
  return {
    traceId: joinTraceId(traceIdHigh, traceIdLow),
    spanId,
    parentSpanId: parentSpanId === ZERO_ID ? '' : parentSpanId,
    operationName,
    references,
    flags,
    // Thrift times are microseconds since the epoch; the model wants nanoseconds.
    startTimeUnixNano: startTime * 1000n,
    durationNano: duration * 1000n,
    tags,
    logs,
    process: undefined,
  };
}

function readSpanRef(r: ThriftReader): JaegerSpanRef {
  let refType: number | undefined;
  let traceIdLow: string | undefined;
  let traceIdHigh: string | undefined;
  let spanId: string | undefined;
  r.readStructBegin();
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (id === 1 && t === TType.I32) refType = r.readI32();
    else if (id === 2 && t === TType.I64) traceIdLow = r.readI64Hex();
    else if (id === 3 && t === TType.I64) traceIdHigh = r.readI64Hex();
    else if (id === 4 && t === TType.I64) spanId = r.readI64Hex();
    else r.skip(t);
  }
  r.readStructEnd();
  if (refType === undefined) missing('SpanRef', 'refType');
  if (traceIdLow === undefined) missing('SpanRef', 'traceIdLow');
  if (traceIdHigh === undefined) missing('SpanRef', 'traceIdHigh');
  if (spanId === undefined) missing('SpanRef', 'spanId');
  return { refType, traceId: traceIdHigh + traceIdLow, spanId };
}

function readLog(r: ThriftReader): JaegerLog {
  let timestamp: bigint | undefined;
  let fields: Attributes | undefined;
  r.readStructBegin();
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (id === 1 && t === TType.I64) timestamp = r.readI64();
    else if (id === 2 && t === TType.LIST) fields = readTags(r, 'Log.fields');
    else r.skip(t);
  }
  r.readStructEnd();
  if (timestamp === undefined) missing('Log', 'timestamp');
  if (fields === undefined) missing('Log', 'fields');
  return { timeUnixNano: timestamp * 1000n, fields };
}

/** A `list<Tag>` straight into attributes; a repeated key keeps its last value. */
function readTags(r: ThriftReader, where: string): Attributes {
  const n = r.readListBegin();
  expectElements(r, n, where, TType.STRUCT);
  const attrs: Attributes = {};
  for (let i = 0; i < n; i++) readTagInto(r, attrs);
  return attrs;
}

function readTagInto(r: ThriftReader, attrs: Attributes): void {
  let key: string | undefined;
  let vType: number | undefined;
  let vStr: string | undefined;
  let vDouble: number | undefined;
  let vBool: boolean | undefined;
  let vLong: bigint | undefined;
  let vBinary: Buffer | undefined;
  r.readStructBegin();
  for (let t = r.readFieldBegin(); t !== TType.STOP; t = r.readFieldBegin()) {
    const id = r.fieldId;
    if (id === 1 && t === TType.STRING) key = r.readString(TAG_KEYS);
    else if (id === 2 && t === TType.I32) vType = r.readI32();
    else if (id === 3 && t === TType.STRING) vStr = r.readString(SHORT_STRINGS);
    else if (id === 4 && t === TType.DOUBLE) vDouble = r.readDouble();
    else if (id === 5 && t === TType.BOOL) vBool = r.readBool();
    else if (id === 6 && t === TType.I64) vLong = r.readI64();
    else if (id === 7 && t === TType.STRING) vBinary = r.readBinary();
    else r.skip(t);
  }
  r.readStructEnd();
  if (key === undefined) missing('Tag', 'key');
  if (vType === undefined) missing('Tag', 'vType');
  let value: AttributeValue;
  switch (vType) {
    case TagType.STRING: value = vStr ?? ''; break;
    case TagType.DOUBLE: value = vDouble ?? 0; break;
    case TagType.BOOL: value = vBool ?? false; break;
    case TagType.LONG: value = vLong === undefined ? 0 : int64Value(vLong); break;
    // Copied so a small tag does not keep the whole packet or request body alive.
    case TagType.BINARY: value = new Uint8Array(vBinary ?? []); break;
    default:
      throw new InvalidInputError(`Tag "${echo(key)}" has an unknown vType ${vType}; jaeger.thrift TagType is 0..4.`);
  }
  setAttribute(attrs, key, value);
}

function readList<T>(r: ThriftReader, where: string, readOne: (r: ThriftReader) => T): T[] {
  const n = r.readListBegin();
  expectElements(r, n, where, TType.STRUCT);
  const out: T[] = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = readOne(r);
  return out;
}

function expectElements(r: ThriftReader, n: number, where: string, type: number): void {
  if (n > 0 && r.elemType !== type) throw new InvalidInputError(`${where} should be a list of ${typeName(type)}, got a list of ${typeName(r.elemType)}.`);
}

function missing(struct: string, field: string): never {
  throw new InvalidInputError(`jaeger.thrift ${struct} is missing its required field ${field}.`);
}
