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
import { lastMinutes, pollOap, startOap, type RealOap } from '../../support/oap.ts';
import { freePort, SkybridgeProcess } from '../../support/skybridge-process.ts';

const AGENT_APP = fileURLToPath(new URL('../mixed-estate/skywalking-agent-app.cjs', import.meta.url));
const OTEL_APP = fileURLToPath(new URL('../../support/w3c-test-service.ts', import.meta.url));

// ── The OAP's GraphQL answers (10.1 schema, the fields this file reads) ─────────────────────────
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
  endpointName: string | null;
  type: string;
  peer: string | null;
  component: string | null;
  layer: string | null;
}
interface BasicTrace {
  segmentId: string;
  endpointNames: string[];
  traceIds: string[];
}
interface TopologyCall {
  id: string;
  source: string;
  target: string;
  detectPoints: string[];
}
interface Topology {
  nodes: { id: string; name: string; type: string | null; isReal: boolean }[];
  calls: TopologyCall[];
}
interface EndpointTopology {
  nodes: EndpointNode[];
  calls: TopologyCall[];
}
interface EndpointNode {
  id: string;
  name: string;
  serviceId: string;
  serviceName: string;
  isReal: boolean;
}

const LIST_SERVICES = 'query ($layer: String) { listServices(layer: $layer) { id name layers normal } }';
const BASIC_TRACES = `query ($condition: TraceQueryCondition) {
  queryBasicTraces(condition: $condition) { traces { segmentId endpointNames traceIds } }
}`;
const TRACE = `query ($traceId: ID!) {
  queryTrace(traceId: $traceId) {
    spans {
      traceId segmentId spanId parentSpanId serviceCode serviceInstanceName endpointName type peer component layer
      refs { traceId parentSegmentId parentSpanId type }
    }
  }
}`;
const TOPOLOGY = `query ($duration: Duration!) {
  getGlobalTopology(duration: $duration) {
    nodes { id name type isReal }
    calls { id source target detectPoints }
  }
}`;
const FIND_ENDPOINT = 'query ($serviceId: ID!) { findEndpoint(serviceId: $serviceId, keyword: "", limit: 50) { id name } }';
const ENDPOINT_DEPENDENCIES = `query ($endpointId: ID!, $duration: Duration!) {
  getEndpointDependencies(endpointId: $endpointId, duration: $duration) {
    nodes { id name serviceId serviceName isReal }
    calls { id source target detectPoints }
  }
}`;

/** The OAP's ids (IDManager in 10.1): service `base64(name).1`, endpoint `serviceId_base64(name)`. */
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const serviceIdOf = (name: string) => `${b64(name)}.1`;
const endpointIdOf = (service: string, endpoint: string) => `${serviceIdOf(service)}_${b64(endpoint)}`;

describe('SkyWalking agents and an OTel service (through skybridge) in one trace on the real OAP 10.1.0', () => {
  let oap: RealOap;
  let skybridge: SkybridgeProcess | undefined;
  const services: ChildService[] = [];
  let frontendUrl = '';
  let ordersPort = 0;
  let paymentsPort = 0;

  before(async () => {
    oap = await startOap();
    const otlpPort = await freePort();
    skybridge = await SkybridgeProcess.start(
      'oap-mixed-estate',
      `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${otlpPort}" } }
exporters:
  skywalking:
    endpoint: "${oap.grpcAddress}"
    assembly: { quiet_period: 200ms, max_wait: 3s }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
`,
    );
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
    await skybridge?.stop();
    await oap?.stop();
  });

  it('stitches one trace, draws frontend → orders → payments, and links endpoints across both boundaries', async () => {
    const res = await fetch(frontendUrl);
    await res.arrayBuffer();
    assert.equal(res.status, 200);

    // ── Services: all three are real services of layer GENERAL ──────────────────────────────────
    const names = ['frontend', 'orders', 'payments'];
    const listed = await pollOap(oap, 'services frontend, orders and payments in layer GENERAL', async () => {
      const { listServices } = await oap.graphql<{ listServices: OapService[] }>(LIST_SERVICES, { layer: 'GENERAL' });
      const byName = new Map(listServices.map((s) => [s.name, s]));
      return names.every((n) => byName.has(n)) ? byName : undefined;
    });
    for (const name of names) {
      const s = listed.get(name)!;
      assert.equal(s.id, serviceIdOf(name));
      assert.equal(s.normal, true, `${name} is a real service, not a conjectured peer`);
    }

    // ── The trace id, as the OAP knows it from frontend's segment ───────────────────────────────
    const frontendTraces = await pollOap(oap, 'a trace of frontend in queryBasicTraces', async () => {
      const { queryBasicTraces } = await oap.graphql<{ queryBasicTraces: { traces: BasicTrace[] } }>(BASIC_TRACES, {
        condition: {
          serviceId: serviceIdOf('frontend'),
          queryDuration: lastMinutes(),
          traceState: 'ALL',
          queryOrder: 'BY_START_TIME',
          paging: { pageNum: 1, pageSize: 20 },
        },
      });
      return queryBasicTraces.traces.length > 0 ? queryBasicTraces.traces : undefined;
    });
    assert.equal(frontendTraces.length, 1, `one request, one frontend segment: ${JSON.stringify(frontendTraces)}`);
    const traceId = frontendTraces[0]!.traceIds[0]!;

    // ── queryTrace: one trace holding the three services' segments ──────────────────────────────
    const spans = await pollOap(oap, `queryTrace ${traceId} with segments of all three services`, async () => {
      const { queryTrace } = await oap.graphql<{ queryTrace: { spans: OapSpan[] } | null }>(TRACE, { traceId });
      const got = queryTrace?.spans ?? [];
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
      const { getGlobalTopology } = await oap.graphql<{ getGlobalTopology: Topology }>(TOPOLOGY, { duration: lastMinutes() });
      return edge(getGlobalTopology.calls, 'frontend', 'orders') && edge(getGlobalTopology.calls, 'orders', 'payments') ? getGlobalTopology : undefined;
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
        const { getGlobalTopology } = await oap.graphql<{ getGlobalTopology: Topology }>(TOPOLOGY, { duration: lastMinutes() });
        const both = ['frontend:orders', 'orders:payments'].every((p) => {
          const [from, to] = p.split(':') as [string, string];
          return edge(getGlobalTopology.calls, from, to)?.detectPoints.includes('CLIENT');
        });
        return both ? getGlobalTopology : undefined;
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
        const { getEndpointDependencies } = await oap.graphql<{ getEndpointDependencies: EndpointTopology }>(ENDPOINT_DEPENDENCIES, {
          endpointId: endpointIdOf(service, endpoint),
          duration: lastMinutes(),
        });
        return want(getEndpointDependencies) ? getEndpointDependencies : undefined;
      });
    const { findEndpoint: ordersEndpoints } = await oap.graphql<{ findEndpoint: { id: string; name: string }[] }>(FIND_ENDPOINT, { serviceId: serviceIdOf('orders') });
    assert.deepEqual(ordersEndpoints, [{ id: endpointIdOf('orders', 'POST:/test'), name: 'POST:/test' }], 'orders has the one endpoint skybridge named');

    // frontend → orders. skybridge copies sw8 field 7 into orders' ref as parentEndpoint, as the
    // Java agent does. The Node agent writes its Exit span's operation name there (`/test`), not
    // its Entry endpoint, so the caller endpoint is frontend's `/test` (a Java caller would give
    // its entry endpoint, e.g. `GET:/checkout`).
    const toOrders = await endpointDeps('orders', 'POST:/test', (t) => t.calls.length > 0);
    const callerOfOrders = endpointIdOf('frontend', feExit.endpointName!);
    assert.deepEqual(
      toOrders.calls.map((c) => ({ source: c.source, target: c.target, detectPoints: c.detectPoints })),
      [{ source: callerOfOrders, target: endpointIdOf('orders', 'POST:/test'), detectPoints: ['SERVER'] }],
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
    const callerOfPayments = endpointIdOf('orders', 'User');
    assert.deepEqual(
      toPayments.calls.map((c) => ({ source: c.source, target: c.target, detectPoints: c.detectPoints })),
      [{ source: callerOfPayments, target: endpointIdOf('payments', 'POST:/pay'), detectPoints: ['SERVER'] }],
      JSON.stringify(toPayments),
    );
    const payCaller = toPayments.nodes.find((n) => n.id === callerOfPayments);
    assert.equal(payCaller?.serviceName, 'orders', JSON.stringify(toPayments.nodes));
  });
});
