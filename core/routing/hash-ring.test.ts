import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { HashRing, traceKey } from './hash-ring.ts';

const traceIds = Array.from({ length: 30_000 }, () => randomBytes(16).toString('hex'));
const owners = (ring: HashRing) => new Map(traceIds.map((t) => [t, ring.ownerOf(traceKey(t))!]));

describe('HashRing', () => {
  it('gives every gateway about its share of traces', () => {
    const ring = new HashRing(['10.0.0.1:4317', '10.0.0.2:4317', '10.0.0.3:4317']);
    const counts = new Map<string, number>();
    for (const owner of owners(ring).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    assert.equal(counts.size, 3);
    for (const [gateway, n] of counts) assert.ok(Math.abs(n / traceIds.length - 1 / 3) < 0.06, `${gateway}: ${n} of ${traceIds.length}`);
  });

  it('is the same on every agent: order and duplicates of the list do not matter', () => {
    const a = owners(new HashRing(['b:1', 'a:1', 'c:1']));
    const b = owners(new HashRing(['c:1', 'a:1', 'b:1', 'a:1']));
    assert.deepEqual([...a], [...b]);
    assert.ok(new HashRing(['a:1', 'b:1']).sameAs(['b:1', 'a:1', 'b:1']));
  });

  it('moves only the traces of a gateway that leaves, and about 1/n when one joins', () => {
    const three = owners(new HashRing(['a:1', 'b:1', 'c:1']));
    const two = owners(new HashRing(['a:1', 'b:1']));
    for (const [t, owner] of three) if (owner !== 'c:1') assert.equal(two.get(t), owner, 'a trace of a remaining gateway stays');
    const four = owners(new HashRing(['a:1', 'b:1', 'c:1', 'd:1']));
    let moved = 0;
    for (const [t, owner] of three) {
      if (four.get(t) !== owner) {
        moved++;
        assert.equal(four.get(t), 'd:1', 'a trace only moves to the new gateway');
      }
    }
    assert.ok(Math.abs(moved / traceIds.length - 0.25) < 0.06, `moved ${moved}`);
  });

  it('has no owner when empty', () => {
    assert.equal(new HashRing([]).ownerOf(123), undefined);
  });
});
