import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SpanPlacement } from './segment-builder.ts';
import { FlushedSpanIndex, FlushedTrace } from './flushed-span-index.ts';

function placement(segment: string, spanId: number, extra: Partial<SpanPlacement> = {}): SpanPlacement {
  return {
    traceId: 't1',
    segmentId: segment,
    spanId,
    service: `svc-${segment}`,
    serviceInstance: `inst-${segment}`,
    instanceKey: `svc-${segment}|inst-${segment}`,
    endpoint: `GET:/${segment}`,
    peer: '',
    isExit: false,
    ...extra,
  };
}

/** Placements of one build: two segments, an Exit with a peer, an MQ Entry with a peer. */
function build(): Map<string, SpanPlacement> {
  return new Map([
    ['a0', placement('A', 0)],
    ['a1', placement('A', 1, { peer: 'orders:8080', isExit: true })],
    ['a2', placement('A', 2)],
    ['b0', placement('B', 0, { peer: 'kafka:9092' })],
    ['b1', placement('B', 1)],
  ]);
}

describe('FlushedTrace', () => {
  it('gives back every placement exactly as the builder made it', () => {
    const trace = new FlushedTrace();
    const placements = build();
    assert.equal(trace.add(placements), 5);
    for (const [spanId, p] of placements) assert.deepEqual(trace.get(spanId), p, spanId);
    assert.equal(trace.get('nope'), undefined);
    assert.equal(trace.has('b1'), true);
    assert.equal(trace.has('nope'), false);
  });

  it('keeps an Exit at span number 0 apart from an Entry', () => {
    const trace = new FlushedTrace();
    trace.add(new Map([['x', placement('X', 0, { isExit: true, peer: 'db:5432' })]]));
    assert.deepEqual(trace.get('x'), placement('X', 0, { isExit: true, peer: 'db:5432' }));
  });

  it('looks spans up the same way past the linear-scan size, and takes a later placement of a known id', () => {
    const trace = new FlushedTrace();
    const big = new Map<string, SpanPlacement>();
    for (let i = 0; i < 500; i++) big.set(`s${i}`, placement(`S${Math.floor(i / 300)}`, i % 300));
    assert.equal(trace.add(big), 500);
    assert.deepEqual(trace.get('s0'), big.get('s0'));
    assert.deepEqual(trace.get('s499'), big.get('s499'));
    // A late build: one new span, and one id that was placed before and is placed again.
    const late = new Map([
      ['s7', placement('L', 3)],
      ['s500', placement('L', 0)],
    ]);
    assert.equal(trace.add(late), 1);
    assert.equal(trace.size, 501);
    assert.deepEqual(trace.get('s7'), late.get('s7'));
    assert.deepEqual(trace.get('s500'), late.get('s500'));
    assert.deepEqual(trace.get('s8'), big.get('s8'));
  });
});

describe('FlushedSpanIndex', () => {
  it('merges late builds into their trace and counts spans once', () => {
    const index = new FlushedSpanIndex(100);
    index.add('t1', build());
    index.add('t1', new Map([['c0', placement('C', 0)], ['a0', placement('A', 0)]]));
    assert.equal(index.size, 6);
    assert.equal(index.has('t1', 'c0'), true);
    assert.deepEqual(index.get('t1', 'a1'), placement('A', 1, { peer: 'orders:8080', isExit: true }));
    assert.equal(index.get('t2', 'a1'), undefined);
  });

  it('forgets whole traces, oldest first, past its capacity, but never the trace just added', () => {
    const index = new FlushedSpanIndex(8);
    index.add('old', build());
    index.add('mid', new Map([['m0', placement('M', 0)]]));
    index.add('new', build());
    assert.equal(index.trace('old'), undefined, 'the oldest trace went');
    assert.equal(index.size, 6);
    assert.ok(index.has('mid', 'm0'));
    // A late span of 'mid' makes it the youngest: the next eviction takes 'new' first.
    index.add('mid', new Map([['m1', placement('M', 1)]]));
    index.add('newer', new Map([['n0', placement('N', 0)], ['n1', placement('N', 1)]]));
    assert.equal(index.trace('new'), undefined);
    assert.ok(index.has('mid', 'm1'));
    assert.ok(index.has('newer', 'n1'));
    const huge = new Map<string, SpanPlacement>();
    for (let i = 0; i < 20; i++) huge.set(`h${i}`, placement('H', i));
    index.add('huge', huge);
    assert.equal(index.trace('huge')?.size, 20, 'a trace larger than the capacity stays until the next one');
  });

  it('remembers nothing with capacity 0', () => {
    const index = new FlushedSpanIndex(0);
    index.add('t1', build());
    assert.equal(index.trace('t1'), undefined);
    assert.equal(index.size, 0);
  });
});
