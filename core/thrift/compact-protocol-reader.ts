/**
 * TCompactProtocol reader (apache/thrift doc/specs/thrift-compact-protocol.md): zigzag varints,
 * field ids as deltas in the type byte's high nibble, booleans folded into the field header,
 * little-endian doubles. The Go, Java and Python Jaeger clients send it on UDP 6831.
 */
import { ThriftReader, TType, type ThriftMessageHeader } from './thrift-reader.ts';

const PROTOCOL_ID = 0x82;
const VERSION = 1;
const VERSION_MASK = 0x1f;
const TYPE_SHIFT = 5;

/** Compact type ids (the low nibble of a field header or list header) → TType. */
const COMPACT_TO_TTYPE: readonly number[] = [
  TType.STOP, // 0
  TType.BOOL, // 1 BOOLEAN_TRUE
  TType.BOOL, // 2 BOOLEAN_FALSE
  TType.BYTE, // 3
  TType.I16, // 4
  TType.I32, // 5
  TType.I64, // 6
  TType.DOUBLE, // 7
  TType.STRING, // 8 BINARY
  TType.LIST, // 9
  TType.SET, // 10
  TType.MAP, // 11
  TType.STRUCT, // 12
  TType.UUID, // 13
];

/** Reads TCompactProtocol from one buffer; see ThriftReader for the bounds it enforces. */
export class CompactProtocolReader extends ThriftReader {
  // Field ids are deltas from the previous field of the same struct, so each open struct keeps its own.
  #lastFieldId = 0;
  readonly #fieldIdStack: number[] = [];
  // A boolean field's value lives in its header; readBool returns it once.
  #pendingBool: boolean | undefined;

  /** Header: protocol id 0x82, then `type << 5 | version` with version 1, a varint seqid, the name. */
  readMessageBegin(): ThriftMessageHeader {
    const protocolId = this.#u8();
    if (protocolId !== PROTOCOL_ID) this.fail(`expected the compact protocol id 0x82, got 0x${protocolId.toString(16)}`);
    const versionAndType = this.#u8();
    const version = versionAndType & VERSION_MASK;
    if (version !== VERSION) this.fail(`unsupported compact protocol version ${version}`);
    const type = versionAndType >>> TYPE_SHIFT;
    const seqId = this.#varint32();
    const name = this.readString();
    return { name, type, seqId };
  }

  readStructBegin(): void {
    // Thrift's own readers nest without a limit; ThriftReader.skip and the decoders bound the depth.
    this.#fieldIdStack.push(this.#lastFieldId);
    this.#lastFieldId = 0;
  }

  readStructEnd(): void {
    this.#lastFieldId = this.#fieldIdStack.pop() ?? 0;
  }

  readFieldBegin(): number {
    const header = this.#u8();
    const compactType = header & 0x0f;
    if (compactType === 0) return TType.STOP;
    const delta = header >>> 4;
    this.fieldId = delta === 0 ? this.readI16() : this.#lastFieldId + delta;
    this.#lastFieldId = this.fieldId;
    const type = this.#ttype(compactType);
    this.#pendingBool = type === TType.BOOL ? compactType === 1 : undefined;
    return type;
  }

  readListBegin(): number {
    const header = this.#u8();
    const short = header >>> 4;
    const n = short === 15 ? this.#varint32() : short;
    this.elemType = this.#ttype(header & 0x0f);
    this.checkCount(n, this.minSize(this.elemType), 'a list');
    return n;
  }

  readMapBegin(): number {
    const n = this.#varint32();
    // An empty map has no type byte at all.
    if (n === 0) {
      this.keyType = TType.STOP;
      this.valueType = TType.STOP;
      return 0;
    }
    const types = this.#u8();
    this.keyType = this.#ttype(types >>> 4);
    this.valueType = this.#ttype(types & 0x0f);
    this.checkCount(n, this.minSize(this.keyType) + this.minSize(this.valueType), 'a map');
    return n;
  }

  /** A field's value from its header; inside a list, one byte (1 = true; 0 and 2 are false). */
  readBool(): boolean {
    if (this.#pendingBool !== undefined) {
      const v = this.#pendingBool;
      this.#pendingBool = undefined;
      return v;
    }
    return this.#u8() === 1;
  }

  readByte(): number {
    return this.buf.readInt8(this.take(1));
  }

  readI16(): number {
    const v = this.#zigzag32(this.#varint32());
    if (v < -0x8000 || v > 0x7fff) this.fail(`an i16 is out of range (${v})`);
    return v;
  }

  readI32(): number {
    return this.#zigzag32(this.#varint32());
  }

  readI64(): bigint {
    const u = this.#varint64();
    // Zigzag: (u >>> 1) ^ -(u & 1), in 64-bit two's complement; in numbers while exact (one BigInt
    // made instead of five: times are on every span).
    if (typeof u === 'number') return BigInt(u % 2 === 0 ? u / 2 : -(u + 1) / 2);
    return BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n));
  }

  readDouble(): number {
    return this.buf.readDoubleLE(this.take(8));
  }

  protected readBinaryLength(): number {
    return this.#varint32();
  }

  /** Varints, headers and in-container bools take one byte at least; doubles and uuids have fixed widths. */
  protected minSize(type: number): number {
    if (type === TType.DOUBLE) return 8;
    if (type === TType.UUID) return 16;
    if (type === TType.STOP) this.fail('a container of element type stop');
    return 1;
  }

  #u8(): number {
    return this.buf[this.take(1)]!;
  }

  #ttype(compactType: number): number {
    const t = COMPACT_TO_TTYPE[compactType];
    if (t === undefined) this.fail(`unknown compact type id ${compactType}`);
    return t;
  }

  /** An unsigned varint of at most 5 bytes (32 bits), returned as a non-negative number. */
  #varint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.#u8();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) this.fail('a 32-bit varint overflows');
        return result;
      }
    }
    return this.fail('a 32-bit varint is longer than 5 bytes');
  }

  /**
   * An unsigned varint of at most 10 bytes (64 bits): a number when it fits 7 bytes = 49 bits
   * (timestamps, small ids; exact in a double), else a bigint.
   */
  #varint64(): number | bigint {
    let low = 0;
    let shift = 0;
    for (; shift < 49; shift += 7) {
      const b = this.#u8();
      low += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return low;
    }
    let result = BigInt(low);
    for (; shift < 70; shift += 7) {
      const b = this.#u8();
      result |= BigInt(b & 0x7f) << BigInt(shift);
      if ((b & 0x80) === 0) {
        if (result > 0xffffffffffffffffn) this.fail('a 64-bit varint overflows');
        return result;
      }
    }
    return this.fail('a 64-bit varint is longer than 10 bytes');
  }

  #zigzag32(u: number): number {
    // u is in [0, 2^32); undo zigzag without 32-bit sign surprises.
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
}
