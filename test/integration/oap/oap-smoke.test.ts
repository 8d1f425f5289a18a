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
import { lastMinutes, pollOap, startOap, type RealOap } from '../../support/oap.ts';
import { freePort, SkybridgeProcess } from '../../support/skybridge-process.ts';

interface OapService {
  id: string;
  name: string;
  layers: string[];
  normal: boolean | null;
}
interface OapRef {
  traceId: string;
  parentSegmentId: string;
  parentSpanId: number;
  type: string;
}
interface OapSpan {
  traceId: string;
  segmentId: string;
  spanId: number;
  parentSpanId: number;
  refs: OapRef[];
  serviceCode: string;
  serviceInstanceName: string;
  startTime: number;
  endTime: number;
  endpointName: string | null;
  type: string;
  peer: string | null;
  component: string | null;
  isError: boolean | null;
  layer: string | null;
  tags: { key: string; value: string | null }[];
}
interface BasicTrace {
  segmentId: string;
  endpointNames: string[];
  duration: number;
  isError: boolean | null;
  traceIds: string[];
}

const LIST_SERVICES = 'query ($layer: String) { listServices(layer: $layer) { id name layers normal } }';
const BASIC_TRACES = `query ($condition: TraceQueryCondition) {
  queryBasicTraces(condition: $condition) { traces { segmentId endpointNames duration isError traceIds } }
}`;
const TRACE = `query ($traceId: ID!) {
  queryTrace(traceId: $traceId) {
    spans {
      traceId segmentId spanId parentSpanId serviceCode serviceInstanceName startTime endTime
      endpointName type peer component isError layer
      refs { traceId parentSegmentId parentSpanId type }
      tags { key value }
    }
  }
}`;
const TOPOLOGY = `query ($duration: Duration!) {
  getGlobalTopology(duration: $duration) {
    nodes { id name type isReal }
    calls { id source target detectPoints }
  }
}`;

function provider(service: string, otlpPort: number): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'service.instance.id': `${service}-1` }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `http://127.0.0.1:${otlpPort}` }))],
  });
}

describe('OTel SDK → skybridge → real SkyWalking OAP 10.1.0', () => {
  let oap: RealOap;
  let skybridge: SkybridgeProcess | undefined;
  let otlpPort = 0;

  before(async () => {
    oap = await startOap();
    otlpPort = await freePort();
    skybridge = await SkybridgeProcess.start(
      'oap-smoke',
      `
receivers:
  otlp: { grpc: { endpoint: "127.0.0.1:${otlpPort}" }, http: null }
exporters:
  skywalking:
    endpoint: "${oap.grpcAddress}"
    assembly: { quiet_period: 200ms, max_wait: 3s }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
`,
    );
  });

  after(async () => {
    await skybridge?.stop();
    await oap?.stop();
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
      const { listServices } = await oap.graphql<{ listServices: OapService[] }>(LIST_SERVICES, { layer: 'GENERAL' });
      const byName = new Map(listServices.map((s) => [s.name, s]));
      return byName.has('frontend') && byName.has('orders') ? byName : undefined;
    });
    for (const name of ['frontend', 'orders']) {
      const s = services.get(name)!;
      assert.ok(s.layers.includes('GENERAL'), `${name} layers ${JSON.stringify(s.layers)}`);
      assert.equal(s.normal, true, `${name} is a real service, not a conjectured peer`);
    }

    // 2. The trace's two segments in queryBasicTraces.
    const basic = await pollOap(oap, `trace ${traceId} in queryBasicTraces`, async () => {
      const { queryBasicTraces } = await oap.graphql<{ queryBasicTraces: { traces: BasicTrace[] } }>(BASIC_TRACES, {
        condition: { traceId, queryDuration: lastMinutes(), traceState: 'ALL', queryOrder: 'BY_START_TIME', paging: { pageNum: 1, pageSize: 20 } },
      });
      return queryBasicTraces.traces.length >= 2 ? queryBasicTraces.traces : undefined;
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
      const { queryTrace } = await oap.graphql<{ queryTrace: { spans: OapSpan[] } | null }>(TRACE, { traceId });
      return (queryTrace?.spans.length ?? 0) >= 3 ? queryTrace!.spans : undefined;
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
      const { getGlobalTopology } = await oap.graphql<{ getGlobalTopology: { calls: { source: string; target: string; detectPoints: string[] }[] } }>(TOPOLOGY, {
        duration: lastMinutes(),
      });
      return getGlobalTopology.calls.find((c) => c.source === frontendId && c.target === ordersId && c.detectPoints.includes('SERVER'));
    });
    assert.ok(call);
  });
});
