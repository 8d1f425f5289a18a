/**
 * An encoder for `Agent.emitBatch` with a jaeger.Batch in TCompactProtocol, for tests, on the
 * generic compact writer in core/thrift/testdata.
 */
import { CT, CompactWriter } from '../../../core/thrift/testdata/compact-writer.ts';

export interface TagSpec {
  key: string;
  vType: number; // jaeger.thrift TagType: STRING 0, DOUBLE 1, BOOL 2, LONG 3, BINARY 4
  vStr?: string;
  vDouble?: number;
  vBool?: boolean;
  vLong?: bigint;
  vBinary?: Uint8Array;
}

export interface SpanSpec {
  traceIdLow: bigint;
  traceIdHigh: bigint;
  spanId: bigint;
  parentSpanId: bigint;
  operationName: string;
  references?: { refType: number; traceIdLow: bigint; traceIdHigh: bigint; spanId: bigint }[];
  flags: number;
  startTime: bigint;
  duration: bigint;
  tags?: TagSpec[];
  logs?: { timestamp: bigint; fields: TagSpec[] }[];
}

export interface BatchSpec {
  process: { serviceName: string; tags?: TagSpec[] };
  spans: SpanSpec[];
  /** Appended to the Batch struct as field 3 (newer IDLs' seqNo), to prove unknown fields are skipped. */
  seqNo?: bigint;
}

/** `Agent.emitBatch(batch)` as a oneway compact message, as jaeger-agent's compact port expects it. */
export function encodeEmitBatchCompact(batch: BatchSpec, opts: { name?: string; type?: number } = {}): Buffer {
  const w = new CompactWriter();
  w.messageBegin(opts.name ?? 'emitBatch', opts.type ?? 4, 1);
  w.structBegin().field(CT.STRUCT, 1);
  writeBatch(w, batch);
  w.structEnd();
  return w.bytes();
}

export function writeBatch(w: CompactWriter, b: BatchSpec): void {
  w.structBegin();
  w.field(CT.STRUCT, 1).structBegin().field(CT.BINARY, 1).string(b.process.serviceName);
  if (b.process.tags) writeTags(w, 2, b.process.tags);
  w.structEnd();
  w.field(CT.LIST, 2).listBegin(CT.STRUCT, b.spans.length);
  for (const s of b.spans) writeSpan(w, s);
  if (b.seqNo !== undefined) w.field(CT.I64, 3).zigzag64(b.seqNo);
  w.structEnd();
}

function writeSpan(w: CompactWriter, s: SpanSpec): void {
  w.structBegin();
  w.field(CT.I64, 1).zigzag64(s.traceIdLow);
  w.field(CT.I64, 2).zigzag64(s.traceIdHigh);
  w.field(CT.I64, 3).zigzag64(s.spanId);
  w.field(CT.I64, 4).zigzag64(s.parentSpanId);
  w.field(CT.BINARY, 5).string(s.operationName);
  if (s.references) {
    w.field(CT.LIST, 6).listBegin(CT.STRUCT, s.references.length);
    for (const r of s.references) {
      w.structBegin();
      w.field(CT.I32, 1).zigzag32(r.refType);
      w.field(CT.I64, 2).zigzag64(r.traceIdLow);
      w.field(CT.I64, 3).zigzag64(r.traceIdHigh);
      w.field(CT.I64, 4).zigzag64(r.spanId);
      w.structEnd();
    }
  }
  w.field(CT.I32, 7).zigzag32(s.flags);
  w.field(CT.I64, 8).zigzag64(s.startTime);
  w.field(CT.I64, 9).zigzag64(s.duration);
  if (s.tags) writeTags(w, 10, s.tags);
  if (s.logs) {
    w.field(CT.LIST, 11).listBegin(CT.STRUCT, s.logs.length);
    for (const l of s.logs) {
      w.structBegin();
      w.field(CT.I64, 1).zigzag64(l.timestamp);
      writeTags(w, 2, l.fields);
      w.structEnd();
    }
  }
  w.structEnd();
}

function writeTags(w: CompactWriter, fieldId: number, tags: TagSpec[]): void {
  w.field(CT.LIST, fieldId).listBegin(CT.STRUCT, tags.length);
  for (const t of tags) {
    w.structBegin();
    w.field(CT.BINARY, 1).string(t.key);
    w.field(CT.I32, 2).zigzag32(t.vType);
    if (t.vStr !== undefined) w.field(CT.BINARY, 3).string(t.vStr);
    if (t.vDouble !== undefined) w.field(CT.DOUBLE, 4).double(t.vDouble);
    if (t.vBool !== undefined) w.boolField(5, t.vBool);
    if (t.vLong !== undefined) w.field(CT.I64, 6).zigzag64(t.vLong);
    if (t.vBinary !== undefined) w.field(CT.BINARY, 7).binary(t.vBinary);
    w.structEnd();
  }
}
