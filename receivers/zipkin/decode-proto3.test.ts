// Proto3 bodies here are encoded by protobufjs from a .proto written in testdata/zipkin-proto.ts, an
// encoder independent of the hand-written decoder under test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../core/errors.ts';
import { decodeProto3 } from './decode-proto3.ts';
import { encodeListOfSpans, idBytes, uint64 } from './testdata/zipkin-proto.ts';

/** The zipkin-api example span (testdata/v2-zipkin-api-example.json) in proto3 field names. */
const example = {
  trace_id: idBytes('5af7183fb1d4cf5f'),
  parent_id: idBytes('6b221d5bc9e6496c'),
  id: idBytes('352bff9a74ca9ad2'),
  kind: 2,
  name: 'get /api',
  timestamp: 1556604172355737,
  duration: 1431,
  local_endpoint: { service_name: 'backend', ipv4: Buffer.from([192, 168, 99, 1]), port: 3306 },
  remote_endpoint: { ipv4: Buffer.from([172, 19, 0, 2]), port: 58648 },
  tags: { 'http.method': 'GET', 'http.path': '/api' },
};

describe('decodeProto3', () => {
  it('reads every field of the zipkin-api example span', () => {
    const { spans, rejected } = decodeProto3(encodeListOfSpans({ spans: [example] }));
    assert.equal(rejected, 0);
    assert.deepEqual(spans, [
      {
        traceId: '5af7183fb1d4cf5f',
        id: '352bff9a74ca9ad2',
        parentId: '6b221d5bc9e6496c',
        kind: 'SERVER',
        name: 'get /api',
        timestamp: 1556604172355737n,
        duration: 1431n,
        localEndpoint: { serviceName: 'backend', ipv4: '192.168.99.1', ipv6: undefined, port: 3306 },
        remoteEndpoint: { serviceName: undefined, ipv4: '172.19.0.2', ipv6: undefined, port: 58648 },
        annotations: [],
        tags: new Map([['http.method', 'GET'], ['http.path', '/api']]),
        debug: false,
        shared: false,
      },
    ]);
  });

  it('reads 128-bit trace ids, annotations, IPv6, debug and shared', () => {
    const [s] = decodeProto3(encodeListOfSpans({ spans: [{
      trace_id: idBytes('4e441824ec2b6a44ffdc9bb9a6453df3'),
      id: idBytes('ffdc9bb9a6453df3'),
      kind: 1,
      timestamp: 1,
      duration: uint64('9007199254740993'), // above 2^53: must stay exact
      local_endpoint: { service_name: 'svc', ipv6: Buffer.from('20010db8000000000000000000000001', 'hex') },
      annotations: [{ timestamp: 2, value: 'ws' }, { timestamp: 0, value: 'no time' }],
      debug: true,
      shared: true,
    }] })).spans;
    assert.equal(s?.traceId, '4e441824ec2b6a44ffdc9bb9a6453df3');
    assert.equal(s?.kind, 'CLIENT');
    assert.equal(s?.duration, 9007199254740993n);
    assert.equal(s?.localEndpoint?.ipv6, '2001:db8::1');
    assert.deepEqual(s?.annotations, [{ timestamp: 2n, value: 'ws' }]);
    assert.deepEqual([s?.debug, s?.shared], [true, true]);
  });

  it('leaves out spans with ids of the wrong length or all zeros and keeps the rest', () => {
    const result = decodeProto3(encodeListOfSpans({ spans: [
      { ...example, trace_id: Buffer.alloc(12, 1) },
      { ...example, id: Buffer.alloc(8) },
      { ...example, parent_id: Buffer.alloc(3, 1) },
      example,
    ] }));
    assert.equal(result.spans.length, 1);
    assert.equal(result.rejected, 3);
    assert.match(result.rejectReason, /spans\[0\]: trace_id must be 8 or 16 bytes, got 12/);
  });

  it('refuses every truncation of a valid body with InvalidInputError, never another error', () => {
    const body = encodeListOfSpans({ spans: [example, { ...example, annotations: [{ timestamp: 5, value: 'x' }] }] });
    let refused = 0;
    for (let cut = 1; cut < body.length; cut++) {
      try {
        decodeProto3(body.subarray(0, cut));
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `cut at ${cut}: ${String(err)}`);
        refused++;
      }
    }
    // A cut exactly between the two spans is a valid shorter list; every other cut is refused.
    assert.equal(refused, body.length - 2);
  });

  it('refuses a length running past the end and an invalid wire type', () => {
    assert.throws(() => decodeProto3(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])), (e: unknown) => e instanceof InvalidInputError && /PROTO3/.test(e.message));
    assert.throws(() => decodeProto3(Buffer.from([0x0f, 0x00])), InvalidInputError);
  });
});
