import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { threeServiceTrace, type ThreeServiceTrace } from '../../test/support/span-fixtures.ts';
import type { Span } from '../model/span-batch.ts';
import { TraceBuffer, type EvictReason, type HeldTrace, type ReadyReason, type TraceBufferLimits } from './trace-buffer.ts';
import { estimateSpanBytes } from './span-size.ts';

interface Entry {
  span: Span;
}

function setup(limits: Partial<TraceBufferLimits> = {}, onReady?: (buffer: TraceBuffer<Entry>, t: HeldTrace<Entry>) => void) {
  const ready: [string, ReadyReason][] = [];
  const evicted: [string, EvictReason, number][] = [];
  /** Trace id → span ids the owner decided (the trace assembler keeps its flushed-span index here). */
  const decided = new Map<string, Set<string>>();
  const buffer: TraceBuffer<Entry> = new TraceBuffer<Entry>(
    { quietPeriodMs: 100, maxWaitMs: 1_000, maxTraces: 100, maxSpans: 1_000, ...limits },
    {
      onReady: (t, reason) => {
        ready.push([t.traceId, reason]);
        if (onReady) onReady(buffer, t);
        else buffer.remove(t.traceId);
      },
      onEvict: (t, reason) => evicted.push([t.traceId, reason, t.spans.size]),
      decidedSpans: (traceId) => decided.get(traceId),
      sizeOf: (e) => estimateSpanBytes(e.span),
    },
  );
  return { buffer, ready, evicted, decided };
}

const spansOf = (...rs: ThreeServiceTrace['batches'][keyof ThreeServiceTrace['batches']][]) => rs.flatMap((r) => r.scopeSpans.flatMap((ss) => ss.spans));
const addAll = (buffer: TraceBuffer<Entry>, spans: Span[], now: number) => spans.map((span) => buffer.add({ span }, now));

describe('TraceBuffer', () => {
  it('reports a whole trace after the quiet period, and a partial one at max wait', () => {
    const { buffer, ready } = setup();
    const whole = threeServiceTrace();
    const partial = threeServiceTrace();
    addAll(buffer, spansOf(whole.batches.payments, whole.batches.orders, whole.batches.frontend), 0);
    addAll(buffer, spansOf(partial.batches.orders), 0);
    assert.equal(buffer.get(partial.traceId)!.missingParents.size, 1);
    buffer.tick(99);
    assert.deepEqual(ready, []);
    buffer.tick(100);
    assert.deepEqual(ready, [[whole.traceId, 'complete']]);
    buffer.tick(999);
    buffer.tick(1_000);
    assert.deepEqual(ready.at(-1), [partial.traceId, 'timeout']);
    assert.equal(buffer.heldTraces, 0);
    assert.equal(buffer.heldSpans, 0);
    assert.equal(buffer.heldBytes, 0);
  });

  it('does not report a parked trace again until a new span arrives and it is ready again', () => {
    const { buffer, ready } = setup({}, (b, t) => b.park(t));
    const t = threeServiceTrace();
    addAll(buffer, spansOf(t.batches.frontend, t.batches.orders), 0);
    buffer.tick(100);
    buffer.tick(200);
    buffer.tick(5_000);
    assert.equal(ready.length, 1);
    addAll(buffer, spansOf(t.batches.payments), 300);
    buffer.tick(350);
    assert.equal(ready.length, 1, 'not quiet yet');
    buffer.tick(400);
    assert.deepEqual(ready.at(-1), [t.traceId, 'complete']);
  });

  it('skips duplicates, held or decided, and does not wait for parents that were decided', () => {
    const { buffer, decided, ready } = setup();
    const t = threeServiceTrace();
    decided.set(t.traceId, new Set(spansOf(t.batches.frontend).map((s) => s.spanId)));
    assert.deepEqual(addAll(buffer, spansOf(t.batches.frontend), 0), [undefined, undefined]);
    const added = addAll(buffer, spansOf(t.batches.orders, t.batches.orders), 0);
    assert.equal(added.filter((x) => x === undefined).length, 3);
    assert.equal(buffer.get(t.traceId)!.missingParents.size, 0, "orders' parent span was decided earlier");
    buffer.tick(100);
    assert.deepEqual(ready, [[t.traceId, 'complete']]);
  });

  it('takes out an oversized trace first, then the oldest traces while over a bound', () => {
    const { buffer, evicted } = setup({ maxSpansPerTrace: 4, maxTraces: 2 });
    const [a, b, c] = [threeServiceTrace(), threeServiceTrace(), threeServiceTrace()];
    addAll(buffer, spansOf(a.batches.orders), 0);
    addAll(buffer, spansOf(b.batches.frontend, b.batches.orders), 0);
    addAll(buffer, spansOf(c.batches.payments), 0);
    buffer.enforceBounds();
    assert.deepEqual(evicted, [[b.traceId, 'oversized', 5]]);
    addAll(buffer, spansOf(threeServiceTrace().batches.payments), 0);
    buffer.enforceBounds();
    assert.deepEqual(evicted.at(-1), [a.traceId, 'evicted', 3]);
    assert.equal(buffer.heldTraces, 2);
  });

  it('evicts by span count and by estimated bytes', () => {
    const bySpans = setup({ maxSpans: 5 });
    for (let i = 0; i < 3; i++) addAll(bySpans.buffer, spansOf(threeServiceTrace().batches.orders), 0);
    bySpans.buffer.enforceBounds();
    assert.equal(bySpans.evicted.length, 2);
    assert.equal(bySpans.buffer.heldSpans, 3);

    const t = threeServiceTrace();
    const oneTrace = spansOf(t.batches.frontend, t.batches.orders, t.batches.payments).reduce((n, s) => n + estimateSpanBytes(s), 0);
    const byBytes = setup({ maxBytes: oneTrace * 2 });
    for (let i = 0; i < 3; i++) {
      const x = threeServiceTrace();
      addAll(byBytes.buffer, spansOf(x.batches.frontend, x.batches.orders, x.batches.payments), 0);
    }
    byBytes.buffer.enforceBounds();
    assert.equal(byBytes.evicted.length, 1);
    assert.ok(byBytes.buffer.heldBytes <= oneTrace * 2);
  });
});

describe('estimateSpanBytes', () => {
  it('grows with attributes, events and links', () => {
    const t = threeServiceTrace();
    const s = spansOf(t.batches.frontend)[0]!;
    const base = estimateSpanBytes(s);
    assert.ok(base > 420);
    const more = { ...s, attributes: { ...s.attributes, 'extra.key': 'x'.repeat(1000) } };
    assert.ok(estimateSpanBytes(more) >= base + 1000);
  });
});
