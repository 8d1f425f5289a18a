import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import zipkin from 'zipkin';
import { OverloadedError } from '../../core/errors.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { zipkinConfigSchema } from './config.ts';
import { ZipkinReceiver } from './receiver.ts';
import { encodeThriftSpans } from './testdata/thrift-binary-writer.ts';
import { postHeadersOnly } from '../../test/support/post-headers-only.ts';
import { post, startTestReceiver, type TestReceiver } from './testdata/test-receiver.ts';
import { encodeListOfSpans, idBytes } from './testdata/zipkin-proto.ts';

const JSON_TYPE = { 'Content-Type': 'application/json' };
const span = { traceId: '5af7183fb1d4cf5f', id: '352bff9a74ca9ad2', name: 'get /api', timestamp: 1556604172355737, duration: 1431, kind: 'SERVER', localEndpoint: { serviceName: 'backend' } };
const v2Body = JSON.stringify([span]);
const v1Body = JSON.stringify([{ traceId: span.traceId, id: span.id, name: 'get', timestamp: 1, duration: 2, annotations: [{ timestamp: 1, value: 'sr', endpoint: { serviceName: 'backend' } }], binaryAnnotations: [{ key: 'lc', value: '' }] }]);
const thriftBody = encodeThriftSpans([{ traceId: 1n, id: 2n, name: 'get', timestamp: 1n, duration: 2n }]);
const protoBody = encodeListOfSpans({ spans: [{ trace_id: idBytes(span.traceId), id: idBytes(span.id), kind: 2, timestamp: 1556604172355737 }] });
const LIMIT = 64 * 1024;

describe('ZipkinReceiver', () => {
  let rx: TestReceiver;
  const v2 = () => rx.url('/api/v2/spans');
  const v1 = () => rx.url('/api/v1/spans');
  /** After every refusal the receiver must still accept a good request. */
  const assertStillServing = async () => {
    const before = rx.batches.length;
    const answer = await post(v2(), v2Body, JSON_TYPE);
    assert.equal(answer.status, 202);
    assert.equal(rx.batches.length, before + 1);
  };
  const requests = async (status: string) =>
    ((await rx.metrics.receiverRequests.get()).values.find((v) => v.labels.status === status)?.value ?? 0);

  before(async () => {
    rx = await startTestReceiver({ max_request_body_size: '64KiB' });
  });
  after(() => rx.stop());
  beforeEach(() => {
    rx.batches.length = 0;
    rx.refuseWith = undefined;
    rx.admitWith = undefined;
  });

  describe('accepts', () => {
    it('JSON v2 with 202 and an empty body, after the next stage took the spans', async () => {
      const answer = await post(v2(), v2Body, JSON_TYPE);
      assert.deepEqual([answer.status, answer.text], [202, '']);
      assert.equal(rx.batches.length, 1);
      assert.equal(rx.batches[0]!.resourceSpans[0]!.resource.attributes['service.name'], 'backend');
    });

    it('JSON v2 without a Content-Type, as Zipkin does', async () => {
      assert.equal((await post(v2(), v2Body)).status, 202);
    });

    it('proto3 on the v2 path', async () => {
      assert.equal((await post(v2(), protoBody, { 'Content-Type': 'application/x-protobuf' })).status, 202);
      assert.equal(rx.batches[0]!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId, span.id);
    });

    it('JSON v1 from the zipkin npm package encoder on the v1 path', async () => {
      const { model, jsonEncoder, TraceId, option } = zipkin;
      const s = new model.Span(new TraceId({ traceId: span.traceId, spanId: span.id, sampled: option.None }));
      s.setName('get');
      s.setKind('SERVER');
      s.setTimestamp(1556604172355737);
      s.setDuration(10);
      s.setLocalEndpoint(new model.Endpoint({ serviceName: 'backend' }));
      assert.equal((await post(v1(), `[${jsonEncoder.JSON_V1.encode(s)}]`, JSON_TYPE)).status, 202);
      assert.equal(rx.batches[0]!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.kind, 2);
    });

    it('Thrift on the v1 path', async () => {
      assert.equal((await post(v1(), thriftBody, { 'Content-Type': 'application/x-thrift' })).status, 202);
      assert.equal(rx.batches.length, 1);
    });

    it('gzip and deflate bodies', async () => {
      assert.equal((await post(v2(), zlib.gzipSync(v2Body), { ...JSON_TYPE, 'Content-Encoding': 'gzip' })).status, 202);
      assert.equal((await post(v1(), zlib.deflateSync(thriftBody), { 'Content-Type': 'application/x-thrift', 'Content-Encoding': 'deflate' })).status, 202);
      assert.equal(rx.batches.length, 2);
    });

    it('an empty body and an empty list without calling the next stage', async () => {
      assert.equal((await post(v2(), '', JSON_TYPE)).status, 202);
      assert.equal((await post(v2(), '[]', JSON_TYPE)).status, 202);
      assert.equal((await post(v1(), zlib.gzipSync(''), { ...JSON_TYPE, 'Content-Encoding': 'gzip' })).status, 202);
      assert.equal(rx.batches.length, 0);
    });

    it('the good spans of a body with a bad one, counting the bad one as dropped', async () => {
      const answer = await post(v2(), JSON.stringify([span, { ...span, id: 'not-hex' }]), JSON_TYPE);
      assert.equal(answer.status, 202);
      assert.equal(rx.batches[0]!.resourceSpans[0]!.scopeSpans[0]!.spans.length, 1);
      const drops = (await rx.metrics.droppedSpans.get()).values.find((v) => v.labels.reason === 'invalid_input');
      assert.equal(drops?.value, 1);
    });
  });

  describe('refuses, explains, and keeps serving', () => {
    const cases: [string, () => Promise<{ status: number; text: string }>, number, RegExp][] = [
      ['bad JSON', () => post(v2(), '[{"traceId":', JSON_TYPE), 400, /^Expected a JSON_V2 encoded list: the body is not JSON/],
      ['JSON that is not a list', () => post(v2(), '{}', JSON_TYPE), 400, /not an array of spans/],
      ['a body whose every span is unusable', () => post(v2(), '[{"traceId":"zz","id":"1"}]', JSON_TYPE), 400, /No usable span in the JSON_V2 body: 1 span was left out \(first: spans\[0\]: traceId must be/],
      ['v1 JSON on the v2 path', () => post(v2(), v1Body, JSON_TYPE), 400, /^Expected a JSON_V2 encoded list, but received: JSON_V1.*\/api\/v1\/spans/],
      ['v2 JSON on the v1 path', () => post(v1(), v2Body, JSON_TYPE), 400, /^Expected a JSON_V1 encoded list, but received: JSON_V2.*\/api\/v2\/spans/],
      ['truncated Thrift', () => post(v1(), thriftBody.subarray(0, thriftBody.length - 3), { 'Content-Type': 'application/x-thrift' }), 400, /^Expected a THRIFT encoded list/],
      ['truncated proto3', () => post(v2(), protoBody.subarray(0, protoBody.length - 3), { 'Content-Type': 'application/x-protobuf' }), 400, /^Expected a PROTO3 encoded list/],
      ['corrupt gzip', () => post(v2(), Buffer.from('not gzip at all'), { ...JSON_TYPE, 'Content-Encoding': 'gzip' }), 400, /Cannot decompress the gzip body/],
      ['a wrong Content-Type', () => post(v2(), v2Body, { 'Content-Type': 'text/xml' }), 415, /Content-Type "text\/xml" is not supported on \/api\/v2\/spans; send application\/json/],
      ['Thrift on the v2 path', () => post(v2(), thriftBody, { 'Content-Type': 'application/x-thrift' }), 415, /is Zipkin v1 Thrift; POST it to \/api\/v1\/spans/],
      ['proto3 on the v1 path', () => post(v1(), protoBody, { 'Content-Type': 'application/x-protobuf' }), 415, /is Zipkin v2 proto3; POST it to \/api\/v2\/spans/],
      ['an unsupported Content-Encoding', () => post(v2(), v2Body, { ...JSON_TYPE, 'Content-Encoding': 'br' }), 415, /Content-Encoding "br" is not supported/],
      ['a body over the limit (Content-Length)', () => post(v2(), Buffer.alloc(LIMIT + 1, 0x20), JSON_TYPE), 413, /larger than max_request_body_size \(65536 bytes\)/],
      ['a body over the limit (chunked)', () => post(v2(), Buffer.alloc(LIMIT + 1, 0x20), { ...JSON_TYPE, 'Transfer-Encoding': 'chunked' }), 413, /larger than max_request_body_size/],
      ['a gzip bomb', () => post(v2(), zlib.gzipSync(Buffer.alloc(32 * 1024 * 1024)), { ...JSON_TYPE, 'Content-Encoding': 'gzip' }), 413, /decompressed request body is larger than max_request_body_size/],
      ['another path', () => post(rx.url('/api/v2/traces'), v2Body, JSON_TYPE), 404, /POST \/api\/v2\/spans and POST \/api\/v1\/spans/],
    ];
    for (const [name, send, status, message] of cases) {
      it(`${name} → ${status}`, async () => {
        const answer = await send();
        assert.equal(answer.status, status, answer.text);
        assert.match(answer.text, message);
        assert.equal(rx.batches.length, 0);
        await assertStillServing();
      });
    }

    it('GET → 405 with Allow: POST', async () => {
      const res = await fetch(v2());
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'POST');
      await assertStillServing();
    });

    it('a refusal downstream → 429 with Retry-After, and nothing acknowledged', async () => {
      rx.refuseWith = new OverloadedError('Trace buffer full.', 2000);
      const answer = await post(v2(), v2Body, JSON_TYPE);
      assert.equal(answer.status, 429);
      assert.equal(answer.headers['retry-after'], '2');
      rx.refuseWith = undefined;
      await assertStillServing();
    });

    it('a full pipeline → 429 with Retry-After before the body is read, and the connection closed', async () => {
      rx.admitWith = new OverloadedError('Admission bound reached.', 3000);
      const partial = await postHeadersOnly(v2(), 60 * 1024, JSON_TYPE);
      assert.equal(partial.status, 429);
      assert.equal(partial.headers['retry-after'], '3');
      assert.equal(partial.headers.connection, 'close');
      assert.equal(rx.batches.length, 0);
      rx.admitWith = undefined;
      await assertStillServing();
    });

    it('an unknown failure downstream → 503, retryable', async () => {
      rx.refuseWith = new Error('socket hang up');
      const answer = await post(v2(), v2Body, JSON_TYPE);
      assert.equal(answer.status, 503);
      assert.ok(answer.headers['retry-after']);
    });

    it('counts answered requests by status', async () => {
      const before202 = await requests('202');
      await post(v2(), v2Body, JSON_TYPE);
      assert.equal(await requests('202'), before202 + 1);
      assert.ok((await requests('400')) > 0);
    });
  });
});

describe('ZipkinReceiver lifecycle', () => {
  const settings = () => ({ id: 'zipkin', kind: 'receiver' as const, logger: createLogger({ level: 'silent' }), metrics: new Metrics() });
  const next = { mutatesData: false, consume: async () => {} };

  it('describes where it listens, with the bound port once started', async () => {
    const r = new ZipkinReceiver(settings(), zipkinConfigSchema.parse({ endpoint: '127.0.0.1:0' }), next);
    assert.deepEqual(r.describe(), ['Zipkin on 127.0.0.1:0 (POST /api/v2/spans, /api/v1/spans)']);
    await r.start({ reportFatal: () => {} });
    assert.deepEqual(r.describe(), [`Zipkin on 127.0.0.1:${r.port} (POST /api/v2/spans, /api/v1/spans)`]);
    await r.shutdown(AbortSignal.timeout(1000));
    await r.shutdown(AbortSignal.timeout(1000));
  });

  it('has the Collector\'s defaults', () => {
    assert.deepEqual(zipkinConfigSchema.parse({}), { endpoint: 'localhost:9411', max_request_body_size: 4 * 1024 * 1024, connections: { max: 4096, header_timeout: 10_000, request_timeout: 60_000, idle_timeout: 60_000 }, parse_string_tags: false });
    assert.equal(zipkinConfigSchema.safeParse({ endpoint: '0.0.0.0:9411', extra: 1 }).success, false);
  });

  it('shuts down safely without start', async () => {
    const r = new ZipkinReceiver(settings(), zipkinConfigSchema.parse({ endpoint: '127.0.0.1:0' }), next);
    await r.shutdown(AbortSignal.timeout(1000));
    assert.equal(r.port, undefined);
  });

  it('rejects start when the port is taken', async () => {
    const a = new ZipkinReceiver(settings(), zipkinConfigSchema.parse({ endpoint: '127.0.0.1:0' }), next);
    await a.start({ reportFatal: () => {} });
    const b = new ZipkinReceiver(settings(), zipkinConfigSchema.parse({ endpoint: `127.0.0.1:${a.port}` }), next);
    await assert.rejects(b.start({ reportFatal: () => {} }), /EADDRINUSE/);
    await Promise.all([a.shutdown(AbortSignal.timeout(1000)), b.shutdown(AbortSignal.timeout(1000))]);
  });
});
