/**
 * Issue #8 fault test: the OAP is down for 30 s under steady load, then back. skybridge runs as a
 * child process (`bin/skybridge.mjs`) with `ack: after_export` and a `redis` block, so a sender is
 * answered only once its segments reached the OAP or Redis. Every acknowledged span must reach the
 * stand-in OAP; duplicates are counted and reported, not hidden. Figures go to the test's
 * diagnostics (spans sent, delivered, duplicated, peak backlog, time to drain it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryTracker, deliveryReport, OtlpTraceLoad } from '../../support/otlp-trace-load.ts';
import { redisScratch } from '../../support/redis-scratch.ts';
import { configFile, freePort, metricSum, scrapeMetrics, startSkybridge } from '../../support/skybridge-cli.ts';
import { StandInOap } from '../../support/stand-in-oap.ts';

const OUTAGE_MS = Number(process.env.SKYBRIDGE_TEST_OUTAGE_MS ?? 30_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('skywalking exporter with durable retry, OAP down for 30 s under load', () => {
  it('delivers every acknowledged span once the OAP is back', { timeout: 90_000 }, async (t) => {
    const scratch = await redisScratch();
    const oap = await StandInOap.start();
    const [otlpPort, telemetryPort] = [await freePort(), await freePort()];
    const config = configFile(`
receivers:
  otlp:
    grpc: null
    http: { endpoint: "127.0.0.1:${otlpPort}" }
exporters:
  skywalking:
    endpoint: "${oap.endpoint}"
    ack: after_export
    ack_timeout: 5s
    timeout: 2s
    assembly: { quiet_period: 200ms, max_wait: 2s }
    retry_on_failure: { initial_interval: 100ms, max_interval: 1s }
    redis: { url: "${scratch.url}", key_prefix: "${scratch.prefix}", concurrency: 4 }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
telemetry: { endpoint: "127.0.0.1:${telemetryPort}", log_level: info }
`);
    const sky = await startSkybridge(config.file);
    const load = new OtlpTraceLoad({ url: () => `http://127.0.0.1:${otlpPort}/v1/traces`, tracesPerRequest: 20, intervalMs: 50 });
    try {
      load.start();
      await sleep(3_000);
      const beforeOutage = deliveryReport(load.acked, oap.segments);

      await oap.stop();
      const downAt = Date.now();
      let peakJobs = 0;
      let peakBytes = 0;
      let sampleJob: { memoryUsage: number; segments: number; storedBytes: number } | undefined;
      while (Date.now() - downAt < OUTAGE_MS) {
        await sleep(1_000);
        const samples = await scrapeMetrics(telemetryPort);
        peakJobs = Math.max(peakJobs, metricSum(samples, 'skybridge_queue_size', { queue: 'durable_retry_jobs' }));
        peakBytes = Math.max(peakBytes, metricSum(samples, 'skybridge_queue_size', { queue: 'durable_retry_bytes' }));
        if (sampleJob === undefined) {
          const jobKey = (await scratch.keys()).find((k) => /:skywalking:\d+$/.test(k));
          if (jobKey) {
            const data = JSON.parse((await scratch.redis.hget(jobKey, 'data')) ?? '{}') as { items?: number; bytes?: number };
            const memoryUsage = Number(await scratch.redis.call('MEMORY', 'USAGE', jobKey, 'SAMPLES', '0'));
            if (data.items) sampleJob = { memoryUsage, segments: data.items, storedBytes: data.bytes ?? 0 };
          }
        }
      }
      const ackedDuringOutage = load.acked.length;
      await oap.restart();
      const upAt = Date.now();
      const backlog = load.acked.slice();
      const tracker = new DeliveryTracker(oap.segments);
      await tracker.waitForAll(() => backlog, 30_000, 'the backlog');
      const drainMs = Date.now() - upAt;

      await sleep(1_000);
      await load.drain(20_000);
      await tracker.waitForAll(() => load.acked, 20_000);
      const report = deliveryReport(load.acked, oap.segments);
      const samples = await scrapeMetrics(telemetryPort);
      const rawSegmentBytes = oap.rawSegments.reduce((sum, b) => sum + b.length, 0) / Math.max(1, oap.rawSegments.length);

      const figures = {
        spansAcked: report.spansAcked,
        tracesAcked: report.tracesAcked,
        tracesAckedDuringOutage: ackedDuringOutage - beforeOutage.tracesAcked,
        segmentsExpected: report.segmentsExpected,
        segmentsReceived: report.segmentsReceived,
        duplicateSegments: report.duplicates,
        missingSegments: report.missing.length,
        peakRetryJobs: peakJobs,
        peakRetryBytes: peakBytes,
        backlogDrainMs: drainMs,
        refusedRequests: Object.fromEntries(load.refusals),
        jobsQueued: metricSum(samples, 'skybridge_durable_retry_jobs_total', { event: 'queued' }),
        jobsDelivered: metricSum(samples, 'skybridge_durable_retry_jobs_total', { event: 'delivered' }),
        jobsRetried: metricSum(samples, 'skybridge_durable_retry_jobs_total', { event: 'retried' }),
        avgSegmentProtoBytes: Math.round(rawSegmentBytes),
        sampleJob: sampleJob && { ...sampleJob, storedBytesPerSegment: Math.round(sampleJob.storedBytes / sampleJob.segments), redisBytesPerSegment: Math.round(sampleJob.memoryUsage / sampleJob.segments) },
        drops: metricSum(samples, 'skybridge_dropped_spans_total', { intentional: 'false' }),
      };
      t.diagnostic(`oap-outage figures: ${JSON.stringify(figures)}`);

      assert.equal(report.missing.length, 0);
      assert.ok(figures.tracesAckedDuringOutage > 0, 'senders were answered during the outage (from Redis)');
      assert.ok(peakJobs > 0, 'the outage went through Redis');
      assert.equal(figures.drops, 0);
      assert.equal(await sky.stop('SIGTERM'), 0);
    } finally {
      if (process.env.SKYBRIDGE_TEST_DUMP) {
        const fs = await import('node:fs');
        fs.writeFileSync(process.env.SKYBRIDGE_TEST_DUMP, sky.logs.map((l) => JSON.stringify(l)).join('\n'));
      }
      load.abandon();
      await sky.stop('SIGKILL');
      await oap.stop();
      await scratch.cleanup();
      config.remove();
    }
  });
});
