/**
 * A reader of Apache Thrift's TBinaryProtocol (big-endian, no message envelope): what Zipkin v1
 * senders POST as `application/x-thrift`. Every length and element count read from the wire is
 * checked against the bytes left before anything is allocated or looped over, so hostile input ends
 * in a ThriftReadError after at most one pass over the body: never a large allocation, a crash or a
 * hang.
 */

/** TType codes (thrift `protocol/TType`). */
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
} as const;

/** The fewest bytes one value of each type takes, to bound element counts by the bytes left. */
const MIN_SIZE: Readonly<Record<number, number>> = {
  [TType.BOOL]: 1,
  [TType.BYTE]: 1,
  [TType.DOUBLE]: 8,
  [TType.I16]: 2,
  [TType.I32]: 4,
  [TType.I64]: 8,
  [TType.STRING]: 4,
  [TType.STRUCT]: 1,
  [TType.MAP]: 6,
  [TType.SET]: 5,
  [TType.LIST]: 5,
};

/** Nesting of structs and containers allowed when skipping unknown fields. */
const MAX_SKIP_DEPTH = 32;

/** The bytes are not valid TBinaryProtocol (or end too early). */
export class ThriftReadError extends Error {
  override readonly name = 'ThriftReadError';
}

/** A field header: `type` is TType.STOP at the end of a struct (then `id` is 0). */
export interface FieldHeader {
  type: number;
  id: number;
}

export class ThriftBinaryReader {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(buf: Buffer) {
    this.#buf = buf;
  }

  get position(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  #need(n: number, what: string): void {
    if (n > this.remaining) throw new ThriftReadError(`${what} needs ${n} bytes but only ${this.remaining} are left`);
  }

  byte(): number {
    this.#need(1, 'a byte');
    return this.#buf.readInt8(this.#pos++);
  }

  bool(): boolean {
    return this.byte() !== 0;
  }

  i16(): number {
    this.#need(2, 'an i16');
    const v = this.#buf.readInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  i32(): number {
    this.#need(4, 'an i32');
    const v = this.#buf.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  i64(): bigint {
    this.#need(8, 'an i64');
    const v = this.#buf.readBigInt64BE(this.#pos);
    this.#pos += 8;
    return v;
  }

  /** An i64 as 16 lower-hex characters (its two's-complement bytes), the way Zipkin prints ids. */
  i64Hex(): string {
    this.#need(8, 'an i64');
    const hex = this.#buf.toString('hex', this.#pos, this.#pos + 8);
    this.#pos += 8;
    return hex;
  }

  double(): number {
    this.#need(8, 'a double');
    const v = this.#buf.readDoubleBE(this.#pos);
    this.#pos += 8;
    return v;
  }

  /** A length-prefixed byte string; a view into the body, not a copy. */
  binary(): Buffer {
    const length = this.i32();
    if (length < 0) throw new ThriftReadError(`negative length ${length}`);
    this.#need(length, `a binary of length ${length}`);
    const v = this.#buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return v;
  }

  string(): string {
    return this.binary().toString('utf8');
  }

  fieldHeader(): FieldHeader {
    const type = this.byte();
    if (type === TType.STOP) return { type, id: 0 };
    return { type, id: this.i16() };
  }

  /** A list or set header; the element count is checked against the bytes left. */
  listHeader(): { elemType: number; size: number } {
    const elemType = this.byte();
    const size = this.i32();
    this.#checkCount(size, minSize(elemType), 'list');
    return { elemType, size };
  }

  mapHeader(): { keyType: number; valueType: number; size: number } {
    const keyType = this.byte();
    const valueType = this.byte();
    const size = this.i32();
    this.#checkCount(size, minSize(keyType) + minSize(valueType), 'map');
    return { keyType, valueType, size };
  }

  #checkCount(size: number, each: number, what: string): void {
    if (size < 0) throw new ThriftReadError(`negative ${what} size ${size}`);
    if (size * each > this.remaining) {
      throw new ThriftReadError(`${what} of ${size} elements cannot fit in the ${this.remaining} bytes left`);
    }
  }

  /** Skips one value of `type` (an unknown field, or a known field sent with another type). */
  skip(type: number, depth = 0): void {
    if (depth > MAX_SKIP_DEPTH) throw new ThriftReadError(`nesting deeper than ${MAX_SKIP_DEPTH}`);
    switch (type) {
      case TType.BOOL:
      case TType.BYTE: this.#skipBytes(1); return;
      case TType.I16: this.#skipBytes(2); return;
      case TType.I32: this.#skipBytes(4); return;
      case TType.DOUBLE:
      case TType.I64: this.#skipBytes(8); return;
      case TType.STRING: this.binary(); return;
      case TType.STRUCT:
        for (;;) {
          const f = this.fieldHeader();
          if (f.type === TType.STOP) return;
          this.skip(f.type, depth + 1);
        }
      case TType.MAP: {
        const { keyType, valueType, size } = this.mapHeader();
        for (let i = 0; i < size; i++) {
          this.skip(keyType, depth + 1);
          this.skip(valueType, depth + 1);
        }
        return;
      }
      case TType.SET:
      case TType.LIST: {
        const { elemType, size } = this.listHeader();
        for (let i = 0; i < size; i++) this.skip(elemType, depth + 1);
        return;
      }
      default:
        throw new ThriftReadError(`unknown field type ${type}`);
    }
  }

  #skipBytes(n: number): void {
    this.#need(n, `a value of ${n} bytes`);
    this.#pos += n;
  }
}

function minSize(type: number): number {
  const n = MIN_SIZE[type];
  if (n === undefined) throw new ThriftReadError(`unknown element type ${type}`);
  return n;
}
