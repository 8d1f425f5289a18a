/**
 * The admission contract through the real runtime (docs/admission.md): refusals happen at the
 * receivers, before acknowledgement, with the protocol's retryable status and hint; a stage between
 * a receiver and the exporter (here `batch` without wait_for_result, which answers its callers
 * before it hands on) is never refused for room, so it never loses what it acknowledged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { components } from '../../components.ts';
import { startCollector } from '../../core/collector.ts';
import { encodeExportTraceServiceRequest } from '../../core/model/otlp-protobuf-encoder.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { freePort } from '../support/skybridge-process.ts';
import { batchOf, threeServiceTrace } from '../support/span-fixtures.ts';
import { StandInOap } from '../support/stand-in-oap.ts';

async function total(counter: { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((n, v) => n + v.value, 0);
}

describe('admission through the runtime', { timeout: 60_000 }, () => {
  it('refuses at the receiver with 429 + Retry-After while an exporter cannot take more, and the batch processor in front never drops', async () => {
    const oap = await StandInOap.start();
    oap.holdReplies(); // an OAP that takes segments and never answers: the sending queue stays full
    const port = await freePort();
    const collector = await startCollector(
      {
        name: 'test.yaml',
        text: `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
processors:
  batch: { timeout: 10ms, wait_for_result: false }
exporters:
  skywalking:
    endpoint: ${oap.endpoint}
    max_batch: 2
    sending_queue: { queue_size: 6, num_consumers: 1 }
    assembly: { quiet_period: 20ms }
pipelines:
  traces: { receivers: [otlp], processors: [batch], exporters: [skywalking] }
admission: { retry_after: 2s }
telemetry: { endpoint: null, log_level: silent }
`,
      },
      components,
      { logger: createLogger({ level: 'silent' }) },
    );
    try {
      const acked: string[] = [];
      let refusal: Response | undefined;
      for (let i = 0; i < 200 && refusal === undefined; i++) {
        const trace = threeServiceTrace();
        const body = Buffer.from(encodeExportTraceServiceRequest(batchOf(trace.batches.frontend, trace.batches.orders, trace.batches.payments)));
        const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
        await res.arrayBuffer();
        if (res.status === 200) acked.push(trace.traceId);
        else refusal = res;
        await new Promise((r) => setTimeout(r, 30)); // let the batch and the assembler hand on
      }
      assert.ok(refusal, 'the receiver refused once the exporter could take no more');
      assert.equal(refusal.status, 429);
      assert.equal(refusal.headers.get('retry-after'), '2');
      assert.ok(acked.length >= 2, `some traces were acknowledged first (${acked.length})`);
      const metrics = collector.metrics;
      assert.equal(await total(metrics.droppedSpans, { intentional: 'false' }), 0, 'nothing acknowledged was dropped, by batch or anyone');

      oap.releaseReplies();
      const wanted = new Set(acked);
      for (let waited = 0; new Set(oap.segments.filter((s) => wanted.has(s.traceid)).map((s) => s.tracesegmentid)).size < acked.length * 3; waited += 50) {
        if (waited > 20_000) assert.fail('acknowledged traces did not all arrive');
        await new Promise((r) => setTimeout(r, 50));
        oap.releaseReplies();
      }
      assert.equal(await total(metrics.droppedSpans, { intentional: 'false' }), 0);
    } finally {
      await collector.shutdown(5_000);
      await oap.stop();
    }
  });
});
