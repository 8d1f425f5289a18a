/**
 * Drives test/support/w3c-test-service.ts the way the W3C trace-context harness (test/test.py,
 * Python, not runnable offline) does: POST /test with trace headers and a list of callbacks to a
 * server the harness runs, then inspect the headers of the callbacks. Mirrors the harness's
 * TraceContextTest, AdvancedTest and TraceContext2Test expectations for a participant, plus the
 * sw8 header skybridge's propagator adds.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { decodeSw8 } from '../../../core/propagation/sw8.ts';
import { parseTraceparent } from '../../../core/propagation/traceparent.ts';
import { tracestateEntries } from '../../../core/propagation/tracestate.ts';
import { startChildService, type ChildService } from '../../support/child-service.ts';

const SERVICE = fileURLToPath(new URL('../../support/w3c-test-service.ts', import.meta.url));
const TRACE = '12345678901234567890123456789012';
const PARENT = '1234567890123456';

/** The harness side: records the headers of every callback, by path. */
class Harness {
  readonly callbacks = new Map<string, http.IncomingHttpHeaders>();
  readonly #server = http.createServer((req, res) => {
    this.callbacks.set(req.url ?? '', req.headers);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  #round = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Sends the service `headers` and asks for `count` callbacks; resolves with their headers. */
  async request(serviceUrl: string, headers: [string, string][], count = 1): Promise<http.IncomingHttpHeaders[]> {
    const round = ++this.#round;
    const port = (this.#server.address() as AddressInfo).port;
    const paths = Array.from({ length: count }, (_, i) => `/${round}/${i}`);
    const body = JSON.stringify(paths.map((p) => ({ url: `http://127.0.0.1:${port}${p}`, arguments: [] })));
    const status = await new Promise<number>((resolve, reject) => {
      // Headers as a flat array send a repeated header as separate fields, as aiohttp does; Node then
      // adds no Host or framing header of its own.
      const framing: [string, string][] = [
        ['host', new URL(serviceUrl).host],
        ['content-type', 'application/json'],
        ['content-length', String(Buffer.byteLength(body))],
      ];
      const req = http.request(serviceUrl, { method: 'POST', headers: [...framing, ...headers].flat() }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 200);
    return paths.map((p) => {
      const h = this.callbacks.get(p);
      assert.ok(h, `the service made the callback ${p}`);
      return h;
    });
  }
}

describe('w3c-test-service as a trace-context participant', () => {
  const harness = new Harness();
  const otlpSink = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  let service: ChildService;
  let url = '';

  before(async () => {
    await harness.start();
    await new Promise<void>((resolve) => otlpSink.listen(0, '127.0.0.1', resolve));
    service = await startChildService(SERVICE, {
      NODE_OPTIONS: '--import tsx',
      PORT: '0',
      OTEL_SERVICE_NAME: 'w3c-participant',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(otlpSink.address() as AddressInfo).port}`,
    });
    url = `http://127.0.0.1:${service.port}/test`;
  });
  after(async () => {
    await service?.stop();
    await harness.stop();
    otlpSink.close();
  });

  const single = async (headers: [string, string][]) => {
    const [h] = await harness.request(url, headers);
    const traceparent = parseTraceparent(h!.traceparent);
    assert.ok(traceparent, `a valid traceparent on the callback: ${h!.traceparent}`);
    return { traceparent, tracestate: tracestateEntries(h!.tracestate), headers: h! };
  };

  it('keeps the trace id, sends a new parent id, and carries tracestate on unchanged', async () => {
    const { traceparent, tracestate } = await single([
      ['traceparent', `00-${TRACE}-${PARENT}-01`],
      ['tracestate', 'foo=1,bar=2'],
      ['tracestate', 'rojo=1,congo=2'],
    ]);
    assert.equal(traceparent.traceId, TRACE);
    assert.notEqual(traceparent.parentId, PARENT);
    assert.equal(traceparent.version, 0);
    assert.deepEqual(tracestate.map((e) => `${e.key}=${e.value}`), ['foo=1', 'bar=2', 'rojo=1', 'congo=2']);
  });

  it('sends a new parent id for every callback of one request, all in the same trace', async () => {
    const hs = await harness.request(url, [['traceparent', `00-${TRACE}-${PARENT}-01`]], 3);
    const parsed = hs.map((h) => parseTraceparent(h.traceparent)!);
    assert.deepEqual(new Set(parsed.map((p) => p.traceId)), new Set([TRACE]));
    assert.equal(new Set(parsed.map((p) => p.parentId)).size, 3);
  });

  it('restarts the trace for an invalid, duplicated or missing traceparent', async () => {
    for (const headers of [
      [['traceparent', `00-${'0'.repeat(32)}-${PARENT}-01`]],
      [['traceparent', `00-${TRACE.toUpperCase().replace(/1/g, 'A')}-${PARENT}-01`]],
      [['traceparent', `ff-${TRACE}-${PARENT}-01`]],
      [['traceparent', `00-${TRACE}-${PARENT}-01.`]],
      [
        ['traceparent', `00-${TRACE.replace(/2$/, '1')}-${PARENT}-01`],
        ['traceparent', `00-${TRACE}-${PARENT}-01`],
      ],
      [],
    ] as [string, string][][]) {
      const { traceparent } = await single(headers);
      assert.notEqual(traceparent.traceId, TRACE, JSON.stringify(headers));
      assert.notEqual(traceparent.traceId, TRACE.replace(/2$/, '1'));
    }
  });

  it('continues a higher version, downgraded to 00', async () => {
    const { traceparent } = await single([['traceparent', `cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`]]);
    assert.equal(traceparent.traceId, TRACE);
    assert.equal(traceparent.version, 0);
  });

  it('keeps the Level 2 random-trace-id flag (TraceContext2Test.test_propagates_random_flag)', async () => {
    const { traceparent } = await single([['traceparent', `00-${TRACE}-${PARENT}-02`]]);
    assert.equal(traceparent.traceId, TRACE);
    assert.notEqual(traceparent.parentId, PARENT);
    assert.equal(traceparent.traceFlags & 0x02, 0x02);
  });

  it('also writes sw8 naming the same trace and the callback`s client span number', async () => {
    const hs = await harness.request(url, [['traceparent', `00-${TRACE}-${PARENT}-01`]], 2);
    const sw = hs.map((h) => decodeSw8(h.sw8, { strict: true })!);
    assert.deepEqual(sw.map((s) => s.traceId), [TRACE, TRACE]);
    assert.equal(sw[0]!.parentSegmentId, sw[1]!.parentSegmentId, 'both calls come from one segment');
    assert.ok(sw[0]!.parentSegmentId.endsWith(TRACE));
    assert.deepEqual(sw.map((s) => s.parentSpanId), [1, 2], 'the server span is 0, the client spans 1 and 2');
    assert.equal(sw[0]!.parentService, 'w3c-participant');
    assert.equal(sw[0]!.parentEndpoint, 'POST:/test');
    assert.match(sw[0]!.addressUsedAtClient, /^127\.0\.0\.1:\d+$/);
  });

  it('carries baggage on', async () => {
    const { headers } = await single([
      ['traceparent', `00-${TRACE}-${PARENT}-01`],
      ['baggage', 'userId=alice,serverNode=DF%2028'],
    ]);
    assert.match(String(headers.baggage), /userId=alice/);
    assert.match(String(headers.baggage), /serverNode=DF%2028/);
  });
});
