/**
 * Encodes `jaeger.api_v2.PostSpansRequest` for tests with protobufjs's Writer, field numbers from
 * jaeger-idl proto/api_v2/model.proto and collector.proto, independently of the decoder. Used by the
 * decoder's unit tests and as the body of the test gRPC client.
 */
import protobuf from 'protobufjs/minimal.js';

/** model.proto ValueType: STRING 0, BOOL 1, INT64 2, FLOAT64 3, BINARY 4. */
export interface ProtoKeyValue {
  key: string;
  vType: number;
  vStr?: string;
  vBool?: boolean;
  vInt64?: bigint;
  vFloat64?: number;
  vBinary?: Uint8Array;
}

export interface ProtoProcess {
  serviceName: string;
  tags?: ProtoKeyValue[];
}

export interface ProtoSpan {
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
  operationName: string;
  references?: { traceId: string; spanId: string; refType: number }[];
  flags?: number;
  /** Nanoseconds since the epoch; written as a google.protobuf.Timestamp. */
  startTimeNs: bigint;
  /** Written as a google.protobuf.Duration. */
  durationNs: bigint;
  tags?: ProtoKeyValue[];
  logs?: { timeNs: bigint; fields: ProtoKeyValue[] }[];
  process?: ProtoProcess;
}

export interface ProtoBatch {
  spans: ProtoSpan[];
  process?: ProtoProcess;
}

/** The bytes of `PostSpansRequest { batch }`. */
export function encodePostSpansRequest(batch: ProtoBatch): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork();
  writeBatch(w, batch);
  w.ldelim();
  return Buffer.from(w.finish());
}

function writeBatch(w: protobuf.Writer, b: ProtoBatch): void {
  for (const s of b.spans) {
    w.uint32((1 << 3) | 2).fork();
    writeSpan(w, s);
    w.ldelim();
  }
  if (b.process) {
    w.uint32((2 << 3) | 2).fork();
    writeProcess(w, b.process);
    w.ldelim();
  }
}

function writeProcess(w: protobuf.Writer, p: ProtoProcess): void {
  w.uint32((1 << 3) | 2).string(p.serviceName);
  for (const t of p.tags ?? []) writeKeyValue(w, 2, t);
}

function writeSpan(w: protobuf.Writer, s: ProtoSpan): void {
  w.uint32((1 << 3) | 2).bytes(Buffer.from(s.traceId, 'hex'));
  w.uint32((2 << 3) | 2).bytes(Buffer.from(s.spanId, 'hex'));
  w.uint32((3 << 3) | 2).string(s.operationName);
  for (const r of s.references ?? []) {
    w.uint32((4 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).bytes(Buffer.from(r.traceId, 'hex'));
    w.uint32((2 << 3) | 2).bytes(Buffer.from(r.spanId, 'hex'));
    if (r.refType !== 0) w.uint32((3 << 3) | 0).int32(r.refType);
    w.ldelim();
  }
  if (s.flags) w.uint32((5 << 3) | 0).uint32(s.flags);
  writeTime(w, 6, s.startTimeNs);
  writeTime(w, 7, s.durationNs);
  for (const t of s.tags ?? []) writeKeyValue(w, 8, t);
  for (const l of s.logs ?? []) {
    w.uint32((9 << 3) | 2).fork();
    writeTime(w, 1, l.timeNs);
    for (const f of l.fields) writeKeyValue(w, 2, f);
    w.ldelim();
  }
  if (s.process) {
    w.uint32((10 << 3) | 2).fork();
    writeProcess(w, s.process);
    w.ldelim();
  }
}

/** Timestamp and Duration: 1 seconds (int64), 2 nanos (int32). */
function writeTime(w: protobuf.Writer, field: number, ns: bigint): void {
  w.uint32((field << 3) | 2).fork();
  const seconds = ns / 1_000_000_000n;
  const nanos = Number(ns % 1_000_000_000n);
  if (seconds !== 0n) w.uint32((1 << 3) | 0).int64(longBits(seconds));
  if (nanos !== 0) w.uint32((2 << 3) | 0).int32(nanos);
  w.ldelim();
}

function writeKeyValue(w: protobuf.Writer, field: number, kv: ProtoKeyValue): void {
  w.uint32((field << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string(kv.key);
  if (kv.vType !== 0) w.uint32((2 << 3) | 0).int32(kv.vType);
  if (kv.vStr !== undefined) w.uint32((3 << 3) | 2).string(kv.vStr);
  if (kv.vBool !== undefined) w.uint32((4 << 3) | 0).bool(kv.vBool);
  if (kv.vInt64 !== undefined) w.uint32((5 << 3) | 0).int64(longBits(kv.vInt64));
  if (kv.vFloat64 !== undefined) w.uint32((6 << 3) | 1).double(kv.vFloat64);
  if (kv.vBinary !== undefined) w.uint32((7 << 3) | 2).bytes(kv.vBinary);
  w.ldelim();
}

/** An int64 in the `{ low, high }` form protobufjs's Writer takes without the optional `long` package. */
function longBits(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0 } as unknown as number;
}
