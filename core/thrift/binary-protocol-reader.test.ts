import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../errors.ts';
import { BinaryProtocolReader } from './binary-protocol-reader.ts';
import { MAX_SKIP_DEPTH, TType } from './thrift-reader.ts';
import { StringCache, VALUE_CACHE } from '../model/string-cache.ts';

/** Concatenates big-endian fields: numbers as bytes, `[n, 'i16'|'i32']` as wider ints, strings length-prefixed. */
function bytes(...parts: (number | [number, 'i16' | 'i32'] | [bigint, 'i64'] | string)[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(Buffer.from([p]));
    else if (typeof p === 'string') {
      const s = Buffer.from(p);
      const len = Buffer.alloc(4);
      len.writeInt32BE(s.length);
      out.push(len, s);
    } else if (p[1] === 'i16') {
      const b = Buffer.alloc(2);
      b.writeInt16BE(Number(p[0]));
      out.push(b);
    } else if (p[1] === 'i32') {
      const b = Buffer.alloc(4);
      b.writeInt32BE(Number(p[0]));
      out.push(b);
    } else {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(p[0]));
      out.push(b);
    }
  }
  return Buffer.concat(out);
}

describe('BinaryProtocolReader', () => {
  it('reads a strict message header (version 1, type, name, seqid)', () => {
    const r = new BinaryProtocolReader(bytes([0x80010004 | 0, 'i32'], 'emitBatch', [7, 'i32']));
    assert.deepEqual(r.readMessageBegin(), { name: 'emitBatch', type: 4, seqId: 7 });
  });

  it('refuses unversioned and other-version headers', () => {
    // Old-style header: name length first, then a type byte.
    assert.throws(() => new BinaryProtocolReader(bytes('emitBatch', 4, [0, 'i32'])).readMessageBegin(), /no protocol version/);
    assert.throws(() => new BinaryProtocolReader(bytes([0x80020004 | 0, 'i32'], 'x', [0, 'i32'])).readMessageBegin(), /version 0x80020000/);
  });

  it('reads fields, i64 ids as hex straight from the bytes, and stops', () => {
    const r = new BinaryProtocolReader(bytes(TType.I64, [1, 'i16'], [-2n, 'i64'], TType.STRING, [5, 'i16'], 'op', TType.STOP));
    assert.equal(r.readFieldBegin(), TType.I64);
    assert.equal(r.fieldId, 1);
    assert.equal(r.readI64Hex(), 'fffffffffffffffe');
    assert.equal(r.readFieldBegin(), TType.STRING);
    assert.equal(r.fieldId, 5);
    assert.equal(r.readString(), 'op');
    assert.equal(r.readFieldBegin(), TType.STOP);
    assert.equal(r.remaining, 0);
  });

  it('reads strings and i64 ids through string caches exactly as without, and still refuses bad lengths', () => {
    const strings = new StringCache(VALUE_CACHE);
    const ids = new StringCache({ slots: 16, maxBytes: 8, decode: (buf, start, end) => buf.toString('hex', start, end), admit: 'always' });
    for (let round = 0; round < 3; round++) {
      const r = new BinaryProtocolReader(bytes('GET /api/checkout', [-2n, 'i64'], 'é', [255n, 'i64']));
      assert.equal(r.readString(strings), 'GET /api/checkout');
      assert.equal(r.readI64Hex(ids), 'fffffffffffffffe');
      assert.equal(r.readString(strings), 'é');
      assert.equal(r.readI64Hex(ids), '00000000000000ff');
      assert.equal(r.remaining, 0);
    }
    assert.throws(() => new BinaryProtocolReader(bytes([-1, 'i32'])).readString(strings), /negative length/);
    assert.throws(() => new BinaryProtocolReader(bytes([40, 'i32'], 1, 2)).readString(strings), /needs 40 more bytes/);
    assert.throws(() => new BinaryProtocolReader(bytes(1, 2, 3)).readI64Hex(ids), /needs 8 more bytes/);
  });

  it('refuses negative and oversized lengths and counts', () => {
    assert.throws(() => new BinaryProtocolReader(bytes([-1, 'i32'])).readBinary(), /negative length/);
    assert.throws(() => new BinaryProtocolReader(bytes([0x7fffffff, 'i32'], 1, 2)).readBinary(), /needs 2147483647 more bytes/);
    assert.throws(() => new BinaryProtocolReader(bytes(TType.STRUCT, [0x40000000, 'i32'])).readListBegin(), /declares 1073741824 elements/);
    assert.throws(() => new BinaryProtocolReader(bytes(TType.STRUCT, [-3, 'i32'])).readListBegin(), /negative size/);
    assert.throws(() => new BinaryProtocolReader(bytes(TType.I32, TType.I32, [1_000_000, 'i32'], 0, 0)).readMapBegin(), InvalidInputError);
    // Counts are bounded by the element type's smallest encoding, not by one byte per element.
    assert.throws(() => new BinaryProtocolReader(bytes(TType.I64, [2, 'i32'], [1n, 'i64'])).readListBegin(), /declares 2 elements of at least 8 bytes/);
    assert.throws(() => new BinaryProtocolReader(bytes(99, [0, 'i32'])).readListBegin(), /unknown element type 99/);
  });

  it('skips nested unknown values, and stops at MAX_SKIP_DEPTH', () => {
    const nested = bytes(
      TType.LIST, [1, 'i16'], TType.STRING, [2, 'i32'], 'a', 'bc',
      TType.MAP, [2, 'i16'], TType.I32, TType.BOOL, [1, 'i32'], [9, 'i32'], 1,
      TType.DOUBLE, [3, 'i16'], 0, 0, 0, 0, 0, 0, 0, 0,
      TType.STOP,
      [42, 'i32'],
    );
    const r = new BinaryProtocolReader(nested);
    r.skip(TType.STRUCT);
    assert.equal(r.readI32(), 42);

    const deep = Buffer.concat(Array.from({ length: MAX_SKIP_DEPTH + 2 }, () => bytes(TType.STRUCT, [1, 'i16'])));
    assert.throws(() => new BinaryProtocolReader(deep).skip(TType.STRUCT), /nested more than 32 deep/);
  });

  it('refuses a field of an unknown type instead of guessing its size', () => {
    assert.throws(() => new BinaryProtocolReader(bytes(99, [1, 'i16'], 0)).skip(TType.STRUCT), /cannot skip a value of unknown type 99/);
  });

  it('turns any garbage into InvalidInputError, never another exception or a hang', () => {
    let seed = 11;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const r = new BinaryProtocolReader(Buffer.from(Array.from({ length: 1 + (n % 64) }, rand)));
      try {
        r.skip(TType.STRUCT);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `unexpected ${String(err)}`);
      }
    }
  });
});
