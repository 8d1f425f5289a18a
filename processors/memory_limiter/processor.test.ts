import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ComponentSettings } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { OverloadedError } from '../../core/errors.ts';
import type { SpanBatch } from '../../core/model/span-batch.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { threeServiceTrace, batchOf } from '../../test/support/span-fixtures.ts';
import { memoryLimiterConfigSchema } from './config.ts';
import { createMemoryLimiterFactory } from './factory.ts';
import { resolveLimits } from './limits.ts';
import { availableMemory } from './memory-source.ts';
import { MemoryState, type MemoryLimiterDeps, type MemoryLimiterProcessor } from './processor.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CTX: ConsumeContext = { receiver: 'otlp', transport: 'http' };

/** Memory the test sets by hand; counts how often the limiter looked. */
class FakeMemory {
  usedBytes = 0;
  reads = 0;
  constructor(readonly totalBytes = 8 * GiB) {}
  used = (): number => {
    this.reads++;
    return this.usedBytes;
  };
  total = (): number => this.totalBytes;
}

class CountingNext implements TraceConsumer {
  readonly mutatesData = false;
  batches = 0;
  async consume(): Promise<void> {
    this.batches++;
  }
}

function settings(): ComponentSettings {
  return { id: 'memory_limiter', kind: 'processor', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

function create(input: Record<string, unknown>, deps: MemoryLimiterDeps, next: TraceConsumer = new CountingNext(), s = settings()): MemoryLimiterProcessor {
  return createMemoryLimiterFactory(deps).create(s, memoryLimiterConfigSchema.parse(input), next) as MemoryLimiterProcessor;
}

function spans(): SpanBatch {
  const t = threeServiceTrace();
  return batchOf(t.batches.orders); // 3 spans
}

async function gaugeValue(s: ComponentSettings, name: 'memoryLimiterState' | 'memoryLimiterUsedBytes'): Promise<number | undefined> {
  return (await s.metrics[name].get()).values[0]?.value;
}

describe('memory_limiter processor', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }));
  afterEach(() => mock.timers.reset());

  it('passes spans through below the soft limit', async () => {
    const memory = new FakeMemory();
    memory.usedBytes = 70 * MiB;
    const next = new CountingNext();
    const limiter = create({ limit: '100MiB' }, { memory, gc: undefined }, next);
    await limiter.start();
    await limiter.consume(spans(), CTX);
    assert.equal(next.batches, 1);
    assert.equal(limiter.state, MemoryState.OK);
    await limiter.shutdown();
  });

  it('refuses with a retryable 429/RESOURCE_EXHAUSTED carrying retry_after once a check finds memory above soft', async () => {
    const memory = new FakeMemory();
    memory.usedBytes = 50 * MiB;
    const next = new CountingNext();
    const s = settings();
    const limiter = create({ limit: '100MiB', spike_limit: '20MiB', check_interval: '100ms', retry_after: '3s' }, { memory, gc: undefined }, next, s);
    await limiter.start();
    memory.usedBytes = 81 * MiB;
    await limiter.consume(spans(), CTX); // the state changes at the next check, not per call
    mock.timers.tick(100);
    await assert.rejects(limiter.consume(spans(), CTX), (e) => {
      assert.ok(e instanceof OverloadedError);
      assert.equal(e.retryable, true);
      assert.equal(e.httpStatus, 429);
      assert.equal(e.grpcStatus, GrpcStatus.RESOURCE_EXHAUSTED);
      assert.equal(e.retryAfterMs, 3000);
      return true;
    });
    assert.equal(next.batches, 1);
    const refused = (await s.metrics.memoryLimiterRefusedSpans.get()).values[0]?.value;
    assert.equal(refused, 3, 'refused spans are counted (not as drops)');
    assert.equal((await s.metrics.droppedSpans.get()).values.length, 0);
    assert.equal(await gaugeValue(s, 'memoryLimiterState'), 1);
    assert.equal(await gaugeValue(s, 'memoryLimiterUsedBytes'), 81 * MiB);
    await limiter.shutdown();
  });

  it('recovers by itself once memory is back below soft', async () => {
    const memory = new FakeMemory();
    memory.usedBytes = 95 * MiB;
    const next = new CountingNext();
    const limiter = create({ limit: '100MiB', check_interval: '1s' }, { memory, gc: undefined }, next);
    await limiter.start();
    await assert.rejects(limiter.consume(spans(), CTX), OverloadedError);
    memory.usedBytes = 79 * MiB;
    mock.timers.tick(1000);
    await limiter.consume(spans(), CTX);
    assert.equal(next.batches, 1);
    assert.equal(limiter.state, MemoryState.OK);
    await limiter.shutdown();
  });

  it('forces a GC above the hard limit and judges the state on the memory measured after it', async () => {
    const memory = new FakeMemory();
    memory.usedBytes = 50 * MiB;
    let collections = 0;
    const gc = (): void => {
      collections++;
      memory.usedBytes = 85 * MiB; // freed some, still above soft (80 MiB)
    };
    const s = settings();
    const limiter = create({ limit: '100MiB', check_interval: '1s' }, { memory, gc }, new CountingNext(), s);
    await limiter.start();
    memory.usedBytes = 120 * MiB;
    mock.timers.tick(1000);
    assert.equal(collections, 1);
    assert.equal(limiter.state, MemoryState.SOFT, 'still refusing: above soft after the GC');
    assert.equal(await gaugeValue(s, 'memoryLimiterUsedBytes'), 85 * MiB);
    await assert.rejects(limiter.consume(spans(), CTX), OverloadedError);
    await limiter.shutdown();
  });

  it('backs off forced GCs that do not help: the gap doubles (checks 0, 2, 6, 14)', async () => {
    const memory = new FakeMemory();
    memory.usedBytes = 150 * MiB;
    const at: number[] = [];
    let checkNo = 0;
    const limiter = create({ limit: '100MiB', check_interval: '1s' }, { memory, gc: () => at.push(checkNo) }, new CountingNext());
    await limiter.start(); // check 0: collects at once
    for (checkNo = 1; checkNo <= 15; checkNo++) mock.timers.tick(1000);
    assert.deepEqual(at, [0, 2, 6, 14]);
    assert.equal(limiter.state, MemoryState.HARD);
    await limiter.shutdown();
  });

  it('keeps refusing above hard without --expose-gc', async () => {
    const memory = new FakeMemory();
    memory.usedBytes = 150 * MiB;
    const limiter = create({ limit: '100MiB' }, { memory, gc: undefined }, new CountingNext());
    await limiter.start();
    assert.equal(limiter.state, MemoryState.HARD);
    await assert.rejects(limiter.consume(spans(), CTX), OverloadedError);
    await limiter.shutdown();
  });

  it('stops measuring after shutdown', async () => {
    const memory = new FakeMemory();
    const limiter = create({ limit: '100MiB', check_interval: '10ms' }, { memory, gc: undefined }, new CountingNext());
    await limiter.start();
    mock.timers.tick(30);
    const reads = memory.reads;
    assert.equal(reads, 4);
    await limiter.shutdown();
    await limiter.shutdown();
    mock.timers.tick(100);
    assert.equal(memory.reads, reads);
  });
});

describe('memory_limiter limits', () => {
  it('takes soft = limit − spike_limit, spike defaulting to 20% of limit', () => {
    assert.deepEqual(resolveLimits(memoryLimiterConfigSchema.parse({ limit: '1GiB' }), () => 0), { hard: GiB, soft: GiB - Math.floor(GiB * 0.2) });
    assert.deepEqual(resolveLimits(memoryLimiterConfigSchema.parse({ limit: '1GiB', spike_limit: '100MiB' }), () => 0), { hard: GiB, soft: GiB - 100 * MiB });
  });

  it('takes percentages of the available memory, 80% when no limit is written', () => {
    const total = () => 10 * GiB;
    assert.deepEqual(resolveLimits(memoryLimiterConfigSchema.parse({ limit_percentage: 50, spike_limit_percentage: 10 }), total), { hard: 5 * GiB, soft: 4 * GiB });
    const byDefault = resolveLimits(memoryLimiterConfigSchema.parse({}), total);
    assert.equal(byDefault.hard, 8 * GiB);
    assert.equal(byDefault.soft, 8 * GiB - Math.floor(8 * GiB * 0.2));
  });

  it('reads the cgroup limit when one is set, and the machine total otherwise', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'skybridge-cgroup-'));
    try {
      const v2 = path.join(dir, 'memory.max');
      await writeFile(v2, '536870912\n');
      assert.equal(availableMemory([v2]), Math.min(512 * MiB, os.totalmem()));
      await writeFile(v2, 'max\n');
      assert.equal(availableMemory([v2]), os.totalmem());
      const v1 = path.join(dir, 'memory.limit_in_bytes');
      await writeFile(v1, '9223372036854771712\n'); // cgroup v1 "unlimited"
      assert.equal(availableMemory([path.join(dir, 'missing'), v1]), os.totalmem());
      assert.equal(availableMemory([path.join(dir, 'missing')]), os.totalmem());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('memory_limiter config', () => {
  const problem = (input: Record<string, unknown>) => {
    const r = memoryLimiterConfigSchema.safeParse(input);
    assert.equal(r.success, false, `${JSON.stringify(input)} should be rejected`);
    return r.error!.issues[0]!;
  };

  it('has the documented defaults', () => {
    const c = memoryLimiterConfigSchema.parse({});
    assert.equal(c.check_interval, 1000);
    assert.equal(c.retry_after, 1000);
    assert.equal(c.limit, undefined);
  });

  it('names the key at fault', () => {
    assert.deepEqual(problem({ limit: '1GiB', limit_percentage: 50 }).path, ['limit_percentage']);
    assert.deepEqual(problem({ limit: '1GiB', spike_limit: '1GiB' }).path, ['spike_limit']);
    assert.deepEqual(problem({ limit_percentage: 50, spike_limit: '100MiB' }).path, ['spike_limit']);
    assert.deepEqual(problem({ limit: '1GiB', spike_limit_percentage: 10 }).path, ['spike_limit_percentage']);
    assert.deepEqual(problem({ limit_percentage: 50, spike_limit_percentage: 60 }).path, ['spike_limit_percentage']);
    assert.deepEqual(problem({ limit: 1024 }).path, ['limit']);
    assert.deepEqual(problem({ limits: '1GiB' }).code, 'unrecognized_keys');
  });
});
