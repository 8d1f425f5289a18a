import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { OverloadedError, UnavailableError } from '../../core/errors.ts';
import type { SpanBatch } from '../../core/model/span-batch.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { w3cConfigSchema } from './config.ts';
import { W3cReceiver } from './receiver.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const span = { name: 'GET /cart', kind: 'server', service: 'edge-proxy', start: 1_777_629_600_120, end: 1_777_629_600_250 };
const JSON_HEADERS = { 'content-type': 'application/json', traceparent: TRACEPARENT };

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: { code?: string; message?: string; accepted?: number; spans?: { traceId: string; spanId: string }[] };
}

function post(port: number, path: string, body: Buffer | string, headers: http.OutgoingHttpHeaders): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = {};
        try {
          json = JSON.parse(text);
        } catch {
          json = { message: text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
    req.end(body);
  });
}

describe('W3cReceiver', () => {
  const batches: SpanBatch[] = [];
  let refuseWith: Error | undefined;
  let receiver: W3cReceiver;
  let port = 0;
  const send = (body: unknown, headers: http.OutgoingHttpHeaders = JSON_HEADERS, path = '/v1/w3c/spans') =>
    post(port, path, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers);

  before(async () => {
    const next: TraceConsumer = {
      mutatesData: false,
      async consume(batch: SpanBatch, _ctx: ConsumeContext) {
        if (refuseWith) throw refuseWith;
        batches.push(batch);
      },
    };
    const settings = { id: 'w3c', kind: 'receiver' as const, logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
    receiver = new W3cReceiver(settings, w3cConfigSchema.parse({ endpoint: '127.0.0.1:0', max_request_body_size: '4KiB' }), next);
    await receiver.start({ reportFatal: (_id, err) => { throw err; } });
    port = receiver.port!;
  });
  after(() => receiver.shutdown(AbortSignal.timeout(2000)));
  beforeEach(() => {
    batches.length = 0;
    refuseWith = undefined;
  });

  it('answers 202 with the span ids once the next stage took the spans', async () => {
    const answer = await send(span);
    assert.equal(answer.status, 202);
    assert.equal(answer.json.accepted, 1);
    assert.equal(answer.json.spans![0]!.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.match(answer.json.spans![0]!.spanId, /^[0-9a-f]{16}$/);
    assert.equal(batches.length, 1);
    assert.equal(batches[0]!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId, answer.json.spans![0]!.spanId);
  });

  it('takes an array of spans sharing the headers, and gzip bodies', async () => {
    const answer = await send(zlib.gzipSync(JSON.stringify([span, { ...span, name: 'other' }])), { ...JSON_HEADERS, 'content-encoding': 'gzip' });
    assert.equal(answer.status, 202);
    assert.equal(answer.json.accepted, 2);
  });

  it('gives a retried POST the same span id', async () => {
    const a = await send(span);
    const b = await send(span);
    assert.deepEqual(a.json.spans, b.json.spans);
  });

  it('answers 400 with an explanation for a missing or invalid traceparent, before reading the body', async () => {
    const missing = await send(span, { 'content-type': 'application/json' });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.code, 'SKB_ERR_INPUT_INVALID');
    assert.match(missing.json.message!, /traceparent header is required/);
    const bad = await send(span, { ...JSON_HEADERS, traceparent: 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    assert.match(bad.json.message!, /version ff is forbidden/);
    assert.equal(batches.length, 0);
  });

  it('answers 400 for a bad body, naming the field', async () => {
    const answer = await send({ ...span, kind: 'entry' });
    assert.equal(answer.status, 400);
    assert.match(answer.json.message!, /kind must be one of/);
    assert.equal((await send('{not json')).status, 400);
  });

  it('answers 415 for anything but JSON', async () => {
    for (const type of [undefined, 'text/plain', 'application/x-protobuf']) {
      const headers: http.OutgoingHttpHeaders = { traceparent: TRACEPARENT };
      if (type) headers['content-type'] = type;
      const answer = await send(span, headers);
      assert.equal(answer.status, 415, String(type));
      assert.equal(answer.json.code, 'SKB_ERR_INPUT_MEDIA_TYPE');
    }
    assert.equal((await send(span, { ...JSON_HEADERS, 'content-type': 'application/json; charset=utf-8' })).status, 202);
  });

  it('answers 413 for a body over max_request_body_size', async () => {
    const answer = await send([span, { ...span, attributes: { big: 'x'.repeat(5000) } }]);
    assert.equal(answer.status, 413);
    assert.equal(answer.json.code, 'SKB_ERR_INPUT_TOO_LARGE');
  });

  it('maps backpressure to 429 / 503 with Retry-After', async () => {
    refuseWith = new OverloadedError('queue full', 2000);
    const overloaded = await send(span);
    assert.equal(overloaded.status, 429);
    assert.equal(overloaded.headers['retry-after'], '2');
    refuseWith = new UnavailableError('exporter down');
    const unavailable = await send(span);
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers['retry-after'], '1');
    refuseWith = new Error('surprise');
    assert.equal((await send(span)).status, 503, 'an unexpected failure is retryable');
  });

  it('answers 404 on other paths and 405 for other methods', async () => {
    assert.equal((await send(span, JSON_HEADERS, '/v1/traces')).status, 404);
    const res = await fetch(`http://127.0.0.1:${port}/v1/w3c/spans`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });

  it('describes where it listens', () => {
    assert.deepEqual(receiver.describe(), [`W3C spans on 127.0.0.1:${port} (POST /v1/w3c/spans)`]);
  });
});
