/**
 * TBinaryProtocol reader (apache/thrift doc/specs/thrift-binary-protocol.md): fixed-width
 * big-endian integers, i32 length prefixes, one type byte plus an i16 id per field. Jaeger's Node
 * client sends it on UDP 6832 and as the body of `POST /api/traces`; Zipkin v1 senders POST it as
 * `application/x-thrift` (without a message envelope).
 */
import type { StringCache } from '../model/string-cache.ts';
import { ThriftReader, TType, type ThriftMessageHeader } from './thrift-reader.ts';

const VERSION_MASK = 0xffff0000;
const VERSION_1 = 0x80010000;

/** The fewest bytes one value of each type takes: fixed widths, a 4-byte length, or container headers. */
const MIN_SIZE: Readonly<Record<number, number>> = {
  [TType.BOOL]: 1,
  [TType.BYTE]: 1,
  [TType.DOUBLE]: 8,
  [TType.I16]: 2,
  [TType.I32]: 4,
  [TType.I64]: 8,
  [TType.STRING]: 4,
  [TType.STRUCT]: 1, // the stop byte
  [TType.MAP]: 6, // key type, value type, i32 size
  [TType.SET]: 5, // element type, i32 size
  [TType.LIST]: 5,
  [TType.UUID]: 16,
};

/** Reads TBinaryProtocol from one buffer; see ThriftReader for the bounds it enforces. */
export class BinaryProtocolReader extends ThriftReader {
  #view: DataView | undefined;

  /**
   * Only the strict (versioned) header is accepted: `0x8001 0000 | type`, name, seqid. The old
   * unversioned form starts with a positive name length and is refused, like a Thrift server with
   * strictRead on; every Jaeger client writes the versioned form.
   */
  readMessageBegin(): ThriftMessageHeader {
    const word = this.readI32();
    if (word >= 0) this.fail('the message header has no protocol version (unversioned headers are not accepted)');
    if ((word & VERSION_MASK) >>> 0 !== VERSION_1) this.fail(`unsupported binary protocol version 0x${((word & VERSION_MASK) >>> 0).toString(16)}`);
    const type = word & 0xff;
    const name = this.readString();
    const seqId = this.readI32();
    return { name, type, seqId };
  }

  readStructBegin(): void {}
  readStructEnd(): void {}

  readFieldBegin(): number {
    const type = this.readByte();
    if (type === TType.STOP) return TType.STOP;
    this.fieldId = this.readI16();
    return type;
  }

  readListBegin(): number {
    this.elemType = this.readByte();
    const n = this.readI32();
    this.checkCount(n, this.minSize(this.elemType), 'a list');
    return n;
  }

  readMapBegin(): number {
    this.keyType = this.readByte();
    this.valueType = this.readByte();
    const n = this.readI32();
    this.checkCount(n, this.minSize(this.keyType) + this.minSize(this.valueType), 'a map');
    return n;
  }

  readBool(): boolean {
    return this.buf[this.take(1)] !== 0;
  }

  // The integers are read from the bytes directly: `take` has checked the bounds, which Buffer's
  // readInt*BE methods would check again, and DataView#getBigInt64 makes one BigInt where
  // Buffer#readBigInt64BE makes four. Field headers and times are on every span.

  readByte(): number {
    return (this.buf[this.take(1)]! << 24) >> 24;
  }

  readI16(): number {
    const at = this.take(2);
    return ((this.buf[at]! << 24) | (this.buf[at + 1]! << 16)) >> 16;
  }

  readI32(): number {
    const at = this.take(4);
    const b = this.buf;
    return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
  }

  readI64(): bigint {
    const at = this.take(8);
    this.#view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.#view.getBigInt64(at, false);
  }

  /** Big-endian on the wire already, so the hex comes straight from the bytes without a bigint. */
  override readI64Hex(cache?: StringCache): string {
    const at = this.take(8);
    return cache !== undefined ? cache.read(this.buf, at, at + 8) : this.buf.toString('hex', at, at + 8);
  }

  readDouble(): number {
    return this.buf.readDoubleBE(this.take(8));
  }

  protected readBinaryLength(): number {
    const n = this.readI32();
    if (n < 0) this.fail(`a string or binary has a negative length (${n})`);
    return n;
  }

  protected minSize(type: number): number {
    return MIN_SIZE[type] ?? this.fail(`a container of unknown element type ${type}`);
  }
}
