/**
 * A small TCompactProtocol writer for tests (apache/thrift doc/specs/thrift-compact-protocol.md),
 * written independently of the reader, plus an encoder for `Agent.emitBatch` with a jaeger.Batch.
 * No npm package here writes compact (jaeger-client's thriftrw only does binary), and the Go, Java
 * and Python clients that send compact are not available to the test suite.
 */

/** Compact type ids as they appear on the wire. */
export const CT = {
  BOOL_TRUE: 1,
  BOOL_FALSE: 2,
  BYTE: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  SET: 10,
  MAP: 11,
  STRUCT: 12,
} as const;

/** Writes compact bytes; call `bytes()` at the end. */
export class CompactWriter {
  #out: number[] = [];
  #lastField = 0;
  readonly #stack: number[] = [];

  bytes(): Buffer {
    return Buffer.from(this.#out);
  }

  raw(...bytes: number[]): this {
    this.#out.push(...bytes);
    return this;
  }

  varint(v: bigint | number): this {
    let u = BigInt(v);
    if (u < 0n) throw new Error('varint takes unsigned values');
    do {
      const b = Number(u & 0x7fn);
      u >>= 7n;
      this.#out.push(u > 0n ? b | 0x80 : b);
    } while (u > 0n);
    return this;
  }

  zigzag32(v: number): this {
    return this.varint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  /** Takes signed or unsigned 64-bit values; both are written as the same i64 bits. */
  zigzag64(v: bigint): this {
    const s = BigInt.asIntN(64, v);
    return this.varint(BigInt.asUintN(64, (s << 1n) ^ (s >> 63n)));
  }

  messageBegin(name: string, type: number, seqId: number): this {
    this.raw(0x82, (type << 5) | 1);
    this.varint(seqId);
    return this.string(name);
  }

  structBegin(): this {
    this.#stack.push(this.#lastField);
    this.#lastField = 0;
    return this;
  }

  structEnd(): this {
    this.#out.push(0);
    this.#lastField = this.#stack.pop() ?? 0;
    return this;
  }

  /** A field header: short form (delta 1..15) when it fits, else type byte plus zigzag i16 id. */
  field(type: number, id: number): this {
    const delta = id - this.#lastField;
    if (delta > 0 && delta <= 15) this.#out.push((delta << 4) | type);
    else {
      this.#out.push(type);
      this.zigzag32(id);
    }
    this.#lastField = id;
    return this;
  }

  boolField(id: number, v: boolean): this {
    return this.field(v ? CT.BOOL_TRUE : CT.BOOL_FALSE, id);
  }

  listBegin(elemType: number, size: number): this {
    if (size < 15) this.#out.push((size << 4) | elemType);
    else {
      this.#out.push(0xf0 | elemType);
      this.varint(size);
    }
    return this;
  }

  binary(b: Uint8Array): this {
    this.varint(b.length);
    this.#out.push(...b);
    return this;
  }

  string(s: string): this {
    return this.binary(Buffer.from(s, 'utf8'));
  }

  double(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.#out.push(...b);
    return this;
  }
}

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
