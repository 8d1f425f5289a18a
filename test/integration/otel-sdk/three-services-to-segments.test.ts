/**
 * The spine end to end: three Node processes instrumented with the real OpenTelemetry SDK and
 * @opentelemetry/instrumentation-http call each other (frontend → orders → payments) and export
 * through each OTLP exporter in turn; skybridge exports to a stand-in OAP whose received bytes are
 * decoded with skywalking-backend-js's generated stubs, not our protos.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startChildService, type ChildService } from '../../support/child-service.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';
import type { Component } from '../../../core/component.ts';

type OtlpPorts = Component & { grpcPort: number; httpPort: number };

const APP = fileURLToPath(new URL('./service-app.cjs', import.meta.url));
const ENTRY = 0;
const EXIT = 1;
const CROSS_PROCESS = 0;
const HTTP_LAYER = 3;

async function httpGet(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

function byService(segments: DecodedSegment[], traceId: string) {
  const mine = segments.filter((s) => s.traceid === traceId);
  return Object.fromEntries(mine.map((s) => [s.service, s])) as Record<'frontend' | 'orders' | 'payments', DecodedSegment>;
}

for (const exporter of ['grpc', 'http-json', 'http-proto'] as const) {
  describe(`OTel SDK (${exporter} exporter) → skybridge → OAP`, () => {
    let harness: Harness;
    const services: ChildService[] = [];
    let frontendUrl = '';

    before(async () => {
      harness = await startHarness({
        receiversYaml: '  otlp:\n    grpc: { endpoint: "127.0.0.1:0" }\n    http: { endpoint: "127.0.0.1:0" }',
        receiverIds: ['otlp'],
      });
      const otlp = harness.collector.service.component<OtlpPorts>('otlp')!;
      const endpoint = exporter === 'grpc' ? `http://127.0.0.1:${otlp.grpcPort}` : `http://127.0.0.1:${otlp.httpPort}/v1/traces`;
      const common = { OTLP_EXPORTER: exporter, OTLP_ENDPOINT: endpoint };
      const payments = await startChildService(APP, { ...common, SERVICE_NAME: 'payments' });
      const orders = await startChildService(APP, { ...common, SERVICE_NAME: 'orders', DOWNSTREAM: `http://127.0.0.1:${payments.port}` });
      const frontend = await startChildService(APP, { ...common, SERVICE_NAME: 'frontend', DOWNSTREAM: `http://127.0.0.1:${orders.port}` });
      services.push(payments, orders, frontend);
      frontendUrl = `http://127.0.0.1:${frontend.port}`;
    });

    after(async () => {
      await Promise.all(services.map((s) => s.stop()));
      await harness.stop();
    });

    it('gives three linked segments per request, and isError for a failing one', async () => {
      assert.equal(await httpGet(`${frontendUrl}/checkout`), 200);
      assert.equal(await httpGet(`${frontendUrl}/checkout/fail`), 502);
      await harness.oap.waitForSegments(6, 15_000);
      const segments = harness.oap.segments as DecodedSegment[];
      assertOapRules(segments);
      const traceIds = [...new Set(segments.map((s) => s.traceid))];
      assert.equal(traceIds.length, 2, 'two requests, two traces');

      for (const traceId of traceIds) {
        const { frontend, orders, payments } = byService(segments, traceId);
        assert.ok(frontend && orders && payments, 'one segment per service');
        const feEntry = frontend.spansList.find((s) => s.spanid === 0)!;
        assert.equal(feEntry.spantype, ENTRY);
        assert.equal(feEntry.refsList.length, 0);
        assert.equal(feEntry.spanlayer, HTTP_LAYER);
        assert.match(feEntry.operationname, /^GET:\/checkout/);
        const feExit = frontend.spansList.find((s) => s.spantype === EXIT)!;

        const ordEntry = orders.spansList.find((s) => s.spanid === 0)!;
        assert.equal(ordEntry.spantype, ENTRY);
        assert.equal(ordEntry.refsList.length, 1);
        const ref = ordEntry.refsList[0]!;
        assert.equal(ref.reftype, CROSS_PROCESS);
        assert.equal(ref.parenttracesegmentid, frontend.tracesegmentid);
        assert.equal(ref.parentspanid, feExit.spanid);
        assert.equal(ref.parentservice, 'frontend');
        assert.equal(ref.parentserviceinstance, frontend.serviceinstance);
        assert.equal(ref.parentendpoint, feEntry.operationname);
        assert.equal(ref.networkaddressusedatpeer, feExit.peer);
        assert.match(feExit.peer, /^(127\.0\.0\.1|localhost):\d+$/);

        const ordExit = orders.spansList.find((s) => s.spantype === EXIT)!;
        const payRef = payments.spansList.find((s) => s.spanid === 0)!.refsList[0]!;
        assert.equal(payRef.parenttracesegmentid, orders.tracesegmentid);
        assert.equal(payRef.parentspanid, ordExit.spanid);
        assert.equal(payRef.parentservice, 'orders');
        assert.equal(payRef.parentendpoint, ordEntry.operationname);
        assert.equal(payRef.networkaddressusedatpeer, ordExit.peer);

        const failed = feEntry.operationname.includes('fail') || frontend.spansList.some((s) => s.tagsList.some((t) => t.key === 'url' && t.value.includes('fail')));
        const payEntry = payments.spansList.find((s) => s.spanid === 0)!;
        assert.equal(payEntry.iserror, failed, `payments isError for ${failed ? 'failing' : 'good'} request`);
        assert.equal(feEntry.iserror, failed);
        const status = payEntry.tagsList.find((t) => t.key === 'http.status_code')?.value;
        assert.equal(status, failed ? '500' : '200');
      }
      // Each instance was reported once through ManagementService.
      const reported = new Set(harness.oap.instanceProperties.map((p: { service: string }) => p.service));
      assert.deepEqual([...reported].sort(), ['frontend', 'orders', 'payments']);
    });
  });
}
