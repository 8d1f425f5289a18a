import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateHistory } from './rate-history.ts';

const totals = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('RateHistory', () => {
  it('has no rate until a second sample, then the per-second change', () => {
    const h = new RateHistory({ windowMs: 5_000, keepMs: 30_000 });
    h.add(1_000, totals({ a: 10 }));
    assert.equal(h.rate('a'), null);
    assert.equal(h.windowSeconds(), null);
    h.add(3_000, totals({ a: 30 }));
    assert.equal(h.rate('a'), 10);
    assert.equal(h.windowSeconds(), 2);
  });

  it('measures over the oldest sample inside the window', () => {
    const h = new RateHistory({ windowMs: 5_000, keepMs: 30_000 });
    h.add(0, totals({ a: 0 }));
    h.add(4_000, totals({ a: 400 }));
    h.add(8_000, totals({ a: 480 }));
    h.add(9_000, totals({ a: 490 }));
    // 0 is outside the 5 s window of 9 000; 4 000 is the oldest inside it.
    assert.equal(h.rate('a'), 90 / 5);
    assert.equal(h.windowSeconds(), 5);
  });

  it('falls back to the previous sample when polled less often than the window', () => {
    const h = new RateHistory({ windowMs: 5_000, keepMs: 30_000 });
    h.add(0, totals({ a: 0 }));
    h.add(20_000, totals({ a: 200 }));
    assert.equal(h.rate('a'), 10);
  });

  it('takes a counter first seen as counted from 0, and a reset one as counted from 0 again', () => {
    const h = new RateHistory({ windowMs: 5_000, keepMs: 30_000 });
    h.add(0, totals({ a: 500 }));
    h.add(2_000, totals({ a: 20, b: 8 }));
    assert.equal(h.rate('a'), 10);
    assert.equal(h.rate('b'), 4);
  });

  it('forgets samples older than keepMs but keeps the newest two', () => {
    const h = new RateHistory({ windowMs: 1_000, keepMs: 2_000 });
    for (let t = 0; t <= 100_000; t += 500) h.add(t, totals({ a: t }));
    assert.equal(h.rate('a'), 1000);
    h.add(500_000, totals({ a: 100_000 }));
    // Everything older than keepMs went, except the sample before the newest.
    assert.equal(h.windowSeconds(), 400);
  });

  it('gives no rate for two samples at the same instant', () => {
    const h = new RateHistory({ windowMs: 5_000, keepMs: 30_000 });
    h.add(1_000, totals({ a: 1 }));
    h.add(1_000, totals({ a: 2 }));
    assert.equal(h.rate('a'), null);
  });
});
