/**
 * A mixed estate against the REAL SkyWalking OAP 10.1.0 (scripts/oap.sh, H2 in memory): the same
 * three services as test/integration/mixed-estate/skywalking-agents-and-otel.test.ts, but every
 * assertion is on the OAP's own GraphQL answers, not on decoded segments.
 *
 *   frontend (skywalking-backend-js) ──sw8──▶ orders (OTel SDK + SkyWalkingPropagator) ──sw8──▶ payments (skywalking-backend-js)
 *        │ gRPC                                   │ OTLP/HTTP → skybridge (own process) → gRPC      │ gRPC
 *        └──────────────────────────────▶  the real OAP  ◀───────────────────────────────────────────┘
 *
 * Both agents report straight to the OAP's gRPC port; orders reports through skybridge to the same
 * OAP. Asserted on the OAP's answers:
 * - listServices: the three as normal services of layer GENERAL;
 * - queryTrace: one trace, one segment per service; orders' Entry has one CROSS_PROCESS ref to
 *   frontend's Exit span, payments' Entry one to the Exit span skybridge emitted for orders; every
 *   parentSpanId and ref resolves to a span of the answer;
 * - getGlobalTopology: frontend → orders and orders → payments, SERVER side at once, and CLIENT
 *   side too once the OAP has learned the network address aliases from the refs (which proves the
 *   addresses in the refs are the callers' Exit peers);
 * - getEndpointDependencies across both boundaries, as the OAP derives them from the Entry refs.
 *   Two things there are the Node agent's, not skybridge's: it puts its Exit span's operation
 *   (`/test`) in sw8 field 7, so orders' caller endpoint is frontend's `/test`; and it leaves
 *   parentEndpoint empty in its own refs, so payments' caller endpoint is orders' `User`
 *   (the `POST:/test` skybridge's propagator puts in field 7 only shows with a Java agent).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startChildService, type ChildService } from '../../support/child-service.ts';
import { lastMinutes, pollOap, startOapBehindSkybridge, type OapBehindSkybridge, type RealOap } from '../../support/oap.ts';
import {
  endpointDependencies,
  endpointIdOf,
  findEndpoints,
  globalTopology,
  listServices,
  queryBasicTraces,
  queryTrace,
  serviceIdOf,
  type EndpointTopology,
  type TopologyCall,
} from '../../support/oap-graphql.ts';

const AGENT_APP = fileURLToPath(new URL('../mixed-estate/skywalking-agent-app.cjs', import.meta.url));
const OTEL_APP = fileURLToPath(new URL('../../support/w3c-test-service.ts', import.meta.url));

describe('SkyWalking agents and an OTel service (through skybridge) in one trace on the real OAP 10.1.0', () => {
  let peers: OapBehindSkybridge | undefined;
  let oap: RealOap;
  const services: ChildService[] = [];
  let frontendUrl = '';
  let ordersPort = 0;
  let paymentsPort = 0;

  before(async () => {
    peers = await startOapBehindSkybridge('oap-mixed-estate', 'http');
    oap = peers.oap;
    const { otlpPort } = peers;
    const payments = await startChildService(AGENT_APP, { SERVICE_NAME: 'payments', OAP: oap.grpcAddress });
    services.push(payments);
    const orders = await startChildService(OTEL_APP, {
      NODE_OPTIONS: '--import tsx',
      PORT: '0',
      OTEL_SERVICE_NAME: 'orders',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
    });
    services.push(orders);
    const frontend = await startChildService(AGENT_APP, {
      SERVICE_NAME: 'frontend',
      OAP: oap.grpcAddress,
      DOWNSTREAM: `http://127.0.0.1:${orders.port}/test`,
      // What orders (the W3C test service) is asked to do: call payments.
      CALL_BODY: JSON.stringify([{ url: `http://127.0.0.1:${payments.port}/pay`, arguments: { amount: 42 } }]),
    });
    services.push(frontend);
    frontendUrl = `http://127.0.0.1:${frontend.port}/checkout`;
    ordersPort = orders.port;
    paymentsPort = payments.port;
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await peers?.stop();
  });

  it('stitches one trace, draws frontend → orders → payments, and links endpoints across both boundaries', async () => {
    const res = await fetch(frontendUrl);
    await res.arrayBuffer();
    assert.equal(res.status, 200);

    // ── Services: all three are real services of layer GENERAL ──────────────────────────────────
    const names = ['frontend', 'orders', 'payments'];
    const listed = await pollOap(oap, 'services frontend, orders and payments in layer GENERAL', async () => {
      const byName = new Map((await listServices(oap, 'GENERAL')).map((s) => [s.name, s]));
      return names.every((n) => byName.has(n)) ? byName : undefined;
    });
    for (const name of names) {
      const s = listed.get(name)!;
      assert.equal(s.id, serviceIdOf(name));
      assert.equal(s.normal, true, `${name} is a real service, not a conjectured peer`);
    }

    // ── The trace id, as the OAP knows it from frontend's segment ───────────────────────────────
    const frontendTraces = await pollOap(oap, 'a trace of frontend in queryBasicTraces', async () => {
      const traces = await queryBasicTraces(oap, { serviceId: serviceIdOf('frontend'), duration: lastMinutes(), pageSize: 20 });
      return traces.length > 0 ? traces : undefined;
    });
    assert.equal(frontendTraces.length, 1, `one request, one frontend segment: ${JSON.stringify(frontendTraces)}`);
    const traceId = frontendTraces[0]!.traceIds[0]!;

    // ── queryTrace: one trace holding the three services' segments ──────────────────────────────
    const spans = await pollOap(oap, `queryTrace ${traceId} with segments of all three services`, async () => {
      const got = await queryTrace(oap, traceId);
      return names.every((n) => got.some((s) => s.serviceCode === n)) ? got : undefined;
    });
    const segmentsOf = (service: string) => [...new Set(spans.filter((s) => s.serviceCode === service).map((s) => s.segmentId))];
    for (const name of names) assert.equal(segmentsOf(name).length, 1, `${name}: one segment in the trace, got ${JSON.stringify(segmentsOf(name))}`);
    for (const s of spans) assert.equal(s.traceId, traceId, `every span carries the trace id: ${JSON.stringify(s)}`);

    // Every parentSpanId and every ref resolves to a span in the answer.
    const find = (segmentId: string, spanId: number) => spans.find((s) => s.segmentId === segmentId && s.spanId === spanId);
    for (const s of spans) {
      if (s.parentSpanId !== -1) assert.ok(find(s.segmentId, s.parentSpanId), `parent span ${s.parentSpanId} of ${s.serviceCode}/${s.spanId} is in the answer`);
      for (const r of s.refs) {
        assert.equal(r.traceId, traceId);
        assert.ok(find(r.parentSegmentId, r.parentSpanId), `ref of ${s.serviceCode}/${s.spanId} → ${r.parentSegmentId}/${r.parentSpanId} resolves`);
      }
    }

    const [feSeg] = segmentsOf('frontend') as [string];
    const [ordSeg] = segmentsOf('orders') as [string];
    const [paySeg] = segmentsOf('payments') as [string];
    const feEntry = spans.find((s) => s.segmentId === feSeg && s.type === 'Entry')!;
    const feExit = spans.find((s) => s.segmentId === feSeg && s.type === 'Exit')!;
    const ordEntry = spans.find((s) => s.segmentId === ordSeg && s.type === 'Entry')!;
    const ordExit = spans.find((s) => s.segmentId === ordSeg && s.type === 'Exit')!;
    const payEntry = spans.find((s) => s.segmentId === paySeg && s.type === 'Entry')!;
    assert.ok(feEntry && feExit && ordEntry && ordExit && payEntry, `Entry+Exit, Entry+Exit, Entry: ${JSON.stringify(spans)}`);

    assert.deepEqual(feEntry.refs, [], 'frontend starts the trace');
    assert.equal(feExit.peer, `127.0.0.1:${ordersPort}`);

    // orders (skybridge): its Entry refs the frontend agent's Exit span.
    assert.equal(ordEntry.spanId, 0);
    assert.equal(ordEntry.parentSpanId, -1);
    assert.equal(ordEntry.endpointName, 'POST:/test');
    assert.deepEqual(ordEntry.refs, [{ traceId, parentSegmentId: feSeg, parentSpanId: feExit.spanId, type: 'CROSS_PROCESS' }]);
    assert.equal(ordExit.parentSpanId, ordEntry.spanId);
    assert.equal(ordExit.peer, `127.0.0.1:${paymentsPort}`);

    // payments (the agent, from the sw8 orders injected): its ref names orders' Exit span.
    assert.deepEqual(payEntry.refs, [{ traceId, parentSegmentId: ordSeg, parentSpanId: ordExit.spanId, type: 'CROSS_PROCESS' }]);

    // ── Global topology: both edges, between the real services ─────────────────────────────────
    // The first request gives SERVER-side edges (from the callees' Entry refs). The CLIENT side of
    // the same calls comes from the callers' Exit spans, whose peer (`127.0.0.1:port`) the OAP maps
    // to a service only through the network address alias it learns from the callee's ref
    // (networkAddressUsedAtPeer): until its alias cache has it, the first calls go to a conjectured
    // node named after the address.
    const edge = (calls: TopologyCall[], from: string, to: string) => calls.find((c) => c.source === serviceIdOf(from) && c.target === serviceIdOf(to));
    const first = await pollOap(oap, 'topology frontend → orders and orders → payments', async () => {
      const topology = await globalTopology(oap, lastMinutes());
      return edge(topology.calls, 'frontend', 'orders') && edge(topology.calls, 'orders', 'payments') ? topology : undefined;
    });
    assert.ok(edge(first.calls, 'frontend', 'orders')!.detectPoints.includes('SERVER'), JSON.stringify(first.calls));
    assert.ok(edge(first.calls, 'orders', 'payments')!.detectPoints.includes('SERVER'), JSON.stringify(first.calls));
    for (const name of names) {
      const node = first.nodes.find((n) => n.id === serviceIdOf(name));
      assert.ok(node, `${name} is a node of the topology: ${JSON.stringify(first.nodes)}`);
      assert.equal(node.isReal, true);
    }

    // Both aliases resolve: the address orders' ref says frontend used is frontend's Exit peer
    // (orders' ref, built by skybridge from sw8 field 8), and the address payments' ref says orders
    // used is the Exit peer skybridge emitted (the propagator's field 8). So once the OAP knows the
    // aliases, further requests give CLIENT-side edges between the real services too.
    const settled = await pollOap(
      oap,
      'CLIENT detect points on frontend → orders and orders → payments (network address aliases)',
      async () => {
        const again = await fetch(frontendUrl);
        await again.arrayBuffer();
        const topology = await globalTopology(oap, lastMinutes());
        const both = ['frontend:orders', 'orders:payments'].every((p) => {
          const [from, to] = p.split(':') as [string, string];
          return edge(topology.calls, from, to)?.detectPoints.includes('CLIENT');
        });
        return both ? topology : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2_000 },
    );
    assert.deepEqual(edge(settled.calls, 'frontend', 'orders')!.detectPoints.slice().sort(), ['CLIENT', 'SERVER']);
    assert.deepEqual(edge(settled.calls, 'orders', 'payments')!.detectPoints.slice().sort(), ['CLIENT', 'SERVER']);

    // ── Endpoint dependencies across both boundaries ───────────────────────────────────────────
    // The OAP builds them from Entry spans' refs: source = (ref's parent service, ref's
    // parentEndpoint, or `User` when it is empty), target = the Entry's endpoint.
    const endpointDeps = (service: string, endpoint: string, want: (t: EndpointTopology) => boolean) =>
      pollOap(oap, `getEndpointDependencies of ${service} ${endpoint}`, async () => {
        const deps = await endpointDependencies(oap, endpointIdOf(serviceIdOf(service), endpoint), lastMinutes());
        return want(deps) ? deps : undefined;
      });
    const ordersEndpoints = await findEndpoints(oap, serviceIdOf('orders'), '', 50);
    assert.deepEqual(ordersEndpoints, [{ id: endpointIdOf(serviceIdOf('orders'), 'POST:/test'), name: 'POST:/test' }], 'orders has the one endpoint skybridge named');

    // frontend → orders. skybridge copies sw8 field 7 into orders' ref as parentEndpoint, as the
    // Java agent does. The Node agent writes its Exit span's operation name there (`/test`), not
    // its Entry endpoint, so the caller endpoint is frontend's `/test` (a Java caller would give
    // its entry endpoint, e.g. `GET:/checkout`).
    const toOrders = await endpointDeps('orders', 'POST:/test', (t) => t.calls.length > 0);
    const callerOfOrders = endpointIdOf(serviceIdOf('frontend'), feExit.endpointName!);
    assert.deepEqual(
      toOrders.calls.map((c) => ({ source: c.source, target: c.target, detectPoints: c.detectPoints })),
      [{ source: callerOfOrders, target: endpointIdOf(serviceIdOf('orders'), 'POST:/test'), detectPoints: ['SERVER'] }],
      JSON.stringify(toOrders),
    );
    const callerNode = toOrders.nodes.find((n) => n.id === callerOfOrders);
    assert.deepEqual(
      callerNode && { name: callerNode.name, serviceId: callerNode.serviceId, serviceName: callerNode.serviceName },
      { name: '/test', serviceId: serviceIdOf('frontend'), serviceName: 'frontend' },
    );

    // orders → payments. The ref is the payments agent's own; skywalking-backend-js 0.9 leaves
    // parentEndpoint empty in every ref it reports, so the OAP names the caller endpoint `User`
    // of service orders: the caller service is right, the caller endpoint is the agent's gap.
    const toPayments = await endpointDeps('payments', 'POST:/pay', (t) => t.calls.length > 0);
    const callerOfPayments = endpointIdOf(serviceIdOf('orders'), 'User');
    assert.deepEqual(
      toPayments.calls.map((c) => ({ source: c.source, target: c.target, detectPoints: c.detectPoints })),
      [{ source: callerOfPayments, target: endpointIdOf(serviceIdOf('payments'), 'POST:/pay'), detectPoints: ['SERVER'] }],
      JSON.stringify(toPayments),
    );
    const payCaller = toPayments.nodes.find((n) => n.id === callerOfPayments);
    assert.equal(payCaller?.serviceName, 'orders', JSON.stringify(toPayments.nodes));
  });
});
