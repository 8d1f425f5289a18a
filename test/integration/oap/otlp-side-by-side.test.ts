/**
 * The same OTLP traffic, two ways into the REAL SkyWalking OAP 10.1.0 (scripts/oap.sh, H2 in
 * memory), recorded side by side:
 *
 *   direct-*: OTel SDK ──OTLP/gRPC──▶ the OAP's own receiver (receiver-otel `otlp-traces`, core gRPC port)
 *   bridge-*: OTel SDK ──OTLP/gRPC──▶ skybridge (own process) ──native segments──▶ the same OAP
 *
 * One deterministic three-service chain (fixed ids from a seeded generator, fixed relative
 * timestamps, the same attributes), exported twice; only `service.name` differs:
 *
 *   frontend: SERVER GET /checkout ── CLIENT GET http://orders:8080/orders/42
 *     orders:   SERVER GET /orders/{id} (remote parent) ── CLIENT POST http://payments:8080/pay
 *       payments: SERVER POST /pay (remote parent)
 *
 * Through skybridge the OAP has SkyWalking services, a topology and endpoint dependencies. Straight
 * to the OAP (10.1) the spans become Zipkin spans, readable only through the Zipkin query API: no
 * services in any layer, no topology, no endpoint dependencies, no SkyWalking trace. The test
 * asserts that gap explicitly, so a future OAP that closes it fails here with a message saying so.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { lastMinutes, pollOap, startOapBehindSkybridge, type OapBehindSkybridge, type RealOap } from '../../support/oap.ts';
import {
  endpointDependencies,
  endpointIdOf,
  findEndpoints,
  findService,
  globalTopology,
  listServices,
  queryBasicTraces,
  queryTrace,
  serviceIdOf,
  type Topology,
} from '../../support/oap-graphql.ts';

/** Zipkin v2 span, as query-zipkin answers. */
interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  kind?: string;
  name?: string;
  timestamp?: number;
  duration?: number;
  localEndpoint?: { serviceName?: string; ipv4?: string; port?: number };
  remoteEndpoint?: { serviceName?: string; ipv4?: string; port?: number };
  tags?: Record<string, string>;
}

/** The message a future OAP that closes the gap gets. */
const GAP_CLOSED = (what: string) => `the OAP's own OTLP path now yields ${what}: update docs/real-peers.md ("The OAP's own OTLP path") and this test`;

/** Ids from a hash of `seed` and a counter: the same seed gives the same ids on every run. */
function seededIds(seed: string) {
  let n = 0;
  const next = (len: number) => createHash('sha256').update(`${seed}:${n++}`).digest('hex').slice(0, len);
  return { generateTraceId: () => next(32), generateSpanId: () => next(16) };
}

interface SentChain {
  traceId: string;
  /** Span ids by role. */
  ids: Record<'feServer' | 'feClient' | 'ordServer' | 'ordClient' | 'payServer', string>;
}

/**
 * Sends the chain over OTLP/gRPC to `url` with services `${prefix}-frontend`, `-orders`, `-payments`
 * (one provider per service, as three processes would) and waits until every span is exported.
 * Ids come from `prefix` and `round`; everything else is the same for every call.
 */
async function sendChain(prefix: string, url: string, t0: number, round = 0): Promise<SentChain> {
  const idGenerator = seededIds(`skybridge-side-by-side:${prefix}:${round}`);
  const provider = (service: string) =>
    new BasicTracerProvider({
      idGenerator,
      resource: resourceFromAttributes({ 'service.name': `${prefix}-${service}`, 'service.instance.id': `${prefix}-${service}-1` }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url }))],
    });
  const providers = { frontend: provider('frontend'), orders: provider('orders'), payments: provider('payments') };
  const remote = (span: Span) => trace.setSpanContext(ROOT_CONTEXT, { ...span.spanContext(), isRemote: true });
  const start = (p: BasicTracerProvider, name: string, kind: SpanKind, startTime: number, attributes: Attributes, parent?: Context) =>
    p.getTracer('@opentelemetry/instrumentation-http').startSpan(name, { kind, startTime, attributes }, parent);
  /** instrumentation-http's SERVER span `METHOD route` for a request to `path`. */
  const server = (p: BasicTracerProvider, startTime: number, method: string, route: string, path: string, status: number, parent?: Context) =>
    start(p, `${method} ${route}`, SpanKind.SERVER, startTime, { 'http.request.method': method, 'http.route': route, 'url.path': path, 'url.scheme': 'http', 'http.response.status_code': status }, parent);
  /** instrumentation-http's CLIENT span `METHOD` for a request to `http://host:8080path`, a child of `parent`. */
  const client = (p: BasicTracerProvider, startTime: number, method: string, host: string, path: string, status: number, parent: Span) =>
    start(p, method, SpanKind.CLIENT, startTime, { 'http.request.method': method, 'url.full': `http://${host}:8080${path}`, 'server.address': host, 'server.port': 8080, 'http.response.status_code': status }, trace.setSpan(ROOT_CONTEXT, parent));

  const feServer = server(providers.frontend, t0, 'GET', '/checkout', '/checkout', 200);
  const feClient = client(providers.frontend, t0 + 10, 'GET', 'orders', '/orders/42', 200, feServer);
  const ordServer = server(providers.orders, t0 + 20, 'GET', '/orders/{id}', '/orders/42', 200, remote(feClient));
  const ordClient = client(providers.orders, t0 + 30, 'POST', 'payments', '/pay', 201, ordServer);
  const payServer = server(providers.payments, t0 + 40, 'POST', '/pay', '/pay', 201, remote(ordClient));
  payServer.end(t0 + 60);
  ordClient.end(t0 + 70);
  ordServer.end(t0 + 80);
  feClient.end(t0 + 90);
  feServer.end(t0 + 100);
  await Promise.all(Object.values(providers).map((p) => p.shutdown()));
  const id = (s: Span) => s.spanContext().spanId;
  return {
    traceId: feServer.spanContext().traceId,
    ids: { feServer: id(feServer), feClient: id(feClient), ordServer: id(ordServer), ordClient: id(ordClient), payServer: id(payServer) },
  };
}

async function zipkin<T>(oap: RealOap, path: string): Promise<T> {
  const res = await fetch(`${oap.zipkinUrl}${path}`);
  const text = await res.text();
  if (!res.ok) throw new Error(`zipkin ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

describe('the same OTLP traffic straight to the real OAP 10.1.0 and through skybridge', () => {
  let peers: OapBehindSkybridge | undefined;
  let oap: RealOap;
  let otlpPort = 0;

  before(async () => {
    peers = await startOapBehindSkybridge('oap-side-by-side');
    ({ oap, otlpPort } = peers);
  });

  after(async () => {
    await peers?.stop();
  });

  it('gives services, topology and endpoint dependencies only through skybridge; the direct path only Zipkin spans', async () => {
    const t0 = Date.now() - 2_000;
    const [direct, bridge] = await Promise.all([
      sendChain('direct', `http://${oap.grpcAddress}`, t0),
      sendChain('bridge', `http://127.0.0.1:${otlpPort}`, t0),
    ]);
    const sentAt = Date.now();
    const names = (prefix: string) => ['frontend', 'orders', 'payments'].map((s) => `${prefix}-${s}`);
    const [bFrontend, bOrders, bPayments] = names('bridge') as [string, string, string];
    const [dFrontend, dOrders, dPayments] = names('direct') as [string, string, string];

    // ════ Through skybridge: SkyWalking services, trace, topology, endpoint dependencies ════════
    const listed = await pollOap(oap, 'bridge-* services in layer GENERAL', async () => {
      const services = await listServices(oap, 'GENERAL');
      return names('bridge').every((n) => services.some((s) => s.name === n)) ? services : undefined;
    });
    for (const name of names('bridge')) {
      const s = listed.find((x) => x.name === name)!;
      assert.deepEqual({ id: s.id, layers: s.layers, normal: s.normal }, { id: serviceIdOf(name), layers: ['GENERAL'], normal: true }, name);
    }

    // One trace, three segments (skybridge's segment id: local root span id + trace id), linked.
    const spans = await pollOap(oap, `queryTrace ${bridge.traceId} with 5 spans`, async () => {
      const got = await queryTrace(oap, bridge.traceId);
      return got.length >= 5 ? got : undefined;
    });
    const segId = (spanId: string) => spanId + bridge.traceId;
    assert.deepEqual(
      spans.map((s) => `${s.serviceCode} ${s.segmentId} ${s.spanId} ${s.type} ${s.endpointName}`).sort(),
      [
        `${bFrontend} ${segId(bridge.ids.feServer)} 0 Entry GET:/checkout`,
        `${bFrontend} ${segId(bridge.ids.feServer)} 1 Exit /orders/{id}`,
        `${bOrders} ${segId(bridge.ids.ordServer)} 0 Entry GET:/orders/{id}`,
        `${bOrders} ${segId(bridge.ids.ordServer)} 1 Exit /pay`,
        `${bPayments} ${segId(bridge.ids.payServer)} 0 Entry POST:/pay`,
      ].sort(),
    );
    const refsOf = (segmentId: string) => spans.find((s) => s.segmentId === segmentId && s.spanId === 0)!.refs;
    assert.deepEqual(refsOf(segId(bridge.ids.ordServer)), [{ traceId: bridge.traceId, parentSegmentId: segId(bridge.ids.feServer), parentSpanId: 1, type: 'CROSS_PROCESS' }]);
    assert.deepEqual(refsOf(segId(bridge.ids.payServer)), [{ traceId: bridge.traceId, parentSegmentId: segId(bridge.ids.ordServer), parentSpanId: 1, type: 'CROSS_PROCESS' }]);

    // Topology: both edges between the real services, as the callees saw them.
    const edge = (t: Topology, from: string, to: string) => t.calls.find((c) => c.source === serviceIdOf(from) && c.target === serviceIdOf(to));
    const topology = await pollOap(oap, 'topology bridge-frontend → bridge-orders → bridge-payments', async () => {
      const got = await globalTopology(oap, lastMinutes());
      return edge(got, bFrontend, bOrders) && edge(got, bOrders, bPayments) ? got : undefined;
    });
    assert.ok(edge(topology, bFrontend, bOrders)!.detectPoints.includes('SERVER'), JSON.stringify(topology.calls));
    assert.ok(edge(topology, bOrders, bPayments)!.detectPoints.includes('SERVER'), JSON.stringify(topology.calls));

    // Endpoint dependencies of orders' endpoint: its caller (frontend's entry endpoint, from the
    // parentEndpoint skybridge put in orders' ref) and its callee (payments' endpoint, whose ref
    // names orders' entry endpoint).
    const ordersEndpoint = endpointIdOf(serviceIdOf(bOrders), 'GET:/orders/{id}');
    const deps = await pollOap(oap, `getEndpointDependencies of ${bOrders} GET:/orders/{id}`, async () => {
      const got = await endpointDependencies(oap, ordersEndpoint, lastMinutes());
      return got.calls.length >= 2 ? got : undefined;
    });
    assert.deepEqual(
      deps.calls.map((c) => `${c.source} → ${c.target} ${c.detectPoints.join(',')}`).sort(),
      [
        `${endpointIdOf(serviceIdOf(bFrontend), 'GET:/checkout')} → ${ordersEndpoint} SERVER`,
        `${ordersEndpoint} → ${endpointIdOf(serviceIdOf(bPayments), 'POST:/pay')} SERVER`,
      ].sort(),
      JSON.stringify(deps),
    );
    assert.deepEqual(
      deps.nodes.map((n) => `${n.serviceName} ${n.name} ${n.isReal}`).sort(),
      [`${bFrontend} GET:/checkout true`, `${bOrders} GET:/orders/{id} true`, `${bPayments} POST:/pay true`],
    );

    // The CLIENT side of the same calls: the Exit spans' peers (`orders:8080`, `payments:8080`)
    // map to the services once the OAP has learned the aliases from the callees' refs
    // (networkAddressUsedAtPeer). The first batch's Exits went to conjectured nodes; more traffic
    // through skybridge gives CLIENT detect points on the same two edges.
    let round = 0;
    const settled = await pollOap(
      oap,
      'CLIENT detect points on the bridge-* edges (network address aliases)',
      async () => {
        await sendChain('bridge', `http://127.0.0.1:${otlpPort}`, Date.now() - 200, ++round);
        const got = await globalTopology(oap, lastMinutes());
        const client = (from: string, to: string) => edge(got, from, to)?.detectPoints.includes('CLIENT');
        return client(bFrontend, bOrders) && client(bOrders, bPayments) ? got : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2_000 },
    );
    assert.deepEqual(edge(settled, bFrontend, bOrders)!.detectPoints.slice().sort(), ['CLIENT', 'SERVER']);
    assert.deepEqual(edge(settled, bOrders, bPayments)!.detectPoints.slice().sort(), ['CLIENT', 'SERVER']);

    // ════ Straight to the OAP's OTLP receiver: Zipkin spans only ═══════════════════════════════
    const zTrace = await pollOap(oap, `zipkin trace ${direct.traceId} with 5 spans`, async () => {
      const got = await zipkin<ZipkinSpan[]>(oap, `/api/v2/trace/${direct.traceId}`).catch(() => []);
      return got.length >= 5 ? got : undefined;
    });
    const d = direct.ids;
    assert.deepEqual(
      zTrace
        .map((s) => ({ id: s.id, parentId: s.parentId ?? null, kind: s.kind, name: s.name, service: s.localEndpoint?.serviceName, timestamp: s.timestamp, duration: s.duration }))
        .sort((a, b) => a.timestamp! - b.timestamp!),
      [
        { id: d.feServer, parentId: null, kind: 'SERVER', name: 'get /checkout', service: dFrontend, timestamp: t0 * 1000, duration: 100_000 },
        { id: d.feClient, parentId: d.feServer, kind: 'CLIENT', name: 'get', service: dFrontend, timestamp: (t0 + 10) * 1000, duration: 80_000 },
        { id: d.ordServer, parentId: d.feClient, kind: 'SERVER', name: 'get /orders/{id}', service: dOrders, timestamp: (t0 + 20) * 1000, duration: 60_000 },
        { id: d.ordClient, parentId: d.ordServer, kind: 'CLIENT', name: 'post', service: dOrders, timestamp: (t0 + 30) * 1000, duration: 40_000 },
        { id: d.payServer, parentId: d.ordClient, kind: 'SERVER', name: 'post /pay', service: dPayments, timestamp: (t0 + 40) * 1000, duration: 20_000 },
      ],
      'the OAP stored the OTLP spans as Zipkin spans (names lower-cased), parent ids intact',
    );
    // Attributes and resource attributes both become tags; `server.address` does not become a
    // remoteEndpoint (10.1 maps only the old net.peer.* / peer.service), so there are no remote
    // services either.
    const feClient = zTrace.find((s) => s.id === d.feClient)!;
    assert.equal(feClient.tags?.['server.address'], 'orders');
    assert.equal(feClient.tags?.['service.name'], dFrontend);
    assert.equal(feClient.remoteEndpoint, undefined, JSON.stringify(feClient));
    assert.deepEqual(await zipkin<string[]>(oap, `/api/v2/remoteServices?serviceName=${dFrontend}`), []);

    const zServices = await zipkin<string[]>(oap, '/api/v2/services');
    assert.deepEqual(zServices.slice().sort(), names('direct'), 'Zipkin lists the direct services, and nothing skybridge sent');
    for (const service of names('direct')) {
      const traces = await zipkin<ZipkinSpan[][]>(oap, `/api/v2/traces?serviceName=${service}`);
      assert.deepEqual(traces.map((t) => t[0]?.traceId), [direct.traceId], `/api/v2/traces?serviceName=${service}`);
      assert.equal(traces[0]!.length, 5);
    }

    // ── The gap: none of it reaches SkyWalking's own model ─────────────────────────────────────
    // Everything above was persisted in the same periods as the direct spans; give the OAP two
    // more persistent periods (2 s each) after the direct export before reading the absences.
    const settleUntil = sentAt + 5_000;
    if (Date.now() < settleUntil) await new Promise((r) => setTimeout(r, settleUntil - Date.now()));
    const isDirect = (name: string) => name.startsWith('direct-');

    const allServices = await listServices(oap);
    assert.deepEqual(allServices.filter((s) => isDirect(s.name)), [], GAP_CLOSED('SkyWalking services (listServices, any layer)'));
    const general = await listServices(oap, 'GENERAL');
    assert.deepEqual(general.map((s) => s.name).sort(), names('bridge'), GAP_CLOSED('services in layer GENERAL'));
    for (const name of names('direct')) {
      assert.equal(await findService(oap, name), null, GAP_CLOSED(`a SkyWalking service ${name} (findService)`));
    }

    const finalTopology = await globalTopology(oap, lastMinutes());
    const directIds = new Set(names('direct').map((n) => serviceIdOf(n)));
    assert.deepEqual(finalTopology.nodes.filter((n) => isDirect(n.name) || directIds.has(n.id)), [], GAP_CLOSED('topology nodes'));
    assert.deepEqual(finalTopology.calls.filter((c) => directIds.has(c.source) || directIds.has(c.target)), [], GAP_CLOSED('topology edges'));

    for (const name of names('direct')) {
      assert.deepEqual(await findEndpoints(oap, serviceIdOf(name), '', 50), [], GAP_CLOSED(`endpoints of ${name}`));
    }
    // The names the OAP could give orders' endpoint: skybridge's, the span name, Zipkin's.
    for (const endpoint of ['GET:/orders/{id}', 'GET /orders/{id}', 'get /orders/{id}', '/orders/{id}']) {
      const deps = await endpointDependencies(oap, endpointIdOf(serviceIdOf(dOrders), endpoint), lastMinutes());
      assert.deepEqual(deps, { nodes: [], calls: [] }, GAP_CLOSED(`endpoint dependencies (${dOrders} ${endpoint})`));
    }

    assert.deepEqual(await queryTrace(oap, direct.traceId), [], GAP_CLOSED('a SkyWalking trace (queryTrace)'));
    const segments = await queryBasicTraces(oap, { traceId: direct.traceId, duration: lastMinutes(), pageSize: 20 });
    assert.deepEqual(segments, [], GAP_CLOSED('SkyWalking segments (queryBasicTraces)'));
  });
});
