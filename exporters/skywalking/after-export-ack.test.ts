// `ack: after_export` and durable retry at the exporter's edge: what `consume` answers, and when,
// against a stand-in OAP (held replies, outages, a wrong token) and the local Redis.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ComponentSettings, Host } from '../../core/component.ts';
import type { ConsumeContext } from '../../core/consumer.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { AdmissionLedger } from '../../core/admission/admission-ledger.ts';
import { batchOf, threeServiceTrace } from '../../test/support/span-fixtures.ts';
import { redisScratch } from '../../test/support/redis-scratch.ts';
import { StandInOap } from '../../test/support/stand-in-oap.ts';
import { DeadLetterQueue } from '../../core/queue/durable-retry/dead-letters.ts';
import { skywalkingExporterFactory } from './factory.ts';
import type { SegmentExporter } from '../../core/segments/segment-exporter.ts';
import { track } from '../../test/support/promise-state.ts';

const host: Host = { reportFatal: () => {} };
const ctx: ConsumeContext = { receiver: 'otlp', transport: 'grpc' };

function settings(): ComponentSettings {
  return { id: 'skywalking', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

/** A whole three-service trace in one batch: 6 spans, 3 segments. */
function traceBatch() {
  const t = threeServiceTrace();
  return batchOf(t.batches.frontend, t.batches.orders, t.batches.payments);
}


async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('skywalking exporter, ack: after_export', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(config: Record<string, unknown>, s = settings()) {
    const exporter = skywalkingExporterFactory.create(s, skywalkingExporterFactory.configSchema.parse(config)) as SegmentExporter;
    cleanups.push(() => exporter.shutdown(AbortSignal.timeout(3000)));
    await exporter.start(host);
    return exporter;
  }

  it('validates ack and ack_timeout against the quiet period', () => {
    const parse = (c: unknown) => skywalkingExporterFactory.configSchema.parse(c);
    const defaults = parse({});
    assert.equal(defaults.ack, 'buffered');
    assert.equal(defaults.ack_timeout, 5000);
    assert.equal(defaults.redis, undefined);
    assert.deepEqual(parse({ redis: { url: 'redis://r:6379' } }).redis, {
      url: 'redis://r:6379', key_prefix: 'skybridge', max_queue_bytes: 256 * 1024 ** 2, max_jobs: 100_000, max_attempts: 1000, max_age: 6 * 3_600_000, concurrency: 2,
    });
    assert.throws(() => parse({ ack: 'after_export', ack_timeout: '1s', assembly: { quiet_period: '2s' } }), /ack_timeout must be longer/);
    assert.throws(() => parse({ redis: { url: 'localhost:6379' } }), /redis:\/\//);
    assert.throws(() => parse({ ack: 'on_export' }), /after_export/);
  });

  it('answers a batch only after the OAP answered the stream carrying its segments; a resent batch waits for the same answer', async () => {
    const oap = await StandInOap.start();
    cleanups.push(() => oap.stop());
    const exporter = await start({ endpoint: oap.endpoint, ack: 'after_export', ack_timeout: '5s', assembly: { quiet_period: '50ms' } });
    oap.holdReplies();
    const batch = traceBatch();
    const ack = track(exporter.consume(batch, ctx));
    await oap.waitFor(() => oap.heldReplies === 1, 5000, 'the collect stream');
    assert.equal(oap.segments.length, 3);
    const resent = track(exporter.consume(batch, ctx));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual([ack.state, resent.state], ['pending', 'pending']);
    oap.releaseReplies();
    await eventually(() => ack.state === 'resolved' && resent.state === 'resolved', 5000, 'both acks');
    assert.equal(oap.segments.length, 3); // the resent spans were recognised, not sent twice
  });

  it('drops an abandoned trace unexported and refuses its waiting batches retryably; other traces go on', async () => {
    const oap = await StandInOap.start();
    cleanups.push(() => oap.stop());
    const s = settings();
    const exporter = await start({ endpoint: oap.endpoint, ack: 'after_export', ack_timeout: '5s', assembly: { quiet_period: '300ms' } }, s);
    const taken = threeServiceTrace();
    const kept = threeServiceTrace();
    const takenAck = track(exporter.consume(batchOf(taken.batches.frontend, taken.batches.orders, taken.batches.payments), ctx));
    const keptAck = track(exporter.consume(batchOf(kept.batches.frontend, kept.batches.orders, kept.batches.payments), ctx));
    exporter.abandon(new Set([taken.traceId]));
    await eventually(() => takenAck.state !== 'pending', 1000, 'the abandoned batch to be answered');
    assert.equal(takenAck.state, 'rejected: SKB_ERR_UNAVAILABLE');
    assert.equal((takenAck.error as { retryable: boolean }).retryable, true);
    await eventually(() => keptAck.state === 'resolved', 5000, 'the other trace to be exported');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(oap.segments.length, 3, 'only the trace not abandoned was exported');
    assert.equal(new Set(oap.segments.map((seg) => seg.traceid)).size, 1);
    const dropped = (await s.metrics.droppedSpans.get()).values.find((v) => v.labels.reason === 'abandoned');
    assert.equal(dropped?.value, 6);
    assert.equal(dropped?.labels.intentional, 'true');
  });

  it('refuses with a retryable UNAVAILABLE when the OAP stays down past ack_timeout', async () => {
    const oap = await StandInOap.start();
    cleanups.push(() => oap.stop());
    await oap.stop();
    const exporter = await start({
      endpoint: oap.endpoint, ack: 'after_export', ack_timeout: '300ms', assembly: { quiet_period: '20ms' },
      retry_on_failure: { initial_interval: '20ms', max_interval: '50ms' },
    });
    await assert.rejects(exporter.consume(traceBatch(), ctx), { code: 'SKB_ERR_UNAVAILABLE', retryable: true });
  });

  it('with a redis block, answers once the segments are in Redis while the OAP is down, and delivers them when it is back', async () => {
    const scratch = await redisScratch();
    cleanups.push(() => scratch.cleanup());
    const oap = await StandInOap.start();
    cleanups.push(() => oap.stop());
    await oap.stop();
    const s = settings();
    const exporter = await start(
      {
        endpoint: oap.endpoint, ack: 'after_export', assembly: { quiet_period: '20ms' },
        retry_on_failure: { initial_interval: '20ms', max_interval: '200ms' },
        redis: { url: scratch.url, key_prefix: scratch.prefix },
      },
      s,
    );
    await exporter.consume(traceBatch(), ctx);
    await exporter.consume(traceBatch(), ctx);
    assert.equal(oap.segments.length, 0);
    await oap.restart();
    await oap.waitForSegments(6, 10_000);
    const { values } = await s.metrics.exporterSentSpans.get();
    await eventually(async () => ((await s.metrics.exporterSentSpans.get()).values[0]?.value ?? 0) === 12, 5000, `12 spans counted as sent (${JSON.stringify(values)})`);
  });

  it('with a redis block, parks a permanently refused batch in the dead-letter queue (acknowledged) and replays it once the token is fixed', async () => {
    const scratch = await redisScratch();
    cleanups.push(() => scratch.cleanup());
    const oap = await StandInOap.start({ token: 'right' });
    cleanups.push(() => oap.stop());
    const config = {
      endpoint: oap.endpoint, token: 'wrong', ack: 'after_export', assembly: { quiet_period: '20ms' },
      redis: { url: scratch.url, key_prefix: scratch.prefix },
    };
    const exporter = await start(config);
    await exporter.consume(traceBatch(), ctx);
    assert.equal(oap.segments.length, 0);

    const parsed = skywalkingExporterFactory.configSchema.parse({ ...config, token: 'right' });
    const dlq = skywalkingExporterFactory.deadLetters!('skywalking', parsed) as DeadLetterQueue;
    cleanups.push(() => dlq.close());
    await dlq.open();
    await eventually(async () => (await dlq.count()) === 1, 5000, 'one dead letter');
    assert.match((await dlq.list(5))[0]!.reason, /^permission_denied/);
    const replay = await dlq.replay(10);
    assert.equal(replay.replayed, 1);
    assert.equal(replay.spans, 6);
    assert.equal(oap.segments.length, 3);
  });

  it('refuses new spans at the door (RESOURCE_EXHAUSTED) once the OAP is down and Redis is full, and memory stays bounded', async () => {
    const scratch = await redisScratch();
    cleanups.push(() => scratch.cleanup());
    const oap = await StandInOap.start();
    cleanups.push(() => oap.stop());
    await oap.stop();
    // The exporter's "cannot take more" is a valve on the admission ledger, checked where a receiver
    // admits a batch (core/pipeline/observed-consumers.ts); `receive` does what a receiver does.
    const admission = new AdmissionLedger({ maxBytes: 256 * 1024 * 1024, maxSpans: 1_000_000, retryAfterMs: 1000 });
    const s = { ...settings(), admission };
    const exporter = await start({
      endpoint: oap.endpoint, ack: 'after_export', ack_timeout: '2s', assembly: { quiet_period: '20ms' },
      max_batch: 3, sending_queue: { queue_size: 6 },
      retry_on_failure: { initial_interval: '20ms', max_interval: '100ms' },
      redis: { url: scratch.url, key_prefix: scratch.prefix, max_jobs: 2 },
    }, s);
    const acked: ReturnType<typeof traceBatch>[] = [];
    let refusal: { code?: string } | undefined;
    for (let i = 0; i < 20 && refusal === undefined; i++) {
      const batch = traceBatch();
      try {
        admission.admit('test receiver');
        await exporter.consume(batch, ctx);
        acked.push(batch);
      } catch (error) {
        refusal = error as { code?: string };
      }
    }
    assert.ok(refusal, 'a refusal came');
    assert.ok(refusal.code === 'SKB_ERR_OVERLOADED' || refusal.code === 'SKB_ERR_UNAVAILABLE', String(refusal.code));
    assert.equal(acked.length, 2, 'two jobs of 3 segments fit in Redis');
    const held = (await s.metrics.queueSize.get()).values.find((v) => v.labels.queue === 'sending_queue')?.value ?? -1;
    assert.ok(held >= 0 && held <= 6, `segments held in memory: ${held}`);
    // Refused from now on, at once: the sender keeps its spans.
    assert.throws(() => admission.admit('test receiver'), { code: 'SKB_ERR_OVERLOADED' });
    await oap.restart();
    await oap.waitForSegments(acked.length * 3, 10_000);
    const ids = new Set(oap.segments.map((seg) => seg.tracesegmentid));
    assert.ok(ids.size >= acked.length * 3);
  });
});
