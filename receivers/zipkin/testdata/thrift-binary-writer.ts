/**
 * A tiny TBinaryProtocol writer for tests, so Thrift bodies come from an encoder independent of the
 * decoder under test. The `zipkin` npm package (0.22) has JSON encoders only, no Thrift one, so the
 * zipkinCore structs are written here from the IDL (zipkin-api `thrift/zipkinCore.thrift`).
 */

const T = { STOP: 0, BOOL: 2, I16: 6, I32: 8, I64: 10, STRING: 11, STRUCT: 12, LIST: 15 } as const;

export interface ThriftEndpoint {
  ipv4?: number;
  port?: number;
  serviceName?: string;
  ipv6?: Buffer;
}
export interface ThriftAnnotation {
  timestamp: bigint;
  value: string;
  host?: ThriftEndpoint;
}
export interface ThriftBinaryAnnotation {
  key: string;
  value: Buffer;
  /** AnnotationType: BOOL 0, BYTES 1, I16 2, I32 3, I64 4, DOUBLE 5, STRING 6. */
  type: number;
  host?: ThriftEndpoint;
}
export interface ThriftSpan {
  traceId: bigint;
  traceIdHigh?: bigint;
  name?: string;
  id: bigint;
  parentId?: bigint;
  annotations?: ThriftAnnotation[];
  binaryAnnotations?: ThriftBinaryAnnotation[];
  debug?: boolean;
  timestamp?: bigint;
  duration?: bigint;
  /** Extra raw bytes written as fields before STOP (to test skipping of unknown fields). */
  extraFields?: Buffer;
}

/** Byte-level writer. */
export class ThriftWriter {
  readonly #parts: Buffer[] = [];

  byte(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    this.#parts.push(b);
    return this;
  }
  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.#parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.#parts.push(b);
    return this;
  }
  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt.asIntN(64, v));
    this.#parts.push(b);
    return this;
  }
  binary(v: Buffer | string): this {
    const b = typeof v === 'string' ? Buffer.from(v) : v;
    this.i32(b.length);
    this.#parts.push(b);
    return this;
  }
  raw(b: Buffer): this {
    this.#parts.push(b);
    return this;
  }
  field(type: number, id: number): this {
    return this.byte(type).i16(id);
  }
  stop(): this {
    return this.byte(T.STOP);
  }
  listHeader(elemType: number, size: number): this {
    return this.byte(elemType).i32(size);
  }
  bytes(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

function endpoint(w: ThriftWriter, e: ThriftEndpoint): void {
  if (e.ipv4 !== undefined) w.field(T.I32, 1).i32(e.ipv4);
  if (e.port !== undefined) w.field(T.I16, 2).i16(e.port > 0x7fff ? e.port - 0x10000 : e.port);
  if (e.serviceName !== undefined) w.field(T.STRING, 3).binary(e.serviceName);
  if (e.ipv6 !== undefined) w.field(T.STRING, 4).binary(e.ipv6);
  w.stop();
}

function span(w: ThriftWriter, s: ThriftSpan): void {
  w.field(T.I64, 1).i64(s.traceId);
  if (s.name !== undefined) w.field(T.STRING, 3).binary(s.name);
  w.field(T.I64, 4).i64(s.id);
  if (s.parentId !== undefined) w.field(T.I64, 5).i64(s.parentId);
  if (s.annotations !== undefined) {
    w.field(T.LIST, 6).listHeader(T.STRUCT, s.annotations.length);
    for (const a of s.annotations) {
      w.field(T.I64, 1).i64(a.timestamp);
      w.field(T.STRING, 2).binary(a.value);
      if (a.host !== undefined) {
        w.field(T.STRUCT, 3);
        endpoint(w, a.host);
      }
      w.stop();
    }
  }
  if (s.binaryAnnotations !== undefined) {
    w.field(T.LIST, 8).listHeader(T.STRUCT, s.binaryAnnotations.length);
    for (const b of s.binaryAnnotations) {
      w.field(T.STRING, 1).binary(b.key);
      w.field(T.STRING, 2).binary(b.value);
      w.field(T.I32, 3).i32(b.type);
      if (b.host !== undefined) {
        w.field(T.STRUCT, 4);
        endpoint(w, b.host);
      }
      w.stop();
    }
  }
  if (s.debug !== undefined) w.field(T.BOOL, 9).byte(s.debug ? 1 : 0);
  if (s.timestamp !== undefined) w.field(T.I64, 10).i64(s.timestamp);
  if (s.duration !== undefined) w.field(T.I64, 11).i64(s.duration);
  if (s.traceIdHigh !== undefined) w.field(T.I64, 12).i64(s.traceIdHigh);
  if (s.extraFields !== undefined) w.raw(s.extraFields);
  w.stop();
}

/** A TBinaryProtocol `list<Span>`, the body of a v1 Thrift POST. */
export function encodeThriftSpans(spans: ThriftSpan[]): Buffer {
  const w = new ThriftWriter().listHeader(T.STRUCT, spans.length);
  for (const s of spans) span(w, s);
  return w.bytes();
}

/** 1.2.3.4 → (1 << 24) | (2 << 16) | (3 << 8) | 4, as a signed i32. */
export function packIpv4(text: string): number {
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) | 0;
}

/** A STRING binary annotation. */
export function stringAnnotation(key: string, value: string, host?: ThriftEndpoint): ThriftBinaryAnnotation {
  return { key, value: Buffer.from(value), type: 6, host };
}

/** An address binary annotation (`ca`, `sa`, `ma`): BOOL true with the address as host. */
export function addressAnnotation(key: 'ca' | 'sa' | 'ma', host: ThriftEndpoint): ThriftBinaryAnnotation {
  return { key, value: Buffer.from([1]), type: 0, host };
}
