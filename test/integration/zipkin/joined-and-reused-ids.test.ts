/**
 * #14 classes 2 and 3 with the real `zipkin` library (zipkin-js), whose HttpServer instrumentation
 * joins the caller's span (B3 single-host spans, `shared`), reported by zipkin-transport-http's
 * HttpLogger as JSON v2 and as JSON v1 (its default, where the two halves are separate v1 spans):
 *
 * - class 2: the server's own child span finishes, and is posted, before the joined server span;
 *   it reaches skybridge still naming the client's span id as its parent.
 * - class 3: a proxy retries (or fans out) with the same B3 headers to two instances of the
 *   service, so two server spans share one span id; each has a child of its own.
 *
 * The stand-in OAP decodes what skybridge sent with skywalking-backend-js's generated stubs; the
 * OAP-rules checker runs on every segment.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import zipkin from 'zipkin';
import { HttpLogger } from 'zipkin-transport-http';
import type { ZipkinReceiver } from '../../../receivers/zipkin/receiver.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';
import { flushHttpLogger } from '../../support/zipkin-http-logger.ts';

const { Tracer, BatchRecorder, ExplicitContext, Instrumentation, jsonEncoder, option } = zipkin;
type Encoder = 'JSON_V2' | 'JSON_V1';

interface Process {
  tracer: zipkin.Tracer;
  logger: HttpLogger;
  server: InstanceType<typeof Instrumentation.HttpServer>;
}

function startProcess(collectorUrl: string, encoder: Encoder, service: string, host: string): Process {
  const path = encoder === 'JSON_V2' ? '/api/v2/spans' : '/api/v1/spans';
  const logger = new HttpLogger({ endpoint: `${collectorUrl}${path}`, httpInterval: 3_600_000, ...(encoder === 'JSON_V2' ? { jsonEncoder: jsonEncoder.JSON_V2 } : {}) });
  const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: service });
  return { tracer, logger, server: new Instrumentation.HttpServer({ tracer, port: 8080, host }) };
}

const headerReader = (headers: Record<string, string>) => <T>(name: string): zipkin.option.IOption<T> => {
  const v = headers[name] ?? headers[name.toLowerCase()];
  return (v === undefined ? option.None : new option.Some(v)) as unknown as zipkin.option.IOption<T>;
};

/** frontend: a root server span and a client span to orders; returns the B3 headers it sent. */
function frontendCall(fe: Process): { headers: Record<string, string>; finish: () => void } {
  const rootId = fe.tracer.scoped(() => fe.server.recordRequest('GET', 'http://frontend:8080/checkout', headerReader({})));
  const client = new Instrumentation.HttpClient({ tracer: fe.tracer, remoteServiceName: 'orders' });
  let clientId = rootId;
  const request = fe.tracer.scoped(() => {
    fe.tracer.setId(rootId);
    const r = client.recordRequest({ headers: {} as Record<string, string> }, 'http://orders:8080/orders', 'POST');
    clientId = fe.tracer.id;
    return r;
  });
  return {
    headers: request.headers as Record<string, string>,
    finish: () => {
      fe.tracer.scoped(() => client.recordResponse(clientId, '200'));
      fe.tracer.scoped(() => fe.server.recordResponse(rootId, '200'));
    },
  };
}

/** orders handles one request with `headers`: joins the caller's span, runs one local child span. */
async function ordersHandles(p: Process, headers: Record<string, string>, childName: string, postChildFirst: boolean): Promise<void> {
  const serverId = p.tracer.scoped(() => p.server.recordRequest('POST', 'http://orders:8080/orders', headerReader(headers)));
  assert.equal(serverId.isShared(), true, 'zipkin-js joined the caller\'s span');
  p.tracer.scoped(() => {
    p.tracer.setId(serverId);
    p.tracer.local(childName, () => undefined);
  });
  // The child finished first; a logger that flushes now sends it before its joined server span.
  if (postChildFirst) await flushHttpLogger(p.logger);
  p.tracer.scoped(() => p.server.recordResponse(serverId, '200'));
  await flushHttpLogger(p.logger);
}

const bySegment = (segments: DecodedSegment[]) =>
  segments.map((s) => ({
    where: `${s.service}@${s.serviceinstance}`,
    spans: s.spansList.map((sp) => `${sp.operationname}|${['Entry', 'Exit', 'Local'][sp.spantype]}|${sp.parentspanid}`),
  }));

for (const encoder of ['JSON_V2', 'JSON_V1'] as const) {
  describe(`zipkin-js (${encoder}) joined and reused span ids → zipkin receiver → OAP`, () => {
    let harness: Harness;
    let url: string;

    before(async () => {
      harness = await startHarness({ receiversYaml: '  zipkin: { endpoint: "127.0.0.1:0" }', receiverIds: ['zipkin'], quietPeriod: '300ms' });
      url = `http://127.0.0.1:${harness.collector.service.component<ZipkinReceiver>('zipkin')!.port}`;
    });
    after(() => harness.stop());

    it('class 2: a child posted before its joined server span still lands in the server\'s segment', async () => {
      harness.oap.segments.length = 0;
      const fe = startProcess(url, encoder, 'frontend', '10.0.0.1');
      const orders = startProcess(url, encoder, 'orders', '10.0.0.2');
      const call = frontendCall(fe);
      await ordersHandles(orders, call.headers, 'load order', true);
      call.finish();
      await flushHttpLogger(fe.logger);
      await harness.oap.waitForSegments(2, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const segments = harness.oap.segments as DecodedSegment[];
      assertOapRules(segments);
      assert.deepEqual(bySegment(segments).sort((a, b) => a.where.localeCompare(b.where)), [
        { where: 'frontend@10.0.0.1', spans: ['GET:/checkout|Entry|-1', '/orders|Exit|0'] },
        { where: 'orders@10.0.0.2', spans: ['POST:/orders|Entry|-1', 'load order|Local|0'] },
      ]);
      const ordersEntry = segments.find((s) => s.service === 'orders')!.spansList[0]!;
      assert.equal(ordersEntry.refsList.length, 1);
      assert.equal(ordersEntry.refsList[0]!.parentservice, 'frontend');
    });

    it('class 3: two instances joined under one span id each get a segment, with their own children', async () => {
      harness.oap.segments.length = 0;
      const fe = startProcess(url, encoder, 'frontend', '10.0.0.1');
      const first = startProcess(url, encoder, 'orders', '10.0.0.2');
      const retry = startProcess(url, encoder, 'orders', '10.0.0.3');
      const call = frontendCall(fe);
      // A proxy retried with the same B3 headers: both servers join the client's span id.
      await ordersHandles(first, call.headers, 'load order (first try)', false);
      await ordersHandles(retry, call.headers, 'load order (retry)', false);
      call.finish();
      await flushHttpLogger(fe.logger);
      await harness.oap.waitForSegments(3, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const segments = harness.oap.segments as DecodedSegment[];
      assertOapRules(segments);
      assert.deepEqual(bySegment(segments).sort((a, b) => a.where.localeCompare(b.where)), [
        { where: 'frontend@10.0.0.1', spans: ['GET:/checkout|Entry|-1', '/orders|Exit|0'] },
        { where: 'orders@10.0.0.2', spans: ['POST:/orders|Entry|-1', 'load order (first try)|Local|0'] },
        { where: 'orders@10.0.0.3', spans: ['POST:/orders|Entry|-1', 'load order (retry)|Local|0'] },
      ]);
      const frontend = segments.find((s) => s.service === 'frontend')!;
      for (const s of segments.filter((x) => x.service === 'orders')) {
        const ref = s.spansList[0]!.refsList[0]!;
        assert.equal(ref.parenttracesegmentid, frontend.tracesegmentid);
        assert.equal(ref.parentspanid, 1);
      }
    });
  });
}
