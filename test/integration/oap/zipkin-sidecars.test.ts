/**
 * #14 on the real OAP 10.1.0: Envoy sidecars of an Istio mesh (test/support/zipkin-sidecar-
 * fixture.ts: joined span ids on every hop, outbound spans posted before their inbound span, a
 * retried call joined by two pods, an application span without a local endpoint) through
 * skybridge's zipkin receiver. The topology the OAP draws has exactly the mesh's edges and no
 * self-loop; the retried service has both pods as instances; a trace reads as six segments. The
 * traffic is sent twice: the OAP resolves an Exit's peer to a service only after it has learnt the
 * address from the callee's ref.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lastMinutes, pollOap, startOap, type RealOap } from '../../support/oap.ts';
import { describeCalls, globalTopology, listInstances, namedCalls, queryTrace, serviceIdOf } from '../../support/oap-graphql.ts';
import { freePort, SkybridgeProcess } from '../../support/skybridge-process.ts';
import { BOOKINFO_EDGES, BOOKINFO_PROCESSES, bookinfoTrace } from '../../support/zipkin-sidecar-fixture.ts';

const TRACES = 5;
const MESH = ['istio-ingressgateway', 'productpage.default', 'details.default', 'reviews.default', 'ratings.default'];
const POLL = { timeoutMs: 90_000, intervalMs: 2_000 };

describe('Istio sidecars (Envoy Zipkin spans) → skybridge → real OAP', () => {
  let oap: RealOap;
  let skybridge: SkybridgeProcess;
  const traceIds: string[] = [];

  before(async () => {
    const zipkinPort = await freePort();
    oap = await startOap();
    skybridge = await SkybridgeProcess.start(
      'zipkin-sidecars',
      `
receivers:
  zipkin: { endpoint: "127.0.0.1:${zipkinPort}" }
exporters:
  skywalking:
    endpoint: "${oap.grpcAddress}"
    assembly: { quiet_period: 300ms, max_wait: 3s }
pipelines:
  traces: { receivers: [zipkin], exporters: [skywalking] }
`,
    );
    await sendTraces(zipkinPort);
    // The OAP ties an Exit's peer to a service only once it learnt the callee's address from its
    // ref (docs/real-peers.md): wait for the server sides, then send the traffic a second time.
    await pollOap(oap, 'the server side of the mesh edges', async () => {
      const drawn = describeCalls(namedCalls(await globalTopology(oap, lastMinutes()), (n) => n.name));
      return BOOKINFO_EDGES.every((e) => drawn.some((l) => l.startsWith(`${e} [`))) ? drawn : undefined;
    }, POLL);
    await new Promise((resolve) => setTimeout(resolve, 12_000)); // the OAP refreshes its alias cache
    await sendTraces(zipkinPort);
  });

  async function sendTraces(zipkinPort: number): Promise<void> {
    const t0 = Date.now() * 1000;
    for (let i = 0; i < TRACES; i++) {
      const trace = bookinfoTrace(t0 + i * 200_000);
      traceIds.push(trace.traceId);
      for (const body of trace.posts) {
        const res = await fetch(`http://127.0.0.1:${zipkinPort}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.equal(res.status, 202);
      }
    }
  }

  after(async () => {
    await skybridge?.stop();
    await oap?.stop();
  });

  it('draws the mesh\'s edges, both sides seen, and no self-loop', async () => {
    const want = BOOKINFO_EDGES.map((e) => `${e} [CLIENT,SERVER]`).sort();
    const { drawn, all } = await pollOap(oap, 'the four mesh edges seen from both sides', async () => {
      const all = namedCalls(await globalTopology(oap, lastMinutes()), (n) => n.name);
      const drawn = describeCalls(all.filter((c) => MESH.includes(c.source) && MESH.includes(c.target)));
      return want.every((w) => drawn.includes(w)) ? { drawn, all } : undefined;
    }, POLL);
    assert.deepEqual(drawn, want, 'exactly the mesh\'s edges between its services');
    assert.ok(!all.some((c) => c.source === c.target), `no self-loop; drawn: ${describeCalls(all).join('; ')}`);
  });

  it('knows both pods of the retried service as instances', async () => {
    const names = await pollOap(oap, 'two ratings instances', async () => {
      const found = (await listInstances(oap, serviceIdOf('ratings.default'), lastMinutes())).map((i) => i.name).sort();
      return found.length === 2 ? found : undefined;
    }, POLL);
    assert.deepEqual(names, ['10.244.0.15', '10.244.0.16']);
  });

  it('shows a trace as six segments, one per process, the application span in the pod that ran it', async () => {
    const spans = await pollOap(oap, 'a whole trace', async () => {
      const found = await queryTrace(oap, traceIds.at(-1)!);
      return new Set(found.map((s) => s.segmentId)).size === 6 ? found : undefined;
    }, POLL);
    const where = [...new Set(spans.map((s) => `${s.serviceCode}@${s.serviceInstanceName}`))].sort();
    assert.deepEqual(where, [...BOOKINFO_PROCESSES]);
    const app = spans.find((s) => s.endpointName === 'mongodb find ratings')!;
    assert.equal(app.serviceInstanceName, '10.244.0.16');
    assert.equal(spans.filter((s) => s.refs.length > 0).length, 5, 'one ref per called process');
  });
});
