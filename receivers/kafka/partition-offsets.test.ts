import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartitionOffsets } from './partition-offsets.ts';

describe('PartitionOffsets', () => {
  it('commits nothing until the lowest offset finished', () => {
    const o = new PartitionOffsets();
    for (const n of [10, 11, 12]) o.begin(n);
    o.finish(12);
    o.finish(11);
    assert.equal(o.committable(), undefined);
    assert.equal(o.inFlight, 1);
  });

  it('commits one past the highest contiguous finished offset, and only once', () => {
    const o = new PartitionOffsets();
    for (const n of [10, 11, 13, 14]) o.begin(n); // 12 was never handed out (a gap, e.g. compaction)
    o.finish(11);
    o.finish(10);
    assert.equal(o.committable(), 12);
    o.committed(12);
    assert.equal(o.committable(), undefined);
    o.finish(14);
    assert.equal(o.committable(), undefined, 'offset 13 still holds 14 back');
    o.finish(13);
    assert.equal(o.committable(), 15);
  });

  it('rejects offsets handed out of order', () => {
    const o = new PartitionOffsets();
    o.begin(5);
    assert.throws(() => o.begin(5));
    o.finish(5);
    assert.throws(() => o.begin(4));
  });

  it('keeps working over many offsets (compaction of the finished front)', () => {
    const o = new PartitionOffsets();
    for (let i = 0; i < 5000; i++) o.begin(i);
    for (let i = 4999; i >= 1; i--) o.finish(i);
    assert.equal(o.committable(), undefined);
    o.finish(0);
    assert.equal(o.committable(), 5000);
    o.begin(6000);
    o.finish(6000);
    assert.equal(o.committable(), 6001);
  });
});
