import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../errors.ts';
import { CompactProtocolReader } from './compact-protocol-reader.ts';
import { CT, CompactWriter } from './testdata/compact-writer.ts';
import { MAX_SKIP_DEPTH, TType } from './thrift-reader.ts';

const reader = (w: CompactWriter | number[]): CompactProtocolReader =>
  new CompactProtocolReader(Array.isArray(w) ? Buffer.from(w) : w.bytes());

describe('CompactProtocolReader', () => {
  it('reads zigzag varints for i16, i32 and i64, including the extremes', () => {
    const w = new CompactWriter().zigzag32(-1).zigzag32(300).zigzag32(-2147483648).zigzag32(2147483647);
    w.zigzag64(-1n).zigzag64(0x7fffffffffffffffn).zigzag64(-0x8000000000000000n).zigzag64(1_700_000_000_000_000n).zigzag32(-32768);
    const r = reader(w);
    assert.equal(r.readI32(), -1);
    assert.equal(r.readI32(), 300);
    assert.equal(r.readI32(), -2147483648);
    assert.equal(r.readI32(), 2147483647);
    assert.equal(r.readI64(), -1n);
    assert.equal(r.readI64(), 0x7fffffffffffffffn);
    assert.equal(r.readI64(), -0x8000000000000000n);
    assert.equal(r.readI64(), 1_700_000_000_000_000n);
    assert.equal(r.readI16(), -32768);
    assert.equal(r.remaining, 0);
  });

  it('renders an i64 as the 16 hex digits of its two\'s-complement bits', () => {
    const r = reader(new CompactWriter().zigzag64(-2n).zigzag64(0x0123456789abcdefn));
    assert.equal(r.readI64Hex(), 'fffffffffffffffe');
    assert.equal(r.readI64Hex(), '0123456789abcdef');
  });

  it('follows field-id deltas per struct, the long field-id form, and booleans folded into headers', () => {
    const w = new CompactWriter().structBegin();
    w.field(CT.I32, 1).zigzag32(7);
    w.boolField(2, true);
    w.field(CT.STRUCT, 20).structBegin().boolField(3, false).structEnd(); // id 20: delta 18 needs the long form
    w.field(CT.DOUBLE, 21).double(1.5);
    w.structEnd();
    const r = reader(w);
    r.readStructBegin();
    assert.equal(r.readFieldBegin(), TType.I32);
    assert.equal(r.fieldId, 1);
    assert.equal(r.readI32(), 7);
    assert.equal(r.readFieldBegin(), TType.BOOL);
    assert.equal(r.fieldId, 2);
    assert.equal(r.readBool(), true);
    assert.equal(r.readFieldBegin(), TType.STRUCT);
    assert.equal(r.fieldId, 20);
    r.readStructBegin();
    assert.equal(r.readFieldBegin(), TType.BOOL);
    assert.equal(r.fieldId, 3);
    assert.equal(r.readBool(), false);
    assert.equal(r.readFieldBegin(), TType.STOP);
    r.readStructEnd();
    // Back in the outer struct, the delta counts from field 20 again.
    assert.equal(r.readFieldBegin(), TType.DOUBLE);
    assert.equal(r.fieldId, 21);
    assert.equal(r.readDouble(), 1.5);
    assert.equal(r.readFieldBegin(), TType.STOP);
  });

  it('reads short and long list headers, bool list elements and maps', () => {
    const w = new CompactWriter().listBegin(CT.BOOL_TRUE, 3).raw(1, 2, 0);
    w.listBegin(CT.I32, 20);
    for (let i = 0; i < 20; i++) w.zigzag32(i);
    w.varint(1).raw((CT.BINARY << 4) | CT.I32).string('k').zigzag32(-5);
    w.varint(0); // empty map: no type byte
    const r = reader(w);
    assert.equal(r.readListBegin(), 3);
    assert.equal(r.elemType, TType.BOOL);
    assert.deepEqual([r.readBool(), r.readBool(), r.readBool()], [true, false, false]);
    assert.equal(r.readListBegin(), 20);
    assert.equal(r.elemType, TType.I32);
    for (let i = 0; i < 20; i++) assert.equal(r.readI32(), i);
    assert.equal(r.readMapBegin(), 1);
    assert.deepEqual([r.keyType, r.valueType], [TType.STRING, TType.I32]);
    assert.equal(r.readString(), 'k');
    assert.equal(r.readI32(), -5);
    assert.equal(r.readMapBegin(), 0);
    assert.equal(r.remaining, 0);
  });

  it('accepts only protocol id 0x82 and version 1 in a message header', () => {
    const ok = reader(new CompactWriter().messageBegin('emitBatch', 4, 9));
    assert.deepEqual(ok.readMessageBegin(), { name: 'emitBatch', type: 4, seqId: 9 });
    assert.throws(() => reader([0x80, 0x81, 0, 0]).readMessageBegin(), /compact protocol id 0x82/);
    assert.throws(() => reader([0x82, (4 << 5) | 2, 0, 0]).readMessageBegin(), /version 2/);
  });

  it('refuses lengths and counts larger than the bytes left, before allocating anything', () => {
    const hugeString = new CompactWriter().varint(0xfffffff0).bytes();
    assert.throws(() => new CompactProtocolReader(hugeString).readBinary(), InvalidInputError);
    const hugeList = new CompactWriter().raw(0xf0 | CT.STRUCT).varint(2_000_000_000).bytes();
    assert.throws(() => new CompactProtocolReader(hugeList).readListBegin(), /declares 2000000000 elements/);
    const hugeMap = new CompactWriter().varint(1_000_000).raw(0x55).bytes();
    assert.throws(() => new CompactProtocolReader(hugeMap).readMapBegin(), InvalidInputError);
  });

  it('refuses varints that overflow or never end', () => {
    assert.throws(() => reader([0xff, 0xff, 0xff, 0xff, 0x7f]).readI32(), /overflows/);
    assert.throws(() => reader([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).readI32(), /longer than 5 bytes/);
    assert.throws(() => reader(Array(11).fill(0xff)).readI64(), /longer than 10 bytes/);
    assert.throws(() => reader([0x80, 0x80]).readI64(), /more bytes/);
  });

  it('skips nested unknown values, and stops at MAX_SKIP_DEPTH', () => {
    const w = new CompactWriter().structBegin();
    w.field(CT.LIST, 1).listBegin(CT.STRUCT, 1).structBegin().field(CT.BINARY, 4).string('x').boolField(5, true).structEnd();
    w.field(CT.MAP, 2).varint(1).raw((CT.I32 << 4) | CT.DOUBLE).zigzag32(1).double(2);
    w.structEnd().zigzag32(42);
    const r = reader(w);
    r.skip(TType.STRUCT);
    assert.equal(r.readI32(), 42);

    const deep = new CompactWriter();
    for (let i = 0; i <= MAX_SKIP_DEPTH + 1; i++) deep.structBegin().field(CT.STRUCT, 1);
    assert.throws(() => reader(deep).skip(TType.STRUCT), /nested more than 32 deep/);
  });

  it('turns any garbage into InvalidInputError, never another exception or a hang', () => {
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (n % 64) }, rand));
      const r = new CompactProtocolReader(bytes);
      try {
        r.skip(TType.STRUCT);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `unexpected ${String(err)}`);
      }
    }
  });
});
