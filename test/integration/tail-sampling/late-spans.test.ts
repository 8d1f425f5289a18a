/**
 * tail_sampling in the real pipeline: OTLP/HTTP receiver → tail_sampling → skywalking exporter →
 * stand-in OAP (decoded with SkyWalking's own stubs). Kept traces become segments at once; spans
 * arriving after the decision follow it: a kept trace's late span becomes a segment whose ref
 * points at its parent's segment, a dropped trace's late span is counted and never sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { components } from '../../../components.ts';
import { startCollector, type RunningCollector } from '../../../core/collector.ts';
import type { SpanBatch } from '../../../core/model/span-batch.ts';
import { encodeExportTraceServiceRequest } from '../../../core/model/otlp-protobuf-encoder.ts';
import { segmentIdFor } from '../../../core/segments/segment-builder.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { WINDOW_MS } from '../../../processors/tail_sampling/budget.ts';
import { checkoutTrace } from '../../../processors/tail_sampling/testdata/traces.ts';
import type { OtlpReceiver } from '../../../receivers/otlp/receiver.ts';
import { StandInOap } from '../../support/stand-in-oap.ts';

describe('tail_sampling → skywalking exporter → OAP', () => {
  let oap: StandInOap;
  let collector: RunningCollector;
  let httpPort: number;

  before(async () => {
    oap = await StandInOap.start();
    collector = await startCollector(
      {
        name: 'tail-sampling.yaml',
        text: `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:0" } }
processors:
  tail_sampling:
    sample_n_per_3_secs: 2
    decision_wait: 500ms
    quiet_period: 100ms
    policies:
      - { name: errors, type: error }
      - { name: health, type: drop, drop: { endpoint: "*/healthz" } }
exporters:
  skywalking:
    endpoint: ${oap.endpoint}
    assembly: { quiet_period: 100ms }
pipelines:
  traces: { receivers: [otlp], processors: [tail_sampling], exporters: [skywalking] }
telemetry: { endpoint: null, log_level: silent }
`,
      },
      components,
      { logger: createLogger({ level: 'silent' }) },
    );
    httpPort = collector.service.component<OtlpReceiver>('otlp')!.httpPort!;
  });

  after(async () => {
    await collector?.shutdown(5_000);
    await oap?.stop();
  });

  const send = async (batch: SpanBatch) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from(encodeExportTraceServiceRequest(batch)),
    });
    assert.equal(res.status, 200);
  };
  const counter = async (name: 'samplingLateSpans' | 'droppedSpans', labels: Record<string, string>) => {
    const m = await collector.metrics[name].get();
    return m.values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k as keyof typeof v.labels]) === want)).reduce((a, v) => a + v.value, 0);
  };

  it('exports kept traces and links their late spans; drops the others and their late spans', async () => {
    // All four start in the same 3-second window, early in it so the test does not straddle two.
    let startMs = Date.now();
    if (startMs % WINDOW_MS > WINDOW_MS - 500) {
      await new Promise((r) => setTimeout(r, WINDOW_MS - (startMs % WINDOW_MS) + 10));
      startMs = Date.now();
    }
    const failed = checkoutTrace({ traceId: '1a'.repeat(16), startMs, error: true });
    // Randomness is the id's last 14 hex digits: `best` has the highest possible.
    const best = checkoutTrace({ traceId: '2b'.repeat(9) + 'f'.repeat(14), startMs });
    const worse = checkoutTrace({ traceId: '3c'.repeat(9) + '0'.repeat(13) + '1', startMs });
    const health = checkoutTrace({ traceId: '4d'.repeat(16), startMs, route: '/healthz' });
    const all = [failed, best, worse, health];

    // frontend and orders now; payments (a leaf, so every trace is already whole) comes late.
    await send({ resourceSpans: all.flatMap((t) => [t.batches.frontend, t.batches.orders]) });

    // The error trace is kept as soon as it is quiet; it spends one of the window's two slots.
    await oap.waitForSegments(2);
    assert.deepEqual(new Set(oap.segments.map((s) => s.traceid)), new Set([failed.traceId]));
    // The other slot goes to the better candidate when the window closes (its end + decision_wait).
    await oap.waitForSegments(4, WINDOW_MS + 2_000);
    assert.deepEqual(new Set(oap.segments.map((s) => s.traceid)), new Set([failed.traceId, best.traceId]));

    await send({ resourceSpans: all.map((t) => t.batches.payments) });
    await oap.waitForSegments(6);
    await new Promise((r) => setTimeout(r, 400)); // nothing else may follow
    assert.equal(oap.segments.length, 6);

    for (const t of [failed, best]) {
      const payments = oap.segments.find((s) => s.traceid === t.traceId && s.service === 'payments');
      assert.ok(payments, `late payments segment of ${t.traceId}`);
      const orders = oap.segments.find((s) => s.traceid === t.traceId && s.service === 'orders')!;
      assert.equal(orders.tracesegmentid, segmentIdFor(t.traceId, t.ids.ordServer));
      const exit = orders.spansList.find((s) => s.spantype === 1 && s.peer === 'localhost:3002')!;
      assert.deepEqual(payments.spansList[0]!.refsList, [
        {
          reftype: 0, // CrossProcess
          traceid: t.traceId,
          parenttracesegmentid: orders.tracesegmentid,
          parentspanid: exit.spanid,
          parentservice: 'orders',
          parentserviceinstance: 'orders-1',
          parentendpoint: orders.spansList[0]!.operationname,
          networkaddressusedatpeer: 'localhost:3002',
        },
      ]);
    }
    assert.equal(await counter('samplingLateSpans', { decision: 'kept' }), 2);
    assert.equal(await counter('samplingLateSpans', { decision: 'dropped' }), 2);
    assert.equal(await counter('droppedSpans', { component: 'tail_sampling', reason: 'sampled_out' }), 2 * 6);
  });
});
