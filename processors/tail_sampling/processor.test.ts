import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ComponentSettings } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { InvalidInputError, OverloadedError, UnavailableError } from '../../core/errors.ts';
import type { SpanBatch } from '../../core/model/span-batch.ts';
import { encodeTracestateValue, otelSpanIdFromSkyWalking } from '../../core/propagation/skywalking-continuation.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { tracePriority, WINDOW_MS } from './budget.ts';
import { tailSamplingConfigSchema } from './config.ts';
import { TailSamplingProcessor } from './processor.ts';
import { checkoutTrace, seededIds, spanCount, traceIdsIn, wholeBatch } from './testdata/traces.ts';
import { track } from '../../test/support/promise-state.ts';

/** A window-aligned instant in 2023: window W0 starts here. */
const W0 = Math.ceil(1_700_000_000_000 / WINDOW_MS) * WINDOW_MS;

class Sink implements TraceConsumer {
  readonly mutatesData = false;
  readonly batches: { batch: SpanBatch; ctx: ConsumeContext }[] = [];
  refuse: Error | undefined;
  async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    if (this.refuse) throw this.refuse;
    this.batches.push({ batch, ctx });
  }
  /** Trace ids handed on as whole (decided) traces. */
  kept(): Set<string> {
    const ids = new Set<string>();
    for (const { batch, ctx } of this.batches) if (ctx.wholeTraces) for (const id of traceIdsIn(batch)) ids.add(id);
    return ids;
  }
  spans(filter: (ctx: ConsumeContext) => boolean = () => true): number {
    return this.batches.filter((b) => filter(b.ctx)).reduce((n, b) => n + spanCount(b.batch), 0);
  }
}

const ctx: ConsumeContext = { receiver: 'otlp', transport: 'grpc' };

function setup(config: Record<string, unknown>, startMs = W0) {
  const clock = { now: startMs };
  const metrics = new Metrics();
  const settings: ComponentSettings = { id: 'tail_sampling', kind: 'processor', logger: createLogger({ level: 'silent' }), metrics };
  const sink = new Sink();
  const processor = new TailSamplingProcessor(settings, tailSamplingConfigSchema.parse(config), sink, { clock: () => clock.now });
  /** Moves the fake clock to `ms`, ticking every 100 ms on the way as the timer would. */
  const advanceTo = (ms: number) => {
    while (clock.now < ms) {
      clock.now = Math.min(ms, clock.now + 100);
      processor.tick();
    }
  };
  const counter = async (metric: keyof Metrics, labels: Record<string, string> = {}) => {
    const m = await (metrics[metric] as { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> }).get();
    return m.values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)).reduce((a, v) => a + v.value, 0);
  };
  return { processor, sink, clock, advanceTo, counter, metrics };
}

/** Lets the release pump's promise chain run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('tail_sampling budget', () => {
  it('keeps exactly N traces per window, the N with the highest trace-id randomness, under a supply of 5×N', async () => {
    const N = 4;
    const { processor, sink, advanceTo, counter, metrics } = setup({ sample_n_per_3_secs: N, decision_wait: '2s', quiet_period: '200ms' });
    const nextId = seededIds(1);
    const byWindow: string[][] = [[], [], [], []];
    // 20 traces per window, starting every 150 ms, each delivered 100 ms after it started.
    const arrivals: { at: number; batch: SpanBatch }[] = [];
    for (let w = 0; w < 4; w++) {
      for (let i = 0; i < 5 * N; i++) {
        const startMs = W0 + w * WINDOW_MS + i * 150;
        const t = checkoutTrace({ traceId: nextId(), startMs });
        byWindow[w]!.push(t.traceId);
        arrivals.push({ at: startMs + 100, batch: wholeBatch(t) });
      }
    }
    for (const { at, batch } of arrivals) {
      advanceTo(at);
      await processor.consume(batch, ctx);
    }
    advanceTo(W0 + 4 * WINDOW_MS + 2_000 + 100);
    await settle();

    const kept = sink.kept();
    for (const ids of byWindow) {
      const expected = [...ids].sort((a, b) => (tracePriority(a) < tracePriority(b) ? 1 : -1)).slice(0, N);
      assert.deepEqual(ids.filter((id) => kept.has(id)).sort(), expected.sort());
    }
    assert.equal(kept.size, 4 * N);
    assert.equal(processor.heldTraces, 0);
    assert.equal(await counter('samplingTraces', { decision: 'kept', policy: 'sample_n_per_3_secs' }), 4 * N);
    assert.equal(await counter('samplingTraces', { decision: 'dropped', policy: 'sample_n_per_3_secs' }), 4 * 4 * N);
    assert.equal(await counter('droppedSpans', { reason: 'sampled_out', intentional: 'true' }), 4 * 4 * N * 6);
    const summary = await metrics.samplingWindowKept.get();
    const count = summary.values.find((v) => v.metricName?.endsWith('_count'))?.value;
    const sum = summary.values.find((v) => v.metricName?.endsWith('_sum'))?.value;
    assert.deepEqual({ windows: count, kept: sum }, { windows: 4, kept: 4 * N });
  });

  it('keeps every error trace, even past N, and they count against their window', async () => {
    const N = 3;
    const { processor, sink, advanceTo } = setup({ sample_n_per_3_secs: N, decision_wait: '1s', quiet_period: '100ms', policies: [{ name: 'errors', type: 'error' }] });
    const nextId = seededIds(2);
    const errorsW0: string[] = [];
    const errorsW1: string[] = [];
    const normalW1: string[] = [];
    for (let i = 0; i < 20; i++) {
      // Window 0: 6 errors among 20 traces. Window 1: 1 error among 20.
      const e0 = i % 3 === 0 && errorsW0.length < 6;
      const t0 = checkoutTrace({ traceId: nextId(), startMs: W0 + i * 100, error: e0 });
      if (e0) errorsW0.push(t0.traceId);
      const e1 = i === 7;
      const t1 = checkoutTrace({ traceId: nextId(), startMs: W0 + WINDOW_MS + i * 100, error: e1 });
      (e1 ? errorsW1 : normalW1).push(t1.traceId);
      await processor.consume(wholeBatch(t0), ctx);
      await processor.consume(wholeBatch(t1), ctx);
    }
    advanceTo(W0 + 1_000);
    await settle();
    // Errors pass as soon as they are ready, without waiting for their window to close.
    for (const id of [...errorsW0, ...errorsW1]) assert.ok(sink.kept().has(id), `error trace ${id} kept at once`);
    advanceTo(W0 + 2 * WINDOW_MS + 1_000 + 100);
    await settle();
    const kept = sink.kept();
    assert.equal(errorsW0.length, 6);
    assert.equal(kept.size, 6 + 1 + (N - 1), 'window 0: the 6 errors only; window 1: 1 error + 2 others');
    const expectedW1 = [...normalW1].sort((a, b) => (tracePriority(a) < tracePriority(b) ? 1 : -1)).slice(0, N - 1);
    for (const id of expectedW1) assert.ok(kept.has(id));
  });

  it('two instances fed the same traces in different orders, batches and timings keep the same set', async () => {
    const N = 5;
    const config = {
      sample_n_per_3_secs: N,
      decision_wait: '3s',
      quiet_period: '300ms',
      policies: [
        { name: 'errors', type: 'error' },
        { name: 'health', type: 'drop', drop: { endpoint: '*/healthz' } },
      ],
    };
    const nextId = seededIds(3);
    const traces = [];
    for (let w = 0; w < 3; w++) {
      for (let i = 0; i < 30; i++) {
        const startMs = W0 + w * WINDOW_MS + i * 97;
        traces.push(checkoutTrace({ traceId: nextId(), startMs, error: i % 11 === 5, route: i % 7 === 3 ? '/healthz' : undefined }));
      }
    }
    // A: in start order, one batch per trace, 50 ms after start.
    const a = setup(config);
    for (const t of traces) {
      const startMs = Number(t.batches.frontend.scopeSpans[0]!.spans[1]!.startTimeUnixNano / 1_000_000n);
      a.advanceTo(startMs + 50);
      await a.processor.consume(wholeBatch(t), ctx);
    }
    a.advanceTo(W0 + 3 * WINDOW_MS + 3_000 + 500);

    // B: shuffled, each trace split per service, children before parents, up to 2.5 s late.
    const b = setup(config);
    const random = seededIds(99);
    const deliveries = traces.flatMap((t) => {
      const startMs = Number(t.batches.frontend.scopeSpans[0]!.spans[1]!.startTimeUnixNano / 1_000_000n);
      const delay = (n: number) => parseInt(random().slice(0, 6), 16) % n;
      const base = startMs + 200 + delay(2_300);
      return [
        { at: base, batch: { resourceSpans: [t.batches.payments] } },
        { at: base + delay(200), batch: { resourceSpans: [t.batches.orders] } },
        { at: base + 200 + delay(100), batch: { resourceSpans: [t.batches.frontend] } },
      ];
    });
    deliveries.sort((x, y) => x.at - y.at);
    for (const d of deliveries) {
      b.advanceTo(d.at);
      await b.processor.consume(d.batch, ctx);
    }
    b.advanceTo(W0 + 3 * WINDOW_MS + 3_000 + 500);
    await settle();

    const keptA = [...a.sink.kept()].sort();
    const keptB = [...b.sink.kept()].sort();
    assert.deepEqual(keptB, keptA);
    const errors = traces.filter((_, i) => i % 30 % 11 === 5 && i % 30 % 7 !== 3).length;
    assert.ok(keptA.length >= 3 * N && keptA.length <= 3 * N + errors, `kept ${keptA.length}`);
    assert.equal(a.processor.heldTraces + b.processor.heldTraces, 0);
  });

  it('with sample_n_per_3_secs 0 keeps every trace no drop policy matched, as soon as it is ready', async () => {
    const { processor, sink, advanceTo, counter } = setup({ quiet_period: '100ms', policies: [{ name: 'health', type: 'drop', drop: { endpoint: 'GET:/healthz' } }] });
    const ok = checkoutTrace({ traceId: 'a'.repeat(32), startMs: W0 });
    const health = checkoutTrace({ traceId: 'b'.repeat(32), startMs: W0, route: '/healthz' });
    await processor.consume(wholeBatch(ok), ctx);
    await processor.consume(wholeBatch(health), ctx);
    advanceTo(W0 + 200);
    await settle();
    assert.deepEqual([...sink.kept()], [ok.traceId]);
    assert.equal(await counter('samplingTraces', { policy: 'health', decision: 'dropped' }), 1);
    assert.equal(await counter('samplingPolicyMatches', { policy: 'health' }), 1);
  });
});

describe('tail_sampling readiness', () => {
  it('decides a whole trace after the quiet period, and one missing a parent at decision_wait', async () => {
    const { processor, sink, advanceTo } = setup({ decision_wait: '5s', quiet_period: '500ms' });
    const whole = checkoutTrace({ traceId: '1'.repeat(32), startMs: W0 });
    const partial = checkoutTrace({ traceId: '2'.repeat(32), startMs: W0 });
    await processor.consume(wholeBatch(whole), ctx);
    await processor.consume({ resourceSpans: [partial.batches.orders, partial.batches.payments] }, ctx);
    advanceTo(W0 + 600);
    await settle();
    assert.deepEqual([...sink.kept()], [whole.traceId]);
    advanceTo(W0 + 4_900);
    await settle();
    assert.equal(sink.kept().size, 1, 'the root is still missing');
    advanceTo(W0 + 5_000);
    await settle();
    assert.deepEqual([...sink.kept()].sort(), [whole.traceId, partial.traceId].sort());
  });

  it('treats a span continuing a SkyWalking agent trace as having its parent', async () => {
    const { processor, sink, advanceTo } = setup({ quiet_period: '100ms' });
    const t = checkoutTrace({ traceId: '3'.repeat(32), startMs: W0 });
    const parent = { sampled: true, traceId: 'sw-trace', parentSegmentId: 'seg1', parentSpanId: 2, parentService: 'gateway', parentServiceInstance: 'gw-1', parentEndpoint: '/x', addressUsedAtClient: 'frontend:3000' };
    const root = t.batches.frontend.scopeSpans[0]!.spans.find((s) => s.spanId === t.ids.feServer)!;
    root.parentSpanId = otelSpanIdFromSkyWalking('seg1', 2);
    root.traceState = `sw8=${encodeTracestateValue(parent)}`;
    await processor.consume(wholeBatch(t), ctx);
    advanceTo(W0 + 200);
    await settle();
    assert.deepEqual([...sink.kept()], [t.traceId]);
  });
});

describe('tail_sampling policies in the processor', () => {
  it('lets a drop policy win over an error', async () => {
    const { processor, sink, advanceTo } = setup({
      quiet_period: '100ms',
      policies: [{ name: 'errors', type: 'error' }, { name: 'synthetic', type: 'drop', drop: { attributes: { 'http.route': '/probe' } } }],
    });
    const t = checkoutTrace({ traceId: '4'.repeat(32), startMs: W0, error: true, route: '/probe' });
    await processor.consume(wholeBatch(t), ctx);
    advanceTo(W0 + 200);
    await settle();
    assert.equal(sink.kept().size, 0);
  });

  it('honours an upstream W3C sampled flag or sw8 sample flag only when told to', async () => {
    const make = (id: string) => {
      const t = checkoutTrace({ traceId: id.repeat(32), startMs: W0 });
      const root = t.batches.frontend.scopeSpans[0]!.spans.find((s) => s.spanId === t.ids.feServer)!;
      root.parentSpanId = 'abcdefabcdefabcd'; // an upstream caller that reports elsewhere
      root.flags = 0x301;
      return t;
    };
    for (const [honour, expectKept] of [['none', 0], ['w3c', 1], ['sw8', 0], ['both', 1]] as const) {
      const { processor, sink, advanceTo } = setup({ sample_n_per_3_secs: 1, decision_wait: '300ms', quiet_period: '100ms', honour_sampled_flag: honour });
      // The budget's one slot goes to an ordinary trace with the highest randomness.
      await processor.consume(wholeBatch(checkoutTrace({ traceId: 'f'.repeat(32), startMs: W0 })), ctx);
      await processor.consume(wholeBatch(make('5')), ctx);
      advanceTo(W0 + 400); // its parent is upstream, never here: ready at decision_wait
      await settle();
      assert.equal(sink.kept().has('5'.repeat(32)) ? 1 : 0, expectKept, `honour_sampled_flag ${honour}`);
    }
  });
});

describe('tail_sampling late spans', () => {
  it('passes late spans of a kept trace on as an ordinary batch, and counts those of a dropped one', async () => {
    const { processor, sink, advanceTo, counter } = setup({ quiet_period: '100ms', policies: [{ name: 'health', type: 'drop', drop: { endpoint: '*/healthz' } }] });
    const kept = checkoutTrace({ traceId: '6'.repeat(32), startMs: W0 });
    const dropped = checkoutTrace({ traceId: '7'.repeat(32), startMs: W0, route: '/healthz' });
    await processor.consume({ resourceSpans: [kept.batches.frontend, kept.batches.orders, dropped.batches.frontend, dropped.batches.orders] }, ctx);
    advanceTo(W0 + 200);
    await settle();
    assert.deepEqual([...sink.kept()], [kept.traceId]);
    assert.equal(sink.spans((c) => c.wholeTraces === true), 5);

    await processor.consume({ resourceSpans: [kept.batches.payments, dropped.batches.payments] }, ctx);
    const late = sink.batches.at(-1)!;
    assert.deepEqual(late.ctx, ctx, 'not marked whole: the exporter waits for its quiet period and refs the parent');
    assert.deepEqual([...traceIdsIn(late.batch)], [kept.traceId]);
    assert.equal(processor.heldTraces, 0, 'late spans follow the decision, they are not buffered again');
    assert.equal(await counter('samplingLateSpans', { decision: 'kept' }), 1);
    assert.equal(await counter('samplingLateSpans', { decision: 'dropped' }), 1);
    assert.equal(await counter('droppedSpans', { reason: 'sampled_out' }), 6);
  });

  it('counts a re-sent span of a held trace as a duplicate', async () => {
    const { processor, counter } = setup({});
    const t = checkoutTrace({ traceId: '8'.repeat(32), startMs: W0 });
    await processor.consume({ resourceSpans: [t.batches.orders] }, ctx);
    await processor.consume({ resourceSpans: [t.batches.orders] }, ctx);
    assert.equal(processor.heldSpans, 3);
    assert.equal(await counter('droppedSpans', { reason: 'duplicate' }), 3);
  });
});

describe('tail_sampling bounds', () => {
  it('decides an oversized trace at once; its later spans follow the decision', async () => {
    const { processor, sink, counter } = setup({ sample_n_per_3_secs: 10, max_spans_per_trace: 4, policies: [{ name: 'errors', type: 'error' }] });
    const big = checkoutTrace({ traceId: '9'.repeat(32), startMs: W0, error: true });
    const other = checkoutTrace({ traceId: 'a'.repeat(32), startMs: W0 });
    await processor.consume({ resourceSpans: [big.batches.frontend, big.batches.orders, other.batches.orders] }, ctx);
    await settle();
    assert.deepEqual([...sink.kept()], [big.traceId], 'decided without waiting for quiet period or decision_wait');
    assert.equal(processor.heldTraces, 1, 'the other trace is not starved: it is still waiting normally');
    assert.equal(await counter('samplingEarlyDecisions', { reason: 'oversized', decision: 'kept' }), 1);
    await processor.consume({ resourceSpans: [big.batches.payments] }, ctx);
    assert.equal(await counter('samplingLateSpans', { decision: 'kept' }), 1);
  });

  it('an oversized candidate takes a slot of its window if it would have one, and spends it', async () => {
    const { processor, sink, advanceTo, counter } = setup({ sample_n_per_3_secs: 1, decision_wait: '500ms', quiet_period: '100ms', max_spans_per_trace: 4 });
    const big = checkoutTrace({ traceId: '0'.repeat(31) + '1', startMs: W0 }); // lowest randomness
    const best = checkoutTrace({ traceId: 'f'.repeat(32), startMs: W0 });
    await processor.consume(wholeBatch(best), ctx);
    advanceTo(W0 + 200); // best holds the window's one slot
    await processor.consume(wholeBatch(big), ctx);
    advanceTo(W0 + WINDOW_MS + 600);
    await settle();
    assert.deepEqual([...sink.kept()], [best.traceId]);
    assert.equal(await counter('samplingEarlyDecisions', { reason: 'oversized', decision: 'dropped' }), 1);
  });

  it('evicts the oldest trace past max_traces and decides it: counted, never silent', async () => {
    const { processor, sink, counter } = setup({ max_traces: 2 });
    const ids = ['b', 'c', 'd'].map((c) => c.repeat(32));
    for (const id of ids) await processor.consume({ resourceSpans: [checkoutTrace({ traceId: id, startMs: W0 }).batches.orders] }, ctx);
    await settle();
    assert.equal(processor.heldTraces, 2);
    assert.deepEqual([...sink.kept()], [ids[0]]);
    assert.equal(await counter('samplingEarlyDecisions', { reason: 'evicted' }), 1);
  });

  it('evicts by estimated bytes when max_buffer_bytes is reached', async () => {
    const { processor, counter, metrics } = setup({ max_buffer_bytes: '1MiB' });
    const nextId = seededIds(4);
    for (let i = 0; i < 1_000; i++) await processor.consume(wholeBatch(checkoutTrace({ traceId: nextId(), startMs: W0 })), ctx);
    const evicted = await counter('samplingEarlyDecisions', { reason: 'evicted' });
    assert.ok(evicted > 0 && processor.heldTraces + evicted === 1_000, `evicted ${evicted}, held ${processor.heldTraces}`);
    const bytes = (await metrics.queueSize.get()).values.find((v) => v.labels.queue === 'trace_buffer_bytes')!.value;
    assert.ok(bytes > 0 && bytes <= 1024 * 1024, `held ${bytes} bytes`);
  });
});

describe('tail_sampling backpressure and shutdown', () => {
  it('retries kept traces the next stage refuses, refuses new spans meanwhile, and loses nothing', async () => {
    const { processor, sink, advanceTo } = setup({ quiet_period: '100ms' });
    sink.refuse = new OverloadedError('full', 10);
    const t = checkoutTrace({ traceId: 'c'.repeat(32), startMs: W0 });
    await processor.consume(wholeBatch(t), ctx);
    advanceTo(W0 + 200);
    await settle();
    await assert.rejects(processor.consume(wholeBatch(checkoutTrace({ traceId: 'd'.repeat(32), startMs: W0 })), ctx), OverloadedError);
    sink.refuse = undefined;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual([...sink.kept()], [t.traceId]);
    await processor.consume(wholeBatch(checkoutTrace({ traceId: 'e'.repeat(32), startMs: W0 })), ctx);
  });

  it('decides held traces at shutdown within the budget, hands the kept ones on, then refuses', async () => {
    const { processor, sink } = setup({ sample_n_per_3_secs: 2 });
    const nextId = seededIds(5);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const t = checkoutTrace({ traceId: nextId(), startMs: W0 + i });
      ids.push(t.traceId);
      await processor.consume(wholeBatch(t), ctx);
    }
    await processor.shutdown(AbortSignal.timeout(1_000));
    const expected = ids.sort((a, b) => (tracePriority(a) < tracePriority(b) ? 1 : -1)).slice(0, 2);
    assert.deepEqual([...sink.kept()].sort(), expected.sort());
    await assert.rejects(processor.consume(wholeBatch(checkoutTrace({ traceId: nextId(), startMs: W0 })), ctx), UnavailableError);
    await processor.shutdown(AbortSignal.timeout(1_000)); // idempotent
  });

  it('counts kept traces it could not hand on before the deadline as shutdown_timeout', async () => {
    const { processor, sink, counter } = setup({});
    sink.refuse = new OverloadedError('full', 50);
    await processor.consume(wholeBatch(checkoutTrace({ traceId: 'e'.repeat(32), startMs: W0 })), ctx);
    await processor.shutdown(AbortSignal.timeout(200));
    assert.equal(await counter('droppedSpans', { reason: 'shutdown_timeout' }), 6);
  });
});


/** A next stage that answers each release only when the test says so (an exporter on after_export). */
class GatedSink extends Sink {
  readonly gates: { resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly abandoned: string[][] = [];
  override async consume(batch: SpanBatch, c: ConsumeContext): Promise<void> {
    await super.consume(batch, c);
    await new Promise<void>((resolve, reject) => this.gates.push({ resolve, reject }));
  }
  abandon(traceIds: ReadonlySet<string>): void {
    this.abandoned.push([...traceIds]);
  }
}

describe('tail_sampling ack: after_decision', () => {
  function gated(config: Record<string, unknown>) {
    const clock = { now: W0 };
    const metrics = new Metrics();
    const settings: ComponentSettings = { id: 'tail_sampling', kind: 'processor', logger: createLogger({ level: 'silent' }), metrics };
    const sink = new GatedSink();
    const processor = new TailSamplingProcessor(settings, tailSamplingConfigSchema.parse({ ack: 'after_decision', ...config }), sink, { clock: () => clock.now });
    /** Moves the fake clock on by `ms`, ticking every 100 ms as the timer would. */
    const advance = (ms: number) => {
      const end = clock.now + ms;
      while (clock.now < end) {
        clock.now = Math.min(end, clock.now + 100);
        processor.tick();
      }
    };
    return { processor, sink, advance, metrics };
  }
  const ids = seededIds(7);

  it('validates ack_timeout against decision_wait', () => {
    assert.equal(tailSamplingConfigSchema.parse({}).ack, 'on_buffer');
    assert.throws(() => tailSamplingConfigSchema.parse({ ack: 'after_decision', decision_wait: '30s', ack_timeout: '10s' }), /ack_timeout must be longer than decision_wait/);
  });

  it('answers a kept trace\'s batch once the next stage accepted its release, and a dropped one\'s at the decision', async () => {
    const { processor, sink, advance } = gated({ quiet_period: '200ms', policies: [{ name: 'health', type: 'drop', drop: { endpoint: '*/healthz' } }] });
    const kept = checkoutTrace({ traceId: ids(), startMs: W0 });
    const health = checkoutTrace({ traceId: ids(), startMs: W0, route: '/healthz' });
    const keptAck = track(processor.consume(wholeBatch(kept), ctx));
    const healthAck = track(processor.consume(wholeBatch(health), ctx));
    await settle();
    assert.deepEqual([keptAck.state, healthAck.state], ['pending', 'pending'], 'held, undecided');
    advance(300);
    await settle();
    assert.equal(healthAck.state, 'resolved', 'sampled out: nothing more to wait for');
    assert.equal(keptAck.state, 'pending', 'released, not yet accepted downstream');
    assert.deepEqual(sink.kept(), new Set([kept.traceId]));
    sink.gates.shift()!.resolve();
    await settle();
    assert.equal(keptAck.state, 'resolved');
  });

  it('fails a batch whose kept trace the next stage refused for good', async () => {
    const { processor, sink, advance } = gated({ quiet_period: '200ms' });
    const t = checkoutTrace({ traceId: ids(), startMs: W0 });
    const ack = track(processor.consume(wholeBatch(t), ctx));
    advance(300);
    await settle();
    sink.gates.shift()!.reject(new InvalidInputError('refused'));
    await settle();
    assert.equal(ack.state, 'rejected: SKB_ERR_INPUT_INVALID');
  });

  it('abandons held traces undecided: their batches are refused retryably, nothing is released, the next stage is told', async () => {
    const { processor, sink, advance, metrics } = gated({ quiet_period: '200ms', sample_n_per_3_secs: 10 });
    const taken = checkoutTrace({ traceId: ids(), startMs: W0 });
    const other = checkoutTrace({ traceId: ids(), startMs: W0 });
    const takenAck = track(processor.consume(wholeBatch(taken), ctx));
    const otherAck = track(processor.consume(wholeBatch(other), ctx));
    processor.abandon(new Set([taken.traceId]));
    await settle();
    assert.equal(takenAck.state, 'rejected: SKB_ERR_UNAVAILABLE');
    assert.deepEqual(sink.abandoned, [[taken.traceId]]);
    assert.equal(processor.heldTraces, 1);
    advance(3_000 + 10_000 + 500); // past the window's close and its grace
    await settle();
    assert.deepEqual(sink.kept(), new Set([other.traceId]), 'only the trace not abandoned was decided and kept');
    sink.gates.shift()!.resolve();
    await settle();
    assert.equal(otherAck.state, 'resolved');
    const dropped = (await metrics.droppedSpans.get()).values.find((v) => v.labels.reason === 'abandoned');
    assert.equal(dropped?.value, 6);
  });
});
