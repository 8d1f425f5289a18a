import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { ComponentSettings } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { OverloadedError, UnavailableError } from '../../core/errors.ts';
import { SpanKind, type Span, type SpanBatch } from '../../core/model/span-batch.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { batchOf, hexId, resourceSpans, span } from '../../test/support/span-fixtures.ts';
import { batchConfigSchema } from './config.ts';
import { batchProcessorFactory } from './factory.ts';
import type { BatchProcessor } from './processor.ts';

const CTX: ConsumeContext = { receiver: 'otlp', transport: 'grpc' };

/** A next stage whose answers the test controls: each call waits until released or refused. */
class ScriptedNext implements TraceConsumer {
  readonly mutatesData = false;
  readonly calls: { batch: SpanBatch; ctx: ConsumeContext; resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** When set, calls settle at once this way instead of waiting. */
  auto: 'accept' | undefined = 'accept';

  consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    return new Promise((resolve, reject) => {
      this.calls.push({ batch, ctx, resolve, reject });
      if (this.auto === 'accept') resolve();
    });
  }

  /** Trace ids per exported batch, in span order. */
  traceIdsPerCall(): string[][] {
    return this.calls.map((c) => [...new Set(spansOf(c.batch).map((s) => s.traceId))]);
  }
}

function spansOf(batch: SpanBatch): Span[] {
  return batch.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

function settings(): ComponentSettings {
  return { id: 'batch', kind: 'processor', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

function create(input: Record<string, unknown>, next: TraceConsumer, s = settings()): BatchProcessor {
  return batchProcessorFactory.create(s, batchConfigSchema.parse(input), next) as BatchProcessor;
}

/** One trace of `n` spans in `service`, optionally with a large attribute per span. */
function trace(n: number, opts: { service?: string; traceId?: string; pad?: number } = {}): SpanBatch {
  const traceId = opts.traceId ?? hexId(16);
  const spans = Array.from({ length: n }, (_, i) =>
    span({ traceId, spanId: hexId(8), name: `op-${i}`, kind: i === 0 ? SpanKind.SERVER : SpanKind.INTERNAL, attributes: opts.pad ? { pad: 'x'.repeat(opts.pad) } : {} }),
  );
  return batchOf(resourceSpans(opts.service ?? 'svc', spans));
}

/** Lets settled promises run their callbacks. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function counter(s: ComponentSettings, name: 'batchFlushes' | 'droppedSpans', label: string, value: string): Promise<number> {
  const { values } = await s.metrics[name].get();
  return values.filter((v) => (v.labels as Record<string, string>)[label] === value).reduce((a, v) => a + v.value, 0);
}

describe('batch processor', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  describe('triggers', () => {
    it('sends once send_batch_size spans are held', async () => {
      const next = new ScriptedNext();
      const s = settings();
      const batch = create({ send_batch_size: 4, wait_for_result: false }, next, s);
      for (let i = 0; i < 3; i++) await batch.consume(trace(1), CTX);
      assert.equal(next.calls.length, 0);
      await batch.consume(trace(1), CTX);
      assert.equal(next.calls.length, 1);
      assert.equal(spansOf(next.calls[0]!.batch).length, 4);
      assert.equal(await counter(s, 'batchFlushes', 'reason', 'size'), 1);
    });

    it('sends what it holds when the timeout passes, counted from the first span', async () => {
      const next = new ScriptedNext();
      const s = settings();
      const batch = create({ send_batch_size: 100, timeout: '200ms', wait_for_result: false }, next, s);
      await batch.consume(trace(2), CTX);
      mock.timers.tick(150);
      await batch.consume(trace(1), CTX); // does not restart the clock
      mock.timers.tick(49);
      assert.equal(next.calls.length, 0);
      mock.timers.tick(1);
      assert.equal(next.calls.length, 1);
      assert.equal(spansOf(next.calls[0]!.batch).length, 3);
      assert.equal(await counter(s, 'batchFlushes', 'reason', 'timeout'), 1);
      // The next batch gets a fresh clock.
      await batch.consume(trace(1), CTX);
      mock.timers.tick(199);
      assert.equal(next.calls.length, 1);
      mock.timers.tick(1);
      assert.equal(next.calls.length, 2);
    });

    it('with timeout 0ms sends what each call brought at once', async () => {
      const next = new ScriptedNext();
      const batch = create({ timeout: '0ms' }, next);
      await batch.consume(batchOf(...trace(2).resourceSpans, ...trace(3).resourceSpans), CTX);
      assert.equal(next.calls.length, 1);
      assert.equal(spansOf(next.calls[0]!.batch).length, 5);
    });

    it('sends before a trace would push the estimated bytes over send_batch_max_bytes', async () => {
      const next = new ScriptedNext();
      const s = settings();
      const batch = create({ send_batch_size: 1000, send_batch_max_bytes: '2KiB', wait_for_result: false }, next, s);
      // Each trace is one span with a 450-byte attribute (~640 bytes encoded): three fit in 2 KiB, the fourth does not.
      for (let i = 0; i < 4; i++) await batch.consume(trace(1, { pad: 450 }), CTX);
      assert.equal(next.calls.length, 1);
      assert.equal(spansOf(next.calls[0]!.batch).length, 3);
      assert.equal(await counter(s, 'batchFlushes', 'reason', 'bytes'), 1);
      const { values } = await s.metrics.batchSizeBytes.get();
      const sum = values.find((v) => v.metricName === 'skybridge_batch_size_bytes_sum')!.value;
      assert.ok(sum <= 2048 && sum > 1800, `the batch sent was estimated at ${sum} bytes`);
    });

    it('sends a single trace larger than send_batch_max_bytes alone, whole', async () => {
      const next = new ScriptedNext();
      const batch = create({ send_batch_size: 1000, send_batch_max_bytes: '1KiB', wait_for_result: false }, next);
      await batch.consume(trace(1), CTX);
      await batch.consume(trace(5, { pad: 400 }), CTX);
      assert.deepEqual(next.calls.map((c) => spansOf(c.batch).length), [1, 5]);
    });
  });

  describe('trace boundaries', () => {
    it('cuts a call at send_batch_max_size only between traces; a trace above the cap goes alone', async () => {
      const next = new ScriptedNext();
      const batch = create({ send_batch_size: 5, send_batch_max_size: 5, wait_for_result: false }, next);
      const a = trace(3);
      const b = trace(3);
      const c = trace(7);
      await batch.consume(batchOf(...a.resourceSpans, ...b.resourceSpans, ...c.resourceSpans), CTX);
      const ids = (x: SpanBatch) => spansOf(x)[0]!.traceId;
      assert.deepEqual(next.traceIdsPerCall(), [[ids(a)], [ids(b)], [ids(c)]]);
      assert.deepEqual(next.calls.map((call) => spansOf(call.batch).length), [3, 3, 7]);
    });

    it('keeps a trace spread over several services in one call together, each under its own resource', async () => {
      const next = new ScriptedNext();
      const batch = create({ send_batch_size: 4, send_batch_max_size: 4, wait_for_result: false }, next);
      const traceId = hexId(16);
      const fe = trace(2, { traceId, service: 'frontend' });
      const orders = trace(2, { traceId, service: 'orders' });
      const other = trace(1);
      await batch.consume(batchOf(...other.resourceSpans, ...fe.resourceSpans, ...orders.resourceSpans), CTX);
      // other (1) + the 4-span trace would be 5 > 4: other leaves first, the trace leaves whole.
      assert.equal(next.calls.length, 2);
      const second = next.calls[1]!.batch;
      assert.deepEqual(second.resourceSpans.map((rs) => rs.resource.attributes['service.name']), ['frontend', 'orders']);
      assert.ok(spansOf(second).every((s) => s.traceId === traceId));
    });

    it('joins later spans of a trace to the group already waiting', async () => {
      const next = new ScriptedNext();
      const batch = create({ send_batch_size: 100, wait_for_result: false }, next);
      const traceId = hexId(16);
      await batch.consume(trace(2, { traceId }), CTX);
      await batch.consume(trace(1), CTX);
      await batch.consume(trace(2, { traceId }), CTX);
      mock.timers.tick(200);
      assert.equal(next.calls.length, 1);
      assert.deepEqual(spansOf(next.calls[0]!.batch).map((s) => s.traceId === traceId), [true, true, true, true, false]);
    });

    it('never mixes whole-trace batches with ordinary ones, and keeps the flag on its batch', async () => {
      const next = new ScriptedNext();
      const batch = create({ wait_for_result: false }, next);
      await batch.consume(trace(2), { ...CTX, wholeTraces: true });
      await batch.consume(trace(3), CTX);
      await batch.consume(trace(1), { ...CTX, wholeTraces: true });
      mock.timers.tick(200);
      assert.equal(next.calls.length, 2);
      const whole = next.calls.find((c) => c.ctx.wholeTraces === true)!;
      const ordinary = next.calls.find((c) => c.ctx.wholeTraces !== true)!;
      assert.equal(spansOf(whole.batch).length, 3);
      assert.equal(spansOf(ordinary.batch).length, 3);
      assert.equal(ordinary.ctx.receiver, 'otlp');
    });

    it('gives each exported batch its own copy of the resource attributes', async () => {
      const next = new ScriptedNext();
      const batch = create({ send_batch_size: 2, send_batch_max_size: 2, wait_for_result: false }, next);
      const shared = resourceSpans('svc', [
        span({ traceId: hexId(16), spanId: hexId(8), name: 'a', kind: SpanKind.SERVER }),
        span({ traceId: hexId(16), spanId: hexId(8), name: 'b', kind: SpanKind.SERVER }),
        span({ traceId: hexId(16), spanId: hexId(8), name: 'c', kind: SpanKind.SERVER }),
      ]);
      await batch.consume(batchOf(shared), CTX);
      mock.timers.tick(200);
      assert.equal(next.calls.length, 2);
      next.calls[0]!.batch.resourceSpans[0]!.resource.attributes['seen'] = true;
      assert.equal(next.calls[1]!.batch.resourceSpans[0]!.resource.attributes['seen'], undefined);
    });
  });

  describe('wait_for_result', () => {
    it('answers a caller only once the batch holding its spans was accepted', async () => {
      const next = new ScriptedNext();
      next.auto = undefined;
      const batch = create({ send_batch_size: 3 }, next);
      let done = 0;
      const first = batch.consume(trace(1), CTX).then(() => done++);
      const second = batch.consume(trace(2), CTX).then(() => done++);
      await settle();
      assert.equal(next.calls.length, 1, 'three spans reached send_batch_size');
      assert.equal(done, 0, 'nobody is answered before the downstream accepted');
      next.calls[0]!.resolve();
      await Promise.all([first, second]);
      assert.equal(done, 2);
    });

    it('hands the downstream refusal to every caller in the batch', async () => {
      const next = new ScriptedNext();
      next.auto = undefined;
      const batch = create({ send_batch_size: 2 }, next);
      const first = batch.consume(trace(1), CTX);
      const second = batch.consume(trace(1), CTX);
      await settle();
      const refusal = new OverloadedError('exporter queue full', 2500);
      next.calls[0]!.reject(refusal);
      await assert.rejects(first, (e) => e === refusal);
      await assert.rejects(second, (e) => e === refusal);
    });

    it('turns a non-skybridge failure downstream into a retryable UnavailableError', async () => {
      const next = new ScriptedNext();
      next.auto = undefined;
      const batch = create({ send_batch_size: 1 }, next);
      const call = batch.consume(trace(1), CTX);
      await settle();
      next.calls[0]!.reject(new Error('socket hang up'));
      await assert.rejects(call, (e) => e instanceof UnavailableError && e.retryable);
    });

    it('rejects a caller whose spans went into two batches when either is refused', async () => {
      const next = new ScriptedNext();
      next.auto = undefined;
      const batch = create({ send_batch_size: 2, send_batch_max_size: 2 }, next);
      const call = batch.consume(batchOf(...trace(2).resourceSpans, ...trace(2).resourceSpans), CTX);
      await settle();
      assert.equal(next.calls.length, 2);
      next.calls[0]!.resolve();
      next.calls[1]!.reject(new OverloadedError('full'));
      await assert.rejects(call, OverloadedError);
    });

    it('without wait_for_result answers on buffering and counts a later refusal as a drop', async () => {
      const next = new ScriptedNext();
      next.auto = undefined;
      const s = settings();
      const batch = create({ send_batch_size: 2, wait_for_result: false }, next, s);
      await batch.consume(trace(2), CTX); // resolves although nothing was accepted yet
      next.calls[0]!.reject(new OverloadedError('full'));
      await settle();
      assert.equal(await counter(s, 'droppedSpans', 'reason', 'refused_downstream'), 2);
    });

    it('refuses with OverloadedError once max_pending_spans are held, and accepts again when they leave', async () => {
      const next = new ScriptedNext();
      next.auto = undefined;
      const batch = create({ send_batch_size: 4, max_pending_spans: 4, wait_for_result: false }, next);
      await batch.consume(trace(3), CTX);
      await assert.rejects(batch.consume(trace(2), CTX), (e) => e instanceof OverloadedError && e.httpStatus === 429);
      await batch.consume(trace(1), CTX); // exactly fills it: sent, but still held until accepted
      await assert.rejects(batch.consume(trace(1), CTX), OverloadedError);
      next.calls[0]!.resolve();
      await settle();
      await batch.consume(trace(1), CTX);
    });
  });

  describe('shutdown', () => {
    it('sends what it holds with reason shutdown, then refuses new spans', async () => {
      const next = new ScriptedNext();
      const s = settings();
      const batch = create({ send_batch_size: 100 }, next, s);
      const call = batch.consume(trace(3), CTX);
      await batch.shutdown(AbortSignal.timeout(1000));
      await call;
      assert.equal(next.calls.length, 1);
      assert.equal(await counter(s, 'batchFlushes', 'reason', 'shutdown'), 1);
      await assert.rejects(batch.consume(trace(1), CTX), UnavailableError);
      await batch.shutdown(AbortSignal.timeout(1000)); // idempotent
      assert.equal(next.calls.length, 1);
    });

    it('gives up at the deadline: waiting callers are told to resend', async () => {
      const next = new ScriptedNext();
      next.auto = undefined;
      const batch = create({ send_batch_size: 100 }, next);
      const call = batch.consume(trace(2), CTX);
      const deadline = new AbortController();
      const stopped = batch.shutdown(deadline.signal);
      await settle();
      deadline.abort();
      await stopped;
      await assert.rejects(call, UnavailableError);
    });

    it('counts spans still in flight at the deadline as shutdown_timeout drops without wait_for_result', async () => {
      const next = new ScriptedNext();
      next.auto = undefined;
      const s = settings();
      const batch = create({ send_batch_size: 100, wait_for_result: false }, next, s);
      await batch.consume(trace(2), CTX);
      const deadline = new AbortController();
      deadline.abort();
      await batch.shutdown(deadline.signal);
      assert.equal(await counter(s, 'droppedSpans', 'reason', 'shutdown_timeout'), 2);
    });
  });
});

describe('batch config', () => {
  it('has the documented defaults', () => {
    const c = batchConfigSchema.parse({});
    assert.deepEqual(c, {
      send_batch_size: 512,
      send_batch_max_size: 0,
      send_batch_max_bytes: 4 * 1024 * 1024,
      timeout: 200,
      wait_for_result: true,
      max_pending_spans: 65_536,
    });
  });

  it('rejects send_batch_max_size below send_batch_size, naming the key', () => {
    const r = batchConfigSchema.safeParse({ send_batch_size: 512, send_batch_max_size: 100 });
    assert.equal(r.success, false);
    const issue = r.error!.issues[0]!;
    assert.deepEqual(issue.path, ['send_batch_max_size']);
    assert.match(issue.message, /send_batch_max_size \(100\) is below send_batch_size \(512\)/);
  });

  it('rejects unknown keys', () => {
    assert.equal(batchConfigSchema.safeParse({ send_batch_sise: 5 }).success, false);
  });
});
