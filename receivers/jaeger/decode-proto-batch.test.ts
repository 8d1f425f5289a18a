import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs/minimal.js';
import { InvalidInputError } from '../../core/errors.ts';
import { decodePostSpansRequest } from './decode-proto-batch.ts';
import { encodePostSpansRequest, type ProtoBatch } from './testdata/post-spans-writer.ts';

const TRACE = '80000000000000010123456789abcdef';
const START_NS = 1_700_000_000_123_456_789n;

const BATCH: ProtoBatch = {
  process: { serviceName: 'payments', tags: [{ key: 'hostname', vType: 0, vStr: 'host-p' }] },
  spans: [
    {
      traceId: TRACE,
      spanId: 'fedcba9876543210',
      operationName: 'charge',
      references: [
        { traceId: TRACE, spanId: '0000000000001111', refType: 0 },
        { traceId: TRACE, spanId: '0000000000002222', refType: 1 },
      ],
      flags: 1,
      startTimeNs: START_NS,
      durationNs: 2_000_000_001n,
      tags: [
        { key: 's', vType: 0, vStr: 'text' },
        { key: 'b', vType: 1, vBool: true },
        { key: 'i', vType: 2, vInt64: -5n },
        { key: 'big', vType: 2, vInt64: 0x7fffffffffffffffn },
        { key: 'f', vType: 3, vFloat64: 0.25 },
        { key: 'bin', vType: 4, vBinary: Uint8Array.from([9, 8]) },
      ],
      logs: [{ timeNs: START_NS + 5n, fields: [{ key: 'event', vType: 0, vStr: 'charged' }] }],
    },
    {
      traceId: TRACE,
      spanId: '0000000000000abc',
      operationName: 'other-process',
      startTimeNs: START_NS,
      durationNs: 0n,
      process: { serviceName: 'sidecar' },
    },
  ],
};

describe('decodePostSpansRequest', () => {
  it('decodes spans, references, every ValueType, logs and both processes', () => {
    const batch = decodePostSpansRequest(encodePostSpansRequest(BATCH));
    assert.deepEqual(batch.process, { serviceName: 'payments', tags: { hostname: 'host-p' } });
    assert.equal(batch.spans.length, 2);
    const [a, b] = batch.spans as [(typeof batch.spans)[0], (typeof batch.spans)[0]];
    assert.deepEqual(a, {
      traceId: TRACE,
      spanId: 'fedcba9876543210',
      parentSpanId: '',
      operationName: 'charge',
      references: [
        { refType: 0, traceId: TRACE, spanId: '0000000000001111' },
        { refType: 1, traceId: TRACE, spanId: '0000000000002222' },
      ],
      flags: 1,
      startTimeUnixNano: START_NS,
      durationNano: 2_000_000_001n,
      tags: { s: 'text', b: true, i: -5, big: 0x7fffffffffffffffn, f: 0.25, bin: Uint8Array.from([9, 8]) },
      logs: [{ timeUnixNano: START_NS + 5n, fields: { event: 'charged' } }],
      process: undefined,
    });
    assert.deepEqual(b.process, { serviceName: 'sidecar', tags: {} });
    assert.equal(b.durationNano, 0n);
  });

  it('decodes ids of the wrong length as empty, for the translator to reject', () => {
    const w = protobuf.Writer.create();
    w.uint32(10).fork(); // batch
    w.uint32(10).fork(); // span
    w.uint32(10).bytes(Buffer.alloc(8, 1)); // an 8-byte trace id
    w.uint32(18).bytes(Buffer.alloc(8, 2));
    w.ldelim().ldelim();
    const batch = decodePostSpansRequest(w.finish());
    assert.equal(batch.spans[0]!.traceId, '');
    assert.equal(batch.spans[0]!.spanId, '0202020202020202');
  });

  it('skips unknown fields of every wire type', () => {
    const w = protobuf.Writer.create();
    w.uint32((99 << 3) | 0).uint32(5);
    w.uint32((98 << 3) | 1).double(1);
    w.uint32((97 << 3) | 5).float(1);
    w.uint32((96 << 3) | 2).string('x');
    const bytes = Buffer.concat([w.finish(), encodePostSpansRequest(BATCH)]);
    assert.equal(decodePostSpansRequest(bytes).spans.length, 2);
  });

  it('refuses truncated messages, lying lengths, groups and unknown value types with InvalidInputError', () => {
    const full = encodePostSpansRequest(BATCH);
    for (let n = 1; n < full.length; n++) {
      assert.throws(() => decodePostSpansRequest(full.subarray(0, n)), InvalidInputError, `prefix of ${n} bytes`);
    }
    const lying = protobuf.Writer.create().uint32(10).uint32(1_000_000).finish();
    assert.throws(() => decodePostSpansRequest(lying), /runs past the end/);
    const group = protobuf.Writer.create().uint32((5 << 3) | 3).finish();
    assert.throws(() => decodePostSpansRequest(group), /wire type 3/);
    const badType = encodePostSpansRequest({ spans: [{ ...BATCH.spans[0]!, tags: [{ key: 'x', vType: 9 }] }] });
    assert.throws(() => decodePostSpansRequest(badType), /unknown v_type 9/);
  });

  it('turns random bytes into InvalidInputError or an empty batch, never another exception', () => {
    let seed = 3;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (n % 80) }, rand));
      try {
        decodePostSpansRequest(bytes);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `unexpected ${String(err)}`);
      }
    }
  });
});
