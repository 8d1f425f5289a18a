/**
 * What the Thrift decoders (Jaeger's `jaeger.Batch`, Zipkin's v1 `list<Span>`) need from a Thrift
 * protocol, and the parts both protocols share: the type ids, the message types, bounds checks and a
 * depth-limited `skip` for fields we do not know.
 *
 * Types are reported in TBinaryProtocol's numbering (the "TType" of every Thrift library); the
 * compact reader translates its own ids into these. Every read checks the bytes left first, and every
 * declared element count is checked against the fewest bytes its elements can take, so a truncated
 * or lying body ends in InvalidInputError after at most one pass over it, never in an out-of-range
 * read, a huge allocation or a loop that does not end.
 */
import type { StringCache } from '../model/string-cache.ts';
import { InvalidInputError } from '../errors.ts';

/** Thrift TType ids (apache/thrift lib TType; TBinaryProtocol writes these on the wire). */
export const TType = {
  STOP: 0,
  BOOL: 2,
  BYTE: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
  UUID: 16,
} as const;
export type TType = (typeof TType)[keyof typeof TType];

/** Thrift TMessageType: `Agent.emitBatch` is declared oneway, but some clients send it as CALL. */
export const TMessageType = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const;

/** A message header, read by `readMessageBegin`. */
export interface ThriftMessageHeader {
  name: string;
  type: number;
  seqId: number;
}

/** Nesting allowed while skipping unknown values; Jaeger's and Zipkin's own structs nest four deep. */
export const MAX_SKIP_DEPTH = 32;

const TYPE_NAMES: Record<number, string> = {
  0: 'stop', 2: 'bool', 3: 'byte', 4: 'double', 6: 'i16', 8: 'i32', 10: 'i64', 11: 'string',
  12: 'struct', 13: 'map', 14: 'set', 15: 'list', 16: 'uuid',
};

/** A TType's name for error messages. */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `unknown type ${type}`;
}

/**
 * One Thrift protocol over one byte buffer. Readers are single-use and not thread-safe; the read
 * methods mirror apache/thrift's TProtocol so a decoder reads like generated code.
 */
export abstract class ThriftReader {
  protected readonly buf: Buffer;
  protected pos = 0;
  /** The id of the field whose header `readFieldBegin` returned last. */
  fieldId = 0;
  /** The element type of the list or set `readListBegin` opened last. */
  elemType: number = TType.STOP;
  /** Key and value types of the map `readMapBegin` opened last. */
  keyType: number = TType.STOP;
  valueType: number = TType.STOP;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Byte offset of the next read, for error messages. */
  get offset(): number {
    return this.pos;
  }

  abstract readMessageBegin(): ThriftMessageHeader;
  abstract readStructBegin(): void;
  abstract readStructEnd(): void;
  /** Returns the field's TType, or `TType.STOP` at the end of the struct; the id is in `fieldId`. */
  abstract readFieldBegin(): number;
  /** Returns the element count; the element type is in `elemType`. */
  abstract readListBegin(): number;
  /** Returns the entry count; the types are in `keyType` and `valueType`. */
  abstract readMapBegin(): number;
  abstract readBool(): boolean;
  abstract readByte(): number;
  abstract readI16(): number;
  abstract readI32(): number;
  abstract readI64(): bigint;
  abstract readDouble(): number;
  /** The length prefix of a string or binary value. */
  protected abstract readBinaryLength(): number;

  /**
   * A Thrift i64 as 16 lower-case hex digits of its two's-complement bits (how Jaeger ids travel).
   * `cache` (one that decodes to hex) is used where the protocol stores the i64 as its 8 bytes.
   */
  readI64Hex(_cache?: StringCache): string {
    return BigInt.asUintN(64, this.readI64()).toString(16).padStart(16, '0');
  }

  /** A view into the body, not a copy. */
  readBinary(): Buffer {
    const n = this.readBinaryLength();
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }

  /**
   * A string value, decoded as UTF-8 straight from the body. Through `cache` when given, so that a
   * string many spans repeat (tag keys, operation names) is one shared string (core/model/string-cache.ts).
   */
  readString(cache?: StringCache): string {
    const n = this.readBinaryLength();
    const at = this.take(n);
    return cache !== undefined ? cache.read(this.buf, at, at + n) : this.buf.toString('utf8', at, at + n);
  }

  /** Sets are read exactly like lists in both protocols. */
  readSetBegin(): number {
    return this.readListBegin();
  }

  /** Reads past one value of `type`, however deeply nested, up to MAX_SKIP_DEPTH levels. */
  skip(type: number, depth = 0): void {
    if (depth > MAX_SKIP_DEPTH) this.fail(`values nested more than ${MAX_SKIP_DEPTH} deep`);
    switch (type) {
      case TType.BOOL: this.readBool(); return;
      case TType.BYTE: this.readByte(); return;
      case TType.I16: this.readI16(); return;
      case TType.I32: this.readI32(); return;
      case TType.I64: this.readI64(); return;
      case TType.DOUBLE: this.readDouble(); return;
      case TType.STRING: this.readBinary(); return;
      case TType.UUID: this.take(16); return;
      case TType.STRUCT: {
        this.readStructBegin();
        for (let t = this.readFieldBegin(); t !== TType.STOP; t = this.readFieldBegin()) this.skip(t, depth + 1);
        this.readStructEnd();
        return;
      }
      case TType.LIST:
      case TType.SET: {
        const n = this.readListBegin();
        const elem = this.elemType;
        for (let i = 0; i < n; i++) this.skip(elem, depth + 1);
        return;
      }
      case TType.MAP: {
        const n = this.readMapBegin();
        const k = this.keyType;
        const v = this.valueType;
        for (let i = 0; i < n; i++) {
          this.skip(k, depth + 1);
          this.skip(v, depth + 1);
        }
        return;
      }
      default:
        this.fail(`cannot skip a value of ${typeName(type)}`);
    }
  }

  /** Advances past `n` bytes and returns where they start; fails if fewer are left. */
  protected take(n: number): number {
    if (n > this.buf.length - this.pos) this.fail(`needs ${n} more bytes but only ${this.buf.length - this.pos} are left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /**
   * The fewest bytes one value of `type` takes in this protocol.
   *
   * @throws InvalidInputError for a type id the protocol does not have.
   */
  protected abstract minSize(type: number): number;

  /**
   * Checks a declared element count before anything is allocated or looped over: `n` elements of
   * at least `each` bytes that do not fit in the bytes left are a lie.
   */
  protected checkCount(n: number, each: number, what: string): void {
    if (n < 0) this.fail(`${what} has a negative size (${n})`);
    const left = this.buf.length - this.pos;
    if (n * each > left) this.fail(`${what} declares ${n} elements of at least ${each} bytes but only ${left} bytes are left`);
  }

  protected fail(problem: string): never {
    throw new InvalidInputError(`Malformed Thrift at byte ${this.pos}: ${problem}.`);
  }
}
