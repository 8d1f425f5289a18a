/**
 * Issue #8 fault tests around the process itself, with skybridge as a child process
 * (`bin/skybridge.mjs`), a stand-in OAP and the local Redis:
 *
 * - SIGKILL while the OAP is down, then a restart: uses `ack: after_export` + `redis`, so a sender
 *   is answered only once its segments are in Redis (or at the OAP). Everything answered must reach
 *   the OAP after the restart: the new process resumes the jobs the killed one left.
 * - SIGTERM under load, OAP up: uses the default `ack: buffered` + `redis`. Spans are answered as
 *   soon as the trace buffer holds them, so this shows the graceful path: receivers refuse new
 *   requests, held traces are flushed, the queue drains, and nothing answered is lost.
 * - SIGTERM under load, OAP down: `ack: buffered` + `redis`; what is still in memory at shutdown is
 *   handed to Redis, and the next run delivers it.
 *
 * Every span answered 2xx is checked against the segments the OAP received; duplicates are counted
 * and reported (test diagnostics), not hidden.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryTracker, deliveryReport, OtlpTraceLoad } from '../../support/otlp-trace-load.ts';
import { redisScratch, type RedisScratch } from '../../support/redis-scratch.ts';
import { configFile, freePort, metricSum, scrapeMetrics, startSkybridge } from '../../support/skybridge-cli.ts';
import { StandInOap } from '../../support/stand-in-oap.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pipelineYaml(p: { otlpPort: number; telemetryPort: number; oap: string; scratch: RedisScratch; ack: 'buffered' | 'after_export' }): string {
  return `
receivers:
  otlp:
    grpc: null
    http: { endpoint: "127.0.0.1:${p.otlpPort}" }
exporters:
  skywalking:
    endpoint: "${p.oap}"
    ack: ${p.ack}
    ack_timeout: 5s
    timeout: 2s
    assembly: { quiet_period: 200ms, max_wait: 2s }
    retry_on_failure: { initial_interval: 100ms, max_interval: 1s }
    redis: { url: "${p.scratch.url}", key_prefix: "${p.scratch.prefix}", concurrency: 4 }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
telemetry: { endpoint: "127.0.0.1:${p.telemetryPort}", log_level: info }
`;
}

describe('skybridge killed or stopped under load, with durable retry', () => {
  it('SIGKILL while the OAP is down, then a restart: every acknowledged span is delivered (ack: after_export)', { timeout: 60_000 }, async (t) => {
    const scratch = await redisScratch();
    const oap = await StandInOap.start();
    await oap.stop();
    const ports = { otlpPort: await freePort(), telemetryPort: await freePort() };
    const config = configFile(pipelineYaml({ ...ports, oap: oap.endpoint, scratch, ack: 'after_export' }));
    const load = new OtlpTraceLoad({ url: () => `http://127.0.0.1:${ports.otlpPort}/v1/traces`, tracesPerRequest: 20, intervalMs: 50 });
    let first = await startSkybridge(config.file);
    let second: Awaited<ReturnType<typeof startSkybridge>> | undefined;
    try {
      load.start();
      await sleep(3_000);
      const jobsAtKill = metricSum(await scrapeMetrics(ports.telemetryPort), 'skybridge_queue_size', { queue: 'durable_retry_jobs' });
      const ackedAtKill = load.acked.length;
      const inFlightAtKill = load.inFlight;
      assert.equal(await first.stop('SIGKILL'), 'SIGKILL');
      load.pause(); // requests in flight keep retrying against the restarted process

      second = await startSkybridge(config.file);
      const resumed = second.logs.find((l) => l.msg === 'Resuming retry jobs left in Redis by an earlier run.');
      await oap.restart();
      const upAt = Date.now();
      const tracker = new DeliveryTracker(oap.segments);
      const backlog = load.acked.slice(0, ackedAtKill);
      await tracker.waitForAll(() => backlog, 20_000, 'the spans acknowledged before the kill');
      const drainMs = Date.now() - upAt;
      await load.drain(20_000);
      await tracker.waitForAll(() => load.acked, 20_000);
      const report = deliveryReport(load.acked, oap.segments);
      t.diagnostic(
        `sigkill figures: ${JSON.stringify({
          spansAckedBeforeKill: ackedAtKill * 3, requestsInFlightAtKill: inFlightAtKill, retryJobsAtKill: jobsAtKill,
          resumedJobs: resumed?.pendingJobs, spansAcked: report.spansAcked, segmentsExpected: report.segmentsExpected,
          segmentsReceived: report.segmentsReceived, duplicateSegments: report.duplicates, missingSegments: report.missing.length,
          backlogDrainMs: drainMs, refusedRequests: Object.fromEntries(load.refusals),
        })}`,
      );
      assert.ok(ackedAtKill > 0 && jobsAtKill > 0, 'spans were acknowledged from Redis before the kill');
      assert.ok(resumed !== undefined, 'the restarted skybridge said it resumes jobs');
      assert.equal(report.missing.length, 0);
      assert.equal(await second.stop('SIGTERM'), 0);
    } finally {
      load.abandon();
      await first.stop('SIGKILL');
      await second?.stop('SIGKILL');
      await oap.stop();
      await scratch.cleanup();
      config.remove();
    }
  });

  for (const oapDown of [false, true]) {
    it(`SIGTERM under load with the OAP ${oapDown ? 'down: what is held goes to Redis and the next run delivers it' : 'up: held traces are flushed and sent'} (ack: buffered)`, { timeout: 60_000 }, async (t) => {
      const scratch = await redisScratch();
      const oap = await StandInOap.start();
      const ports = { otlpPort: await freePort(), telemetryPort: await freePort() };
      const config = configFile(pipelineYaml({ ...ports, oap: oap.endpoint, scratch, ack: 'buffered' }));
      const load = new OtlpTraceLoad({ url: () => `http://127.0.0.1:${ports.otlpPort}/v1/traces`, tracesPerRequest: 20, intervalMs: 50 });
      const sky = await startSkybridge(config.file);
      let next: Awaited<ReturnType<typeof startSkybridge>> | undefined;
      try {
        load.start();
        await sleep(1_500);
        if (oapDown) await oap.stop();
        await sleep(1_500);
        const termAt = Date.now();
        const exit = await sky.stop('SIGTERM');
        const shutdownMs = Date.now() - termAt;
        // Requests refused during shutdown are never acknowledged; their senders would retry elsewhere.
        load.abandon();
        const handedOff = sky.logs.find((l) => l.msg === 'Handed segments still held at the shutdown deadline to the durable retry queue.');
        const dropped = sky.logs.filter((l) => /dropped/.test(String(l.msg)));
        if (oapDown) {
          next = await startSkybridge(config.file);
          await oap.restart();
        }
        const tracker = new DeliveryTracker(oap.segments);
        await tracker.waitForAll(() => load.acked, 20_000);
        const report = deliveryReport(load.acked, oap.segments);
        t.diagnostic(
          `sigterm (oap ${oapDown ? 'down' : 'up'}) figures: ${JSON.stringify({
            spansAcked: report.spansAcked, segmentsExpected: report.segmentsExpected, segmentsReceived: report.segmentsReceived,
            duplicateSegments: report.duplicates, missingSegments: report.missing.length, shutdownMs, exitCode: exit,
            handedOffAtDeadline: handedOff?.segments ?? 0, dropLogLines: dropped.length, refusedRequests: Object.fromEntries(load.refusals),
          })}`,
        );
        assert.equal(exit, 0);
        assert.equal(dropped.length, 0, JSON.stringify(dropped));
        assert.equal(report.missing.length, 0);
        if (next) assert.equal(await next.stop('SIGTERM'), 0);
      } finally {
        load.abandon();
        await sky.stop('SIGKILL');
        await next?.stop('SIGKILL');
        await oap.stop();
        await scratch.cleanup();
        config.remove();
      }
    });
  }
});
