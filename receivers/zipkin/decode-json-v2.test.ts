import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import zipkin from 'zipkin';
import { InvalidInputError } from '../../core/errors.ts';
import { decodeJsonV2 } from './decode-json-v2.ts';

const golden = readFileSync(new URL('./testdata/v2-zipkin-api-example.json', import.meta.url));
const decode = (json: unknown) => decodeJsonV2(Buffer.from(typeof json === 'string' ? json : JSON.stringify(json)));
const base = { traceId: '5af7183fb1d4cf5f', id: '352bff9a74ca9ad2', timestamp: 1556604172355737 };

describe('decodeJsonV2', () => {
  it('reads every field of the zipkin-api example span', () => {
    const { spans, rejected } = decodeJsonV2(golden);
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

  it('reads what the zipkin npm package JSON_V2 encoder writes', () => {
    const { model, jsonEncoder } = zipkin;
    const span = new model.Span(
      new zipkin.TraceId({ traceId: '4e441824ec2b6a44ffdc9bb9a6453df3', spanId: 'ffdc9bb9a6453df3', parentId: new zipkin.option.Some('0000000000000001'), sampled: zipkin.option.None, debug: true }),
    );
    span.setName('get /orders');
    span.setKind('CLIENT');
    span.setTimestamp(1700000000000001);
    span.setDuration(2500);
    span.setLocalEndpoint(new model.Endpoint({ serviceName: 'frontend', ipv4: '10.0.0.1', port: 8080 }));
    span.setRemoteEndpoint(new model.Endpoint({ serviceName: 'orders', ipv4: '10.0.0.2', port: 9090 }));
    span.addAnnotation(1700000000000500, 'wire.send');
    span.putTag('http.method', 'GET');
    const body = `[${jsonEncoder.JSON_V2.encode(span)}]`;

    const [z] = decode(body).spans;
    assert.equal(z?.traceId, '4e441824ec2b6a44ffdc9bb9a6453df3');
    assert.equal(z?.parentId, '0000000000000001');
    assert.equal(z?.kind, 'CLIENT');
    assert.equal(z?.debug, true);
    assert.deepEqual(z?.remoteEndpoint, { serviceName: 'orders', ipv4: '10.0.0.2', ipv6: undefined, port: 9090 });
    assert.deepEqual(z?.annotations, [{ timestamp: 1700000000000500n, value: 'wire.send' }]);
  });

  it('normalises ids as Zipkin does: padding, lower case, a zero high half', () => {
    const [a, b, c] = decode([
      { ...base, traceId: 'ABC', id: 'F' },
      { ...base, traceId: '00000000000000005af7183fb1d4cf5f' },
      { ...base, traceId: '1' + '0'.repeat(16) + '5af7183fb1d4cf5f'.slice(1) },
    ]).spans;
    assert.equal(a?.traceId, '0000000000000abc');
    assert.equal(a?.id, '000000000000000f');
    assert.equal(b?.traceId, '5af7183fb1d4cf5f');
    assert.equal(c?.traceId.length, 32);
  });

  it('treats an unknown kind as absent and tolerates numeric tag values', () => {
    const [z] = decode([{ ...base, kind: 'BROKER', tags: { 'http.status_code': 200, ok: true } }]).spans;
    assert.equal(z?.kind, undefined);
    assert.deepEqual([...(z?.tags ?? [])], [['http.status_code', '200'], ['ok', 'true']]);
  });

  it('keeps a tag named __proto__ as an ordinary tag', () => {
    const [z] = decode('[{"traceId":"1","id":"2","timestamp":1,"tags":{"__proto__":"x"}}]').spans;
    assert.equal(z?.tags.get('__proto__'), 'x');
  });

  it('leaves out spans with unusable ids or fields and keeps the rest', () => {
    const result = decode([
      { ...base, id: undefined },
      { ...base, traceId: '0000000000000000' },
      { ...base, id: 'xyz' },
      { ...base, timestamp: -5 },
      { ...base, annotations: [{ value: 'no time' }] },
      base,
    ]);
    assert.equal(result.spans.length, 1);
    assert.equal(result.rejected, 5);
    assert.match(result.rejectReason, /^5 spans were left out \(first: spans\[0\]: id must be a string/);
  });

  it('refuses a body that is not a JSON array', () => {
    assert.throws(() => decode('{"traceId":'), (e: unknown) => e instanceof InvalidInputError && /Expected a JSON_V2 encoded list: the body is not JSON/.test(e.message));
    assert.throws(() => decode({ spans: [] }), (e: unknown) => e instanceof InvalidInputError && /not an array of spans \(got an object\)/.test(e.message));
  });

  it('refuses v1 JSON with the Zipkin server\'s explanation', () => {
    const v1 = [{ ...base, binaryAnnotations: [{ key: 'lc', value: '' }] }];
    assert.throws(
      () => decode(v1),
      (e: unknown) => e instanceof InvalidInputError && e.message.startsWith('Expected a JSON_V2 encoded list, but received: JSON_V1') && e.message.includes('/api/v1/spans'),
    );
  });
});
