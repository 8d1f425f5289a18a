/**
 * Issue #8 DLQ test: a send the OAP refuses permanently (wrong token) ends in the dead-letter queue;
 * `skybridge dlq list` shows it, `skybridge dlq replay` with the wrong token still refuses (and keeps
 * it), and once the token is fixed `skybridge dlq replay` delivers every acknowledged span. The
 * collector runs as a child process with `ack: after_export` + `redis`: a batch parked in the DLQ is
 * durably held, so its sender is answered success.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryTracker, deliveryReport, OtlpTraceLoad } from '../../support/otlp-trace-load.ts';
import { redisScratch } from '../../support/redis-scratch.ts';
import { configFile, freePort, runCli, startSkybridge } from '../../support/skybridge-cli.ts';
import { StandInOap } from '../../support/stand-in-oap.ts';

describe('skybridge dlq', () => {
  it('parks permanently refused segments in the dead-letter queue, and replay delivers them once the cause is fixed', { timeout: 60_000 }, async (t) => {
    const scratch = await redisScratch();
    const oap = await StandInOap.start({ token: 'right-token' });
    const otlpPort = await freePort();
    const yaml = (token: string) => `
receivers:
  otlp:
    grpc: null
    http: { endpoint: "127.0.0.1:${otlpPort}" }
exporters:
  skywalking:
    endpoint: "${oap.endpoint}"
    token: "${token}"
    ack: after_export
    assembly: { quiet_period: 100ms }
    redis: { url: "${scratch.url}", key_prefix: "${scratch.prefix}" }
  debug: {}
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
telemetry: { endpoint: null, log_level: info }
`;
    const wrong = configFile(yaml('wrong-token'));
    const fixed = configFile(yaml('right-token'));
    const load = new OtlpTraceLoad({ url: () => `http://127.0.0.1:${otlpPort}/v1/traces`, tracesPerRequest: 10, intervalMs: 100 });
    const sky = await startSkybridge(wrong.file);
    try {
      load.start();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await load.drain(10_000);
      assert.ok(load.acked.length > 0);
      assert.equal(oap.segments.length, 0, 'the OAP refused everything');
      await sky.waitForLog('Batches went to the dead-letter queue. Inspect them with `skybridge dlq list`, fix the cause, then `skybridge dlq replay`.');
      assert.equal(await sky.stop('SIGTERM'), 0);

      const list = await runCli(['dlq', 'list', '--config', wrong.file]);
      assert.equal(list.code, 0, list.stderr);
      const jobs = Number(/: (\d+) job\(s\)\./.exec(list.stdout)?.[1]);
      assert.ok(jobs > 0, list.stdout);
      assert.match(list.stdout, /permission_denied: Invalid authentication token\./);
      for (const line of list.stdout.split('\n').slice(0, 4)) t.diagnostic(`dlq list | ${line}`);

      const refused = await runCli(['dlq', 'replay', '--config', wrong.file, '--exporter', 'skywalking']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /still refuses it/);
      assert.match(refused.stdout, new RegExp(`Replayed 0 job\\(s\\) .*; ${jobs} left\\.`));

      const one = await runCli(['dlq', 'replay', '--config', fixed.file, '--limit', '1']);
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stdout, new RegExp(`Replayed 1 job\\(s\\) .*; ${jobs - 1} left\\.`));
      const rest = await runCli(['dlq', 'replay', '--config', fixed.file]);
      assert.equal(rest.code, 0, rest.stderr);
      assert.match(rest.stdout, /; 0 left\./);
      t.diagnostic(`skybridge dlq replay: ${rest.stdout.trim()}`);

      await new DeliveryTracker(oap.segments).waitForAll(() => load.acked, 5_000);
      const report = deliveryReport(load.acked, oap.segments);
      const empty = await runCli(['dlq', 'list', '--config', fixed.file]);
      assert.match(empty.stdout, /: 0 job\(s\)\./);
      t.diagnostic(
        `dlq figures: ${JSON.stringify({
          spansAcked: report.spansAcked, deadLetterJobs: jobs, segmentsExpected: report.segmentsExpected,
          segmentsReceived: report.segmentsReceived, duplicateSegments: report.duplicates, missingSegments: report.missing.length,
        })}`,
      );
      assert.equal(report.missing.length, 0);
      assert.equal(report.duplicates, 0);
    } finally {
      load.abandon();
      await sky.stop('SIGKILL');
      await oap.stop();
      await scratch.cleanup();
      wrong.remove();
      fixed.remove();
    }
  });

  it('explains what is wrong instead of guessing', async () => {
    const noRedis = configFile(`
receivers: { otlp: { grpc: null, http: { endpoint: "127.0.0.1:0" } } }
exporters: { skywalking: {}, debug: {} }
pipelines: { traces: { receivers: [otlp], exporters: [skywalking, debug] } }
`);
    try {
      const none = await runCli(['dlq', 'list', '--config', noRedis.file]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /No exporter in .* has a redis block/);
      const named = await runCli(['dlq', 'list', '--config', noRedis.file, '--exporter', 'debug']);
      assert.match(named.stderr, /Exporter "debug" has no redis block/);
      const unknown = await runCli(['dlq', 'list', '--config', noRedis.file, '--exporter', 'kafka']);
      assert.match(unknown.stderr, /No exporter "kafka" .*defined: skywalking, debug/);
      const usage = await runCli(['dlq', 'drop', '--config', noRedis.file]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /expected one of list, replay, purge/);
    } finally {
      noRedis.remove();
    }
  });
});
