// Thrift bodies here are written by testdata/thrift-binary-writer.ts, a TBinaryProtocol writer built
// from zipkinCore.thrift for the tests: the `zipkin` npm package has no Thrift encoder (JSON only).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../core/errors.ts';
import { decodeThriftV1 } from './decode-thrift.ts';
import { addressAnnotation, encodeThriftSpans, packIpv4, stringAnnotation, ThriftWriter, type ThriftSpan } from './testdata/thrift-binary-writer.ts';

const TRACE = 0x5af7183fb1d4cf5fn;
const SPAN = 0x352bff9a74ca9ad2n;
const PARENT = 0x6b221d5bc9e6496cn;
const FRONTEND = { serviceName: 'frontend', ipv4: packIpv4('192.168.99.101'), port: 9000 };
const BACKEND = { serviceName: 'backend', ipv4: packIpv4('192.168.99.1'), port: 3306 };

/** The v1 JSON golden (testdata/v1-client-server.json) as Thrift. */
const clientServer: ThriftSpan = {
  traceId: TRACE,
  name: 'get /api',
  id: SPAN,
  parentId: PARENT,
  timestamp: 1556604172355000n,
  duration: 2100n,
  annotations: [
    { timestamp: 1556604172355000n, value: 'cs', host: FRONTEND },
    { timestamp: 1556604172355737n, value: 'sr', host: BACKEND },
    { timestamp: 1556604172356000n, value: 'cache.miss', host: BACKEND },
    { timestamp: 1556604172357168n, value: 'ss', host: BACKEND },
    { timestamp: 1556604172357100n, value: 'cr', host: FRONTEND },
  ],
  binaryAnnotations: [
    stringAnnotation('http.path', '/api', FRONTEND),
    stringAnnotation('http.status_code', '500', BACKEND),
    stringAnnotation('error', 'Internal Server Error', BACKEND),
    addressAnnotation('sa', BACKEND),
    addressAnnotation('ca', { ipv4: packIpv4('192.168.99.101'), port: 61234 }),
  ],
};

describe('decodeThriftV1', () => {
  it('decodes a list<Span> into the same v2 spans as the equivalent v1 JSON', () => {
    const { spans, rejected } = decodeThriftV1(encodeThriftSpans([clientServer]));
    assert.equal(rejected, 0);
    assert.deepEqual(
      spans.map((s) => ({ ...s, tags: [...s.tags] })),
      [
        {
          traceId: '5af7183fb1d4cf5f', id: '352bff9a74ca9ad2', parentId: '6b221d5bc9e6496c', name: 'get /api',
          kind: 'CLIENT', timestamp: 1556604172355000n, duration: 2100n,
          localEndpoint: { serviceName: 'frontend', ipv4: '192.168.99.101', ipv6: undefined, port: 9000 },
          remoteEndpoint: { serviceName: 'backend', ipv4: '192.168.99.1', ipv6: undefined, port: 3306 },
          annotations: [], tags: [['http.path', '/api']], debug: false, shared: false,
        },
        {
          traceId: '5af7183fb1d4cf5f', id: '352bff9a74ca9ad2', parentId: '6b221d5bc9e6496c', name: 'get /api',
          kind: 'SERVER', timestamp: 1556604172355737n, duration: 1431n,
          localEndpoint: { serviceName: 'backend', ipv4: '192.168.99.1', ipv6: undefined, port: 3306 },
          remoteEndpoint: { serviceName: undefined, ipv4: '192.168.99.101', ipv6: undefined, port: 61234 },
          annotations: [{ timestamp: 1556604172356000n, value: 'cache.miss' }],
          tags: [['http.status_code', '500'], ['error', 'Internal Server Error']], debug: false, shared: true,
        },
      ],
    );
  });

  it('reads 128-bit ids, negative i64 ids, debug, IPv6 and unsigned ports', () => {
    const ipv6 = Buffer.from('20010db8000000000000000000000001', 'hex');
    const [s] = decodeThriftV1(encodeThriftSpans([{
      traceId: -1n, traceIdHigh: 0x0af7183fb1d4cf5fn, id: -2n, debug: true, timestamp: 1n, duration: 2n,
      annotations: [{ timestamp: 1n, value: 'sr', host: { serviceName: 'svc', ipv6, port: 65000 } }],
    }])).spans;
    assert.equal(s?.traceId, '0af7183fb1d4cf5fffffffffffffffff');
    assert.equal(s?.id, 'fffffffffffffffe');
    assert.equal(s?.debug, true);
    assert.deepEqual(s?.localEndpoint, { serviceName: 'svc', ipv4: undefined, ipv6: '2001:db8::1', port: 65000 });
  });

  it('keeps typed binary annotations as text and skips unknown fields', () => {
    const i32 = Buffer.alloc(4);
    i32.writeInt32BE(-7);
    // An unknown field 99 holding a struct with a nested list, before STOP.
    const unknown = new ThriftWriter().field(12, 99).field(15, 1).listHeader(8, 2).i32(1).i32(2).stop().bytes();
    const [s] = decodeThriftV1(encodeThriftSpans([{
      traceId: TRACE, id: SPAN, timestamp: 5n,
      binaryAnnotations: [{ key: 'n', value: i32, type: 3 }, { key: 'flag', value: Buffer.from([0]), type: 0 }],
      extraFields: unknown,
    }])).spans;
    assert.deepEqual([...(s?.tags ?? [])], [['n', '-7'], ['flag', 'false']]);
  });

  it('leaves out a span without an id and keeps the rest', () => {
    const result = decodeThriftV1(encodeThriftSpans([{ traceId: TRACE, id: 0n }, { traceId: TRACE, id: SPAN, timestamp: 1n }]));
    assert.equal(result.spans.length, 1);
    assert.equal(result.rejected, 1);
    assert.match(result.rejectReason, /spans\[0\]: id is missing or zero/);
  });

  it('refuses every truncation of a valid body with InvalidInputError, never another error', () => {
    const body = encodeThriftSpans([clientServer, { ...clientServer, id: SPAN + 1n }]);
    for (let cut = 0; cut < body.length; cut++) {
      assert.throws(() => decodeThriftV1(body.subarray(0, cut)), InvalidInputError, `cut at ${cut}`);
    }
  });

  it('refuses hostile lengths and counts without allocating or looping over them', () => {
    const hugeList = new ThriftWriter().listHeader(12, 0x7fffffff).bytes();
    const negativeString = new ThriftWriter().listHeader(12, 1).field(11, 3).i32(-1).bytes();
    const hugeString = new ThriftWriter().listHeader(12, 1).field(11, 3).i32(0x7ffffff0).bytes();
    const notStructs = new ThriftWriter().listHeader(8, 1).i32(1).bytes();
    const badType = new ThriftWriter().listHeader(12, 1).field(99, 1).bytes();
    const deep = new ThriftWriter().listHeader(12, 1);
    for (let i = 0; i < 100; i++) deep.field(12, 50);
    const trailing = Buffer.concat([encodeThriftSpans([]), Buffer.from([0])]);
    for (const [name, body] of Object.entries({ hugeList, negativeString, hugeString, notStructs, badType, deep: deep.bytes(), trailing })) {
      assert.throws(() => decodeThriftV1(body), InvalidInputError, name);
    }
  });

  it('decodes random bytes to a result or an InvalidInputError', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const valid = encodeThriftSpans([clientServer]);
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(valid);
      for (let k = 0; k < 3; k++) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
      try {
        decodeThriftV1(body);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `mutation ${i}: ${String(err)}`);
      }
    }
  });
});
