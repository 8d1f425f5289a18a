import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import zipkin from 'zipkin';
import { InvalidInputError } from '../../core/errors.ts';
import { decodeJsonV1 } from './decode-json-v1.ts';

const golden = readFileSync(new URL('./testdata/v1-client-server.json', import.meta.url));
const decode = (json: unknown) => decodeJsonV1(Buffer.from(typeof json === 'string' ? json : JSON.stringify(json)));

const FRONTEND = { serviceName: 'frontend', ipv4: '192.168.99.101', port: 9000 };
const BACKEND = { serviceName: 'backend', ipv4: '192.168.99.1', port: 3306 };
const ids = { traceId: '5af7183fb1d4cf5f', id: '352bff9a74ca9ad2', parentId: '6b221d5bc9e6496c', name: 'get /api' };
const endpoint = (e: { serviceName?: string; ipv4?: string; port?: number }) => ({ serviceName: e.serviceName, ipv4: e.ipv4, ipv6: undefined, port: e.port });

describe('decodeJsonV1', () => {
  it('splits a span shared by client and server into a client span and a shared server span', () => {
    const { spans, rejected } = decodeJsonV1(golden);
    assert.equal(rejected, 0);
    assert.deepEqual(spans, [
      {
        ...ids,
        kind: 'CLIENT',
        // The client owns the span's own timestamp/duration.
        timestamp: 1556604172355000n,
        duration: 2100n,
        localEndpoint: endpoint(FRONTEND),
        remoteEndpoint: endpoint(BACKEND),
        annotations: [],
        tags: new Map([['http.path', '/api']]),
        debug: false,
        shared: false,
      },
      {
        ...ids,
        kind: 'SERVER',
        // The server side is timed by sr/ss.
        timestamp: 1556604172355737n,
        duration: 1431n,
        localEndpoint: endpoint(BACKEND),
        remoteEndpoint: endpoint({ ipv4: '192.168.99.101', port: 61234 }),
        annotations: [{ timestamp: 1556604172356000n, value: 'cache.miss' }],
        tags: new Map([['http.status_code', '500'], ['error', 'Internal Server Error']]),
        debug: false,
        shared: true,
      },
    ]);
  });

  it('reads what the zipkin npm package JSON_V1 encoder writes for a client and a joined server span', () => {
    const { model, jsonEncoder, TraceId, option } = zipkin;
    const traceId = new TraceId({ traceId: '00000000000000aa', spanId: '00000000000000bb', parentId: new option.Some('00000000000000cc'), sampled: option.None });
    const client = new model.Span(traceId);
    client.setName('get');
    client.setKind('CLIENT');
    client.setTimestamp(1700000000000000);
    client.setDuration(3000);
    client.setLocalEndpoint(new model.Endpoint({ serviceName: 'frontend', ipv4: '10.0.0.1' }));
    client.setRemoteEndpoint(new model.Endpoint({ serviceName: 'orders', ipv4: '10.0.0.2', port: 9090 }));
    client.putTag('http.path', '/orders');
    const server = new model.Span(traceId);
    server.setName('get');
    server.setKind('SERVER');
    server.setShared(true);
    server.setTimestamp(1700000000000400);
    server.setDuration(2000);
    server.setLocalEndpoint(new model.Endpoint({ serviceName: 'orders', ipv4: '10.0.0.2', port: 9090 }));
    const body = `[${jsonEncoder.JSON_V1.encode(client)},${jsonEncoder.JSON_V1.encode(server)}]`;

    const [c, s] = decode(body).spans;
    assert.equal(c?.kind, 'CLIENT');
    assert.equal(c?.timestamp, 1700000000000000n);
    assert.equal(c?.duration, 3000n);
    assert.equal(c?.remoteEndpoint?.serviceName, 'orders');
    assert.equal(c?.shared, false);
    // v1 marks the joined server span by leaving out its timestamp; sr/ss time it.
    assert.equal(s?.kind, 'SERVER');
    assert.equal(s?.shared, true);
    assert.equal(s?.timestamp, 1700000000000400n);
    assert.equal(s?.duration, 2000n);
    assert.equal(s?.id, c?.id);
  });

  it('forks a loopback span (same service on cs and sr) into client and server', () => {
    const host = { serviceName: 'svc', ipv4: '10.0.0.1' };
    const spans = decode([{ ...ids, annotations: [
      { timestamp: 10, value: 'cs', endpoint: host },
      { timestamp: 20, value: 'sr', endpoint: host },
      { timestamp: 30, value: 'ss', endpoint: host },
      { timestamp: 40, value: 'cr', endpoint: host },
    ] }]).spans;
    assert.deepEqual(spans.map((s) => [s.kind, s.timestamp, s.duration, s.shared]), [
      ['CLIENT', 10n, 30n, false],
      ['SERVER', 20n, 10n, true],
    ]);
  });

  it('turns ms/mr and the ma address into producer and consumer spans', () => {
    const producer = { serviceName: 'producer' };
    const consumer = { serviceName: 'consumer' };
    const broker = { serviceName: 'kafka', ipv4: '10.0.0.9', port: 9092 };
    const spans = decode([{ ...ids, annotations: [
      { timestamp: 10, value: 'ms', endpoint: producer },
      { timestamp: 15, value: 'ws', endpoint: producer },
      { timestamp: 50, value: 'wr', endpoint: consumer },
      { timestamp: 60, value: 'mr', endpoint: consumer },
    ], binaryAnnotations: [{ key: 'ma', value: true, endpoint: broker }] }]).spans;
    assert.deepEqual(spans.map((s) => [s.kind, s.localEndpoint?.serviceName, s.timestamp, s.duration, s.shared, s.remoteEndpoint?.serviceName]), [
      ['PRODUCER', 'producer', 10n, 5n, false, 'kafka'],
      ['CONSUMER', 'consumer', 50n, 10n, true, 'kafka'],
    ]);
  });

  it('keeps an lc value as a tag and drops the empty lc marker', () => {
    const local = { serviceName: 'worker' };
    const [a] = decode([{ ...ids, timestamp: 5, duration: 7, binaryAnnotations: [{ key: 'lc', value: 'scheduler', endpoint: local }] }]).spans;
    assert.equal(a?.kind, undefined);
    assert.equal(a?.tags.get('lc'), 'scheduler');
    assert.equal(a?.localEndpoint?.serviceName, 'worker');
    assert.deepEqual([a?.timestamp, a?.duration], [5n, 7n]);
    const [b] = decode([{ ...ids, binaryAnnotations: [{ key: 'lc', value: '', endpoint: local }] }]).spans;
    assert.equal(b?.tags.size, 0);
  });

  it('reads a client span whose response never came as incomplete', () => {
    const host = { serviceName: 'frontend' };
    const [s] = decode([{ ...ids, annotations: [{ timestamp: 10, value: 'cs', endpoint: host }] }]).spans;
    assert.deepEqual([s?.kind, s?.timestamp, s?.duration], ['CLIENT', 10n, undefined]);
  });

  it('makes a span with only a ca address a server span', () => {
    const [s] = decode([{ ...ids, binaryAnnotations: [{ key: 'ca', value: true, endpoint: { ipv4: '1.2.3.4', port: 5 } }] }]).spans;
    assert.equal(s?.kind, 'SERVER');
    assert.equal(s?.remoteEndpoint?.ipv4, '1.2.3.4');
  });

  it('keeps numeric and boolean binary annotations as text tags', () => {
    const [s] = decode([{ ...ids, binaryAnnotations: [{ key: 'retries', value: 3 }, { key: 'cached', value: false }] }]).spans;
    assert.deepEqual([...(s?.tags ?? [])], [['retries', '3'], ['cached', 'false']]);
  });

  it('refuses v2 JSON with the Zipkin server\'s explanation', () => {
    assert.throws(
      () => decode([{ traceId: '1', id: '2', localEndpoint: { serviceName: 'x' } }]),
      (e: unknown) => e instanceof InvalidInputError && e.message.startsWith('Expected a JSON_V1 encoded list, but received: JSON_V2') && e.message.includes('/api/v2/spans'),
    );
  });

  it('leaves out spans with a broken annotation and keeps the rest', () => {
    const result = decode([{ ...ids, annotations: [{ value: 'cs' }] }, ids]);
    assert.equal(result.spans.length, 1);
    assert.equal(result.rejected, 1);
    assert.match(result.rejectReason, /annotations\[0\]\.timestamp is missing/);
  });
});
