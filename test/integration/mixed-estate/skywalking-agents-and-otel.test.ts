/**
 * A mixed estate, end to end: a service with the SkyWalking Node agent (frontend) calls a service
 * instrumented with the OpenTelemetry SDK and skybridge's propagator (orders), which calls another
 * service with the SkyWalking agent (payments).
 *
 *   frontend (skywalking-backend-js) ──sw8──▶ orders (OTel SDK + SkyWalkingPropagator) ──sw8──▶ payments (skywalking-backend-js)
 *        │ gRPC                                   │ OTLP/HTTP → skybridge → gRPC                     │ gRPC
 *        └───────────────────────────────▶  one stand-in OAP  ◀──────────────────────────────────────┘
 *
 * Both agents report straight to the stand-in OAP; orders reports through skybridge to the same
 * one. Everything the OAP received is decoded with skywalking-backend-js's generated stubs. The
 * trace must read as if all three had SkyWalking agents: one trace id, orders' Entry ref naming
 * frontend's segment, span, service, instance and the address frontend used; payments' ref (built
 * by the agent from the sw8 orders injected) naming a segment and span skybridge really emitted,
 * an Exit whose peer is the address in the ref.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Component } from '../../../core/component.ts';
import { startChildService, type ChildService } from '../../support/child-service.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';

const AGENT_APP = fileURLToPath(new URL('./skywalking-agent-app.cjs', import.meta.url));
const OTEL_APP = fileURLToPath(new URL('../../support/w3c-test-service.ts', import.meta.url));
const ENTRY = 0;
const EXIT = 1;
const CROSS_PROCESS = 0;

describe('SkyWalking agents and an OTel service in one trace', () => {
  let harness: Harness;
  const services: ChildService[] = [];
  let frontendUrl = '';
  let ordersPort = 0;
  let paymentsPort = 0;

  before(async () => {
    harness = await startHarness({ receiversYaml: '  otlp:\n    grpc: null\n    http: { endpoint: "127.0.0.1:0" }', receiverIds: ['otlp'] });
    const otlp = harness.collector.service.component<Component & { httpPort: number }>('otlp')!;
    const payments = await startChildService(AGENT_APP, { SERVICE_NAME: 'payments', OAP: harness.oap.endpoint });
    const orders = await startChildService(OTEL_APP, {
      NODE_OPTIONS: '--import tsx',
      PORT: '0',
      OTEL_SERVICE_NAME: 'orders',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp.httpPort}`,
    });
    const frontend = await startChildService(AGENT_APP, {
      SERVICE_NAME: 'frontend',
      OAP: harness.oap.endpoint,
      DOWNSTREAM: `http://127.0.0.1:${orders.port}/test`,
      // What orders (the W3C test service) is asked to do: call payments.
      CALL_BODY: JSON.stringify([{ url: `http://127.0.0.1:${payments.port}/pay`, arguments: { amount: 42 } }]),
    });
    services.push(payments, orders, frontend);
    frontendUrl = `http://127.0.0.1:${frontend.port}/checkout`;
    ordersPort = orders.port;
    paymentsPort = payments.port;
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await harness?.stop();
  });

  it('gives three linked segments sharing one trace id', async () => {
    const res = await fetch(frontendUrl);
    await res.arrayBuffer();
    assert.equal(res.status, 200);

    const oap = harness.oap;
    const byService = (name: string): DecodedSegment | undefined => (oap.segments as DecodedSegment[]).find((s) => s.service === name);
    await oap.waitFor(() => ['frontend', 'orders', 'payments'].every((s) => byService(s)), 20_000, () => `segments of frontend, orders and payments (got ${(oap.segments as DecodedSegment[]).map((s) => s.service).join(', ') || 'none'})`);
    const segments = oap.segments as DecodedSegment[];
    assertOapRules(segments);
    const frontend = byService('frontend')!;
    const orders = byService('orders')!;
    const payments = byService('payments')!;

    assert.equal(new Set([frontend.traceid, orders.traceid, payments.traceid]).size, 1, 'one trace id across agents and skybridge');

    // orders (built by skybridge): its Entry refs the frontend agent's Exit.
    const feExit = frontend.spansList.find((s) => s.spantype === EXIT)!;
    assert.equal(feExit.peer, `127.0.0.1:${ordersPort}`);
    const ordEntry = orders.spansList.find((s) => s.spanid === 0)!;
    assert.equal(ordEntry.spantype, ENTRY);
    assert.equal(ordEntry.operationname, 'POST:/test');
    assert.equal(ordEntry.refsList.length, 1);
    const ordRef = ordEntry.refsList[0]!;
    assert.equal(ordRef.reftype, CROSS_PROCESS);
    assert.equal(ordRef.traceid, frontend.traceid);
    assert.equal(ordRef.parenttracesegmentid, frontend.tracesegmentid);
    assert.equal(ordRef.parentspanid, feExit.spanid);
    assert.equal(ordRef.parentservice, 'frontend');
    assert.equal(ordRef.parentserviceinstance, frontend.serviceinstance);
    assert.equal(ordRef.networkaddressusedatpeer, feExit.peer, 'the address frontend used');

    // payments (built by the agent from the sw8 orders injected): its ref names what skybridge emitted.
    const payEntry = payments.spansList.find((s) => s.spanid === 0)!;
    assert.equal(payEntry.spantype, ENTRY);
    assert.equal(payEntry.refsList.length, 1);
    const payRef = payEntry.refsList[0]!;
    assert.equal(payRef.traceid, orders.traceid);
    assert.equal(payRef.parenttracesegmentid, orders.tracesegmentid, 'a segment skybridge really emitted');
    const ordExit = orders.spansList.find((s) => s.spanid === payRef.parentspanid);
    assert.ok(ordExit, `span ${payRef.parentspanid} exists in the orders segment`);
    assert.equal(ordExit.spantype, EXIT);
    assert.equal(ordExit.peer, payRef.networkaddressusedatpeer);
    assert.equal(ordExit.peer, `127.0.0.1:${paymentsPort}`);
    assert.equal(payRef.parentservice, 'orders');
    assert.equal(payRef.parentserviceinstance, orders.serviceinstance);
  });
});
