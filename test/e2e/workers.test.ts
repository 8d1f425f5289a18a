/**
 * `workers: 2` as users run it: the skybridge command in its own process, load from an eager
 * sender, then SIGTERM while traces are still held in both workers (a long quiet period). Every
 * acknowledged trace must reach the OAP whole before the process exits 0, and /metrics must have
 * counted every span once across the threads.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { deliveryReport, OtlpTraceLoad } from '../support/otlp-trace-load.ts';
import { freePort, SkybridgeProcess } from '../support/skybridge-process.ts';
import { StandInOap } from '../support/stand-in-oap.ts';

function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').at(-1));
  return sum;
}

describe('workers: 2 (real process)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('flushes what both workers hold on SIGTERM: every acknowledged trace arrives whole, exit 0', async () => {
    const oap = await StandInOap.start();
    cleanup.push(() => oap.stop());
    const port = await freePort();
    const skybridge = await SkybridgeProcess.start(
      'workers',
      `
workers: 2
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
exporters:
  skywalking:
    endpoint: "${oap.endpoint}"
    assembly: { quiet_period: 30s, max_wait: 60s }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
`,
    );
    cleanup.push(() => skybridge.stop());
    const load = new OtlpTraceLoad({ url: () => `http://127.0.0.1:${port}/v1/traces`, tracesPerRequest: 20, intervalMs: 20 });
    load.start();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await load.drain();
    assert.ok(load.acked.length >= 100, `acknowledged ${load.acked.length} traces`);
    // Nothing is built yet: the quiet period holds every trace in its worker.
    assert.equal(oap.segments.length, 0);
    const before = await skybridge.metrics();
    assert.equal(metricSum(before, 'skybridge_receiver_accepted_spans_total'), load.spansAcked);
    assert.equal(metricSum(before, 'skybridge_exporter_incoming_spans_total'), load.spansAcked, 'both workers took their share, summed once');
    assert.ok(metricSum(before, 'skybridge_admission_held_spans') >= load.spansAcked);

    const code = await skybridge.stop();
    assert.equal(code, 0, skybridge.log);
    const report = deliveryReport(load.acked, oap.segments);
    assert.deepEqual(report.missing, []);
    assert.equal(report.duplicates, 0);
    assert.equal(report.distinctSegments, report.segmentsExpected);
  });
});
