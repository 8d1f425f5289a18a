/**
 * A small TCompactProtocol writer for tests (apache/thrift doc/specs/thrift-compact-protocol.md),
 * written independently of the reader. No npm package here writes compact (jaeger-client's thriftrw
 * only does binary), and the Go, Java and Python clients that send compact are not available to the
 * test suite.
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
