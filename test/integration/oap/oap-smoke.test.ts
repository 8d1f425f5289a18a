/**
 * Against the REAL SkyWalking OAP 10.1.0 (scripts/oap.sh, H2 in memory): the OpenTelemetry SDK
 * sends one trace over OTLP/gRPC to skybridge (a separate process), skybridge's `skywalking`
 * exporter sends the segments to the OAP, and everything asserted is the OAP's own GraphQL answer:
 * both services listed in layer GENERAL, the trace found by queryBasicTraces, queryTrace giving our
 * three spans with the CrossProcess ref that links orders to frontend's Exit span, and the
 * frontend → orders call in the topology.
 *
 * frontend: Entry GET /checkout ── Exit GET http://orders:8080/orders/42
 *                                          └── orders: Entry GET /orders/{id} (remote parent)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { lastMinutes, pollOap, startOapBehindSkybridge, type OapBehindSkybridge, type RealOap } from '../../support/oap.ts';
import { globalTopology, listServices, queryBasicTraces, queryTrace } from '../../support/oap-graphql.ts';

function provider(service: string, otlpPort: number): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'service.instance.id': `${service}-1` }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `http://127.0.0.1:${otlpPort}` }))],
  });
}

describe('OTel SDK → skybridge → real SkyWalking OAP 10.1.0', () => {
  let peers: OapBehindSkybridge | undefined;
  let oap: RealOap;
  let otlpPort = 0;

  before(async () => {
    peers = await startOapBehindSkybridge('oap-smoke');
    ({ oap, otlpPort } = peers);
  });

  after(async () => {
    await peers?.stop();
  });

  it('lists both services, finds the trace with its spans and ref, and draws the call', async () => {
    const frontend = provider('frontend', otlpPort);
    const orders = provider('orders', otlpPort);
    const t0 = Date.now() - 1_000;
    const feTracer = frontend.getTracer('@opentelemetry/instrumentation-http');
    const entry = feTracer.startSpan('GET /checkout', {
      kind: SpanKind.SERVER,
      startTime: t0,
      attributes: { 'http.request.method': 'GET', 'http.route': '/checkout', 'url.path': '/checkout', 'http.response.status_code': 200 },
    });
    const exit: Span = feTracer.startSpan(
      'GET',
      {
        kind: SpanKind.CLIENT,
        startTime: t0 + 10,
        attributes: {
          'http.request.method': 'GET',
          'url.full': 'http://orders:8080/orders/42',
          'server.address': 'orders',
          'server.port': 8080,
          'http.response.status_code': 200,
        },
      },
      trace.setSpan(ROOT_CONTEXT, entry),
    );
    // orders received the request with the client span's traceparent: a remote parent.
    const ordersEntry = orders.getTracer('@opentelemetry/instrumentation-http').startSpan(
      'GET /orders/{id}',
      {
        kind: SpanKind.SERVER,
        startTime: t0 + 20,
        attributes: { 'http.request.method': 'GET', 'http.route': '/orders/{id}', 'url.path': '/orders/42', 'http.response.status_code': 200 },
      },
      trace.setSpanContext(ROOT_CONTEXT, { ...exit.spanContext(), isRemote: true }),
    );
    ordersEntry.end(t0 + 90);
    exit.end(t0 + 100);
    entry.end(t0 + 120);
    await Promise.all([frontend.shutdown(), orders.shutdown()]);
    const traceId = entry.spanContext().traceId;
    const feSegmentId = entry.spanContext().spanId + traceId;
    const ordersSegmentId = ordersEntry.spanContext().spanId + traceId;

    // 1. Both services, as normal (instrumented) services of layer GENERAL.
    const services = await pollOap(oap, 'services frontend and orders in layer GENERAL', async () => {
      const byName = new Map((await listServices(oap, 'GENERAL')).map((s) => [s.name, s]));
      return byName.has('frontend') && byName.has('orders') ? byName : undefined;
    });
    for (const name of ['frontend', 'orders']) {
      const s = services.get(name)!;
      assert.ok(s.layers.includes('GENERAL'), `${name} layers ${JSON.stringify(s.layers)}`);
      assert.equal(s.normal, true, `${name} is a real service, not a conjectured peer`);
    }

    // 2. The trace's two segments in queryBasicTraces.
    const basic = await pollOap(oap, `trace ${traceId} in queryBasicTraces`, async () => {
      const traces = await queryBasicTraces(oap, { traceId, duration: lastMinutes(), pageSize: 20 });
      return traces.length >= 2 ? traces : undefined;
    });
    assert.deepEqual(basic.map((t) => t.segmentId).sort(), [feSegmentId, ordersSegmentId].sort());
    for (const t of basic) {
      assert.deepEqual(t.traceIds, [traceId]);
      assert.equal(t.isError, false);
    }
    const feBasic = basic.find((t) => t.segmentId === feSegmentId)!;
    assert.deepEqual(feBasic.endpointNames, ['GET:/checkout']);
    assert.equal(feBasic.duration, 120);
    assert.deepEqual(basic.find((t) => t.segmentId === ordersSegmentId)!.endpointNames, ['GET:/orders/{id}']);

    // 3. queryTrace: our three spans, and the ref from orders to frontend's Exit span.
    const spans = await pollOap(oap, `queryTrace ${traceId} with 3 spans`, async () => {
      const got = await queryTrace(oap, traceId);
      return got.length >= 3 ? got : undefined;
    });
    assert.equal(spans.length, 3, JSON.stringify(spans));
    const feEntry = spans.find((s) => s.segmentId === feSegmentId && s.type === 'Entry');
    const feExit = spans.find((s) => s.segmentId === feSegmentId && s.type === 'Exit');
    const ordEntry = spans.find((s) => s.segmentId === ordersSegmentId && s.type === 'Entry');
    assert.ok(feEntry && feExit && ordEntry, `Entry, Exit, Entry: ${JSON.stringify(spans)}`);

    assert.equal(feEntry.serviceCode, 'frontend');
    assert.equal(feEntry.serviceInstanceName, 'frontend-1');
    assert.equal(feEntry.spanId, 0);
    assert.equal(feEntry.parentSpanId, -1);
    assert.equal(feEntry.endpointName, 'GET:/checkout');
    assert.equal(feEntry.component, 'http');
    assert.equal(feEntry.layer, 'Http');
    assert.equal(feEntry.startTime, t0);
    assert.equal(feEntry.endTime, t0 + 120);
    assert.deepEqual(feEntry.refs, []);
    assert.equal(feEntry.isError, false);

    assert.equal(feExit.parentSpanId, 0);
    assert.equal(feExit.peer, 'orders:8080');
    assert.equal(feExit.component, 'HttpClient');
    assert.equal(feExit.layer, 'Http');
    assert.equal(feExit.endpointName, '/orders/{id}', 'the path with its id folded, as skybridge names Exit spans');

    assert.equal(ordEntry.serviceCode, 'orders');
    assert.equal(ordEntry.serviceInstanceName, 'orders-1');
    assert.equal(ordEntry.spanId, 0);
    assert.equal(ordEntry.endpointName, 'GET:/orders/{id}');
    assert.equal(ordEntry.startTime, t0 + 20);
    assert.equal(ordEntry.endTime, t0 + 90);
    assert.deepEqual(ordEntry.refs, [{ traceId, parentSegmentId: feSegmentId, parentSpanId: feExit.spanId, type: 'CROSS_PROCESS' }]);
    assert.ok(ordEntry.tags.some((t) => t.key === 'http.status_code' && t.value === '200'), JSON.stringify(ordEntry.tags));

    // 4. The call frontend → orders, as the callee saw it (the Entry span's ref).
    const frontendId = services.get('frontend')!.id;
    const ordersId = services.get('orders')!.id;
    const call = await pollOap(oap, 'topology call frontend → orders', async () => {
      const { calls } = await globalTopology(oap, lastMinutes());
      return calls.find((c) => c.source === frontendId && c.target === ordersId && c.detectPoints.includes('SERVER'));
    });
    assert.ok(call);
  });
});
