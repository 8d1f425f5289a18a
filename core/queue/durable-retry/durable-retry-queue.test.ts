// Durable retry against the local Redis: every test uses its own key prefix and deletes it after.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ComponentSettings } from '../../component.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { Metrics } from '../../telemetry/metrics.ts';
import { redisScratch, type RedisScratch } from '../../../test/support/redis-scratch.ts';
import { redisRetrySchema } from './config.ts';
import { DeadLetterQueue } from './dead-letters.ts';
import { DurableRetryQueue, fullJitterMs, type SendItems, type SendOutcome } from './durable-retry-queue.ts';
import { decodePayload, encodePayload, frameItems, unframeItems } from './payload-codec.ts';

function settings(): ComponentSettings {
  return { id: 'skywalking/test', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function counter(metric: { get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)).reduce((sum, v) => sum + v.value, 0);
}

const TRANSIENT: SendOutcome = { ok: false, permanent: false, reason: 'unavailable', message: 'stand-in outage' };
const DENIED: SendOutcome = { ok: false, permanent: true, reason: 'permission_denied', message: 'Invalid authentication token.' };

/** A send whose answer the test switches; records every batch it was asked to send. */
function switchableSend(initial: SendOutcome | { ok: true } = { ok: true }) {
  const state = { answer: initial as SendOutcome, sent: [] as Buffer[][], attempts: 0 };
  const send: SendItems = async (items) => {
    state.attempts += 1;
    if (state.answer.ok) state.sent.push(items.map((b) => Buffer.from(b)));
    return state.answer;
  };
  return { state, send };
}

function items(n: number, tag = 'seg'): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(`${tag}-${i}-${'x'.repeat(i * 50)}`));
}

describe('durable retry payload', () => {
  it('frames items as protobuf repeated bytes (a SegmentCollection body) and round-trips them compressed', () => {
    const batch = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(300, 7), Buffer.alloc(70_000, 1)];
    const framed = frameItems(batch);
    assert.equal(framed[0], 0x0a);
    assert.deepEqual(unframeItems(framed), batch);
    assert.deepEqual(decodePayload(encodePayload(batch)), batch);
    assert.throws(() => unframeItems(Buffer.from([0x12, 0x01, 0x00])), /Unexpected tag/);
    assert.throws(() => unframeItems(Buffer.from([0x0a, 0x05, 0x00])), /ends inside an item/);
  });

  it('backs off with full jitter under the exponential ceiling', () => {
    const backoff = { initialIntervalMs: 100, maxIntervalMs: 1000 };
    for (let i = 0; i < 200; i++) {
      assert.ok(fullJitterMs(1, backoff) <= 100);
      assert.ok(fullJitterMs(3, backoff) <= 400);
      assert.ok(fullJitterMs(30, backoff) <= 1000);
    }
  });
});

describe('DurableRetryQueue', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(overrides: Record<string, unknown> = {}, send?: SendItems) {
    const scratch: RedisScratch = await redisScratch();
    cleanups.push(() => scratch.cleanup());
    const config = redisRetrySchema.parse({ url: scratch.url, key_prefix: scratch.prefix, ...overrides });
    const s = settings();
    const make = (sendItems: SendItems) => {
      const queue = new DurableRetryQueue(s, { exporterId: s.id, config, backoff: { initialIntervalMs: 20, maxIntervalMs: 100 } }, sendItems);
      cleanups.push(() => queue.shutdown(AbortSignal.timeout(3000)));
      return queue;
    };
    const switchable = switchableSend();
    const queue = make(send ?? switchable.send);
    await queue.start();
    return { scratch, config, settings: s, queue, make, ...switchable };
  }

  it('keeps a failed batch in Redis and delivers it once the destination answers, counting bytes back to zero', async () => {
    const { queue, state, scratch, settings: s } = await setup();
    state.answer = TRANSIENT;
    const batch = items(3);
    assert.equal(await queue.enqueue({ items: batch, spans: 7, firstReceivedAtMs: Date.now() }), 'queued');
    assert.equal(queue.pendingJobs, 1);
    await eventually(() => state.attempts >= 3, 5000, 'three failed attempts');
    state.answer = { ok: true };
    await eventually(() => state.sent.length === 1, 5000, 'delivery');
    assert.deepEqual(state.sent[0], batch);
    await eventually(async () => (await scratch.redis.get(`${scratch.prefix}:${s.id}:skybridge:bytes`)) === '0', 3000, 'the byte counter at 0');
    assert.equal(await counter(s.metrics.durableRetryJobs, { event: 'delivered' }), 1);
    assert.ok((await counter(s.metrics.durableRetryJobs, { event: 'retried' })) >= 3);
  });

  it('dead-letters a permanent refusal at once, and replay delivers it once the cause is fixed', async () => {
    const { queue, state, config, settings: s } = await setup();
    state.answer = DENIED;
    assert.equal(await queue.enqueue({ items: items(2), spans: 4, firstReceivedAtMs: Date.now() }), 'queued');
    await eventually(async () => (await queue.enqueue({ items: [], spans: 0, firstReceivedAtMs: 0 }, { deadLetter: 'probe' })) === 'queued');
    const fixed = switchableSend();
    const dlq = new DeadLetterQueue(s.id, config, fixed.send);
    cleanups.push(() => dlq.close());
    await dlq.open();
    await eventually(async () => (await dlq.count()) === 2, 5000, 'two dead letters');
    const [first] = await dlq.list(10);
    assert.match(first!.reason, /^permission_denied: Invalid authentication token\./);
    assert.equal(first!.spans, 4);
    assert.equal(first!.attempts, 1);
    assert.equal(state.sent.length, 0);
    assert.equal(await counter(s.metrics.deadLetteredSpans, { reason: 'permanent_error' }), 4);

    const replay = await dlq.replay(1);
    assert.deepEqual({ replayed: replay.replayed, spans: replay.spans, remaining: replay.remaining }, { replayed: 1, spans: 4, remaining: 1 });
    assert.equal(fixed.state.sent.length, 1);
    assert.equal(await dlq.purge(10), 1);
    assert.equal(await dlq.count(), 0);
  });

  it('dead-letters a job after max_attempts and after max_age', async () => {
    const { queue, state, send, config, settings: s } = await setup({ max_attempts: 3 });
    state.answer = TRANSIENT;
    await queue.enqueue({ items: items(1), spans: 1, firstReceivedAtMs: Date.now() });
    const dlq = new DeadLetterQueue(s.id, config, send);
    cleanups.push(() => dlq.close());
    await dlq.open();
    await eventually(async () => (await dlq.count()) === 1, 5000, 'the job dead-lettered');
    assert.equal(state.attempts, 3);
    assert.match((await dlq.list(1))[0]!.reason, /^max_attempts: 3 attempts; last unavailable/);

    const aged = await setup({ max_age: '1s' });
    aged.state.answer = TRANSIENT;
    await aged.queue.enqueue({ items: items(1), spans: 2, firstReceivedAtMs: Date.now() }, { delayMs: 1200 });
    const agedDlq = new DeadLetterQueue(aged.settings.id, aged.config, aged.send);
    cleanups.push(() => agedDlq.close());
    await agedDlq.open();
    await eventually(async () => (await agedDlq.count()) === 1, 5000, 'the old job dead-lettered');
    assert.equal(aged.state.attempts, 0);
    assert.match((await agedDlq.list(1))[0]!.reason, /^max_age/);
  });

  it('refuses new jobs past max_jobs or max_queue_bytes, and says so through hasCapacity', async () => {
    const { queue, state, settings: s } = await setup({ max_jobs: 2 });
    state.answer = TRANSIENT;
    const one = { items: items(1), spans: 1, firstReceivedAtMs: Date.now() };
    assert.equal(await queue.enqueue(one, { delayMs: 60_000 }), 'queued');
    assert.equal(queue.hasCapacity(), true);
    assert.equal(await queue.enqueue(one, { delayMs: 60_000 }), 'queued');
    assert.equal(queue.hasCapacity(), false);
    assert.equal(await queue.enqueue(one, { delayMs: 60_000 }), 'full');
    assert.equal(await counter(s.metrics.durableRetryJobs, { event: 'refused_full' }), 1);

    const small = await setup({ max_queue_bytes: '1KiB' });
    small.state.answer = TRANSIENT;
    const big = { items: [randomBytes(2000)], spans: 1, firstReceivedAtMs: Date.now() };
    // An empty queue takes one job of any size, so one oversized batch cannot wedge it.
    assert.equal(await small.queue.enqueue(big, { delayMs: 60_000 }), 'queued');
    assert.equal(small.queue.hasCapacity(), false);
    assert.equal(await small.queue.enqueue(one, { delayMs: 60_000 }), 'full');
  });

  it('resumes jobs an earlier run left in Redis', async () => {
    const { queue, state, make } = await setup();
    state.answer = TRANSIENT;
    await queue.enqueue({ items: items(2, 'left'), spans: 2, firstReceivedAtMs: Date.now() }, { delayMs: 200 });
    await queue.shutdown(AbortSignal.timeout(3000));

    const next = switchableSend();
    const restarted = make(next.send);
    await restarted.start();
    assert.equal(restarted.pendingJobs, 1);
    await eventually(() => next.state.sent.length === 1, 5000, 'the resumed job delivered');
    assert.deepEqual(next.state.sent[0], items(2, 'left'));
  });

  it('answers unavailable at once, without waiting, while Redis cannot be reached', async () => {
    const config = redisRetrySchema.parse({ url: 'redis://127.0.0.1:1', key_prefix: 'skybridge-test-unreachable' });
    const s = settings();
    const queue = new DurableRetryQueue(s, { exporterId: s.id, config, backoff: { initialIntervalMs: 20, maxIntervalMs: 100 }, connectWaitMs: 200 }, async () => ({ ok: true }));
    cleanups.push(() => queue.shutdown(AbortSignal.timeout(2000)));
    await queue.start();
    const started = Date.now();
    assert.equal(await queue.enqueue({ items: items(1), spans: 1, firstReceivedAtMs: Date.now() }), 'unavailable');
    assert.ok(Date.now() - started < 100);
  });
});
