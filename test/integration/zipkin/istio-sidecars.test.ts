/**
 * #14: Envoy sidecars in an Istio mesh, through the zipkin receiver to the stand-in OAP (the
 * segments decoded with skywalking-backend-js's stubs). The fixture (test/support/zipkin-sidecar-
 * fixture.ts) has joined span ids on every hop, outbound spans posted before their inbound span, a
 * retried call joined by two pods, and an application span without a local endpoint. The same
 * fixture runs against the real OAP in test/integration/oap/zipkin-sidecars.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ZipkinReceiver } from '../../../receivers/zipkin/receiver.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';
import { BOOKINFO_EDGES, BOOKINFO_PROCESSES, bookinfoTrace } from '../../support/zipkin-sidecar-fixture.ts';

const TRACES = 5;

/** Service edges the OAP would draw: each CrossProcess ref on a segment's first span, parent service → service. */
function edgesOf(segments: readonly DecodedSegment[]): string[] {
  const edges = new Set<string>();
  for (const s of segments) for (const r of s.spansList[0]!.refsList) if (r.reftype === 0) edges.add(`${r.parentservice} → ${s.service}`);
  return [...edges].sort();
}

describe('Istio sidecars (Envoy Zipkin spans) → zipkin receiver → skywalking exporter', () => {
  let harness: Harness;

  before(async () => {
    harness = await startHarness({ receiversYaml: '  zipkin: { endpoint: "127.0.0.1:0" }', receiverIds: ['zipkin'], quietPeriod: '300ms' });
    const url = `http://127.0.0.1:${harness.collector.service.component<ZipkinReceiver>('zipkin')!.port}/api/v2/spans`;
    const t0 = Date.now() * 1000;
    for (let i = 0; i < TRACES; i++) {
      for (const body of bookinfoTrace(t0 + i * 200_000).posts) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.equal(res.status, 202);
      }
    }
    await harness.oap.waitForSegments(6 * TRACES, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 700));
  });
  after(() => harness.stop());

  it('gives six segments per trace: one per process, retries on two pods apart, and no span left over', () => {
    const segments = harness.oap.segments as DecodedSegment[];
    assert.equal(segments.length, 6 * TRACES);
    const perTrace = new Map<string, string[]>();
    for (const s of segments) perTrace.set(s.traceid, [...(perTrace.get(s.traceid) ?? []), `${s.service}@${s.serviceinstance}`]);
    assert.equal(perTrace.size, TRACES);
    for (const where of perTrace.values()) {
      assert.deepEqual(where.sort(), [...BOOKINFO_PROCESSES]);
    }
    assert.ok(!segments.some((s) => s.service === 'unknown_service' || s.serviceinstance === 'unknown_instance'));
  });

  it('keeps to the OAP rules and draws exactly the mesh\'s edges, with no self-loop', () => {
    const segments = harness.oap.segments as DecodedSegment[];
    assertOapRules(segments);
    assert.deepEqual(edgesOf(segments), [...BOOKINFO_EDGES].sort());
    const refs = segments.reduce((n, s) => n + s.spansList.reduce((m, sp) => m + sp.refsList.length, 0), 0);
    assert.equal(refs, 5 * TRACES, 'one ref per called process');
    for (const s of segments.filter((x) => x.service !== 'istio-ingressgateway')) {
      const head = s.spansList[0]!;
      assert.equal(head.spantype, 0, `${s.service}@${s.serviceinstance} starts with its Entry span`);
      assert.equal(s.spansList.filter((sp) => sp.spantype === 0).length, 1, 'one Entry per segment');
    }
  });

  it('puts outbound calls under their inbound span, and the application span in the pod that ran it', () => {
    const segments = harness.oap.segments as DecodedSegment[];
    const productpage = segments.find((s) => s.service === 'productpage.default')!;
    assert.deepEqual(productpage.spansList.map((sp) => [sp.spantype, sp.parentspanid]), [[0, -1], [1, 0], [1, 0]]);
    const retried = segments.find((s) => s.serviceinstance === '10.244.0.16')!;
    assert.deepEqual(retried.spansList.map((sp) => [sp.operationname, sp.parentspanid]), [[retried.spansList[0]!.operationname, -1], ['mongodb find ratings', 0]]);
  });
});
