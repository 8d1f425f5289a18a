import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tracePriority, WINDOW_MS, WindowBudget } from './budget.ts';

const W0 = 566_666_667; // a window index in 2023
const at = (w: number, ms = 0) => w * WINDOW_MS + ms;
/** Trace ids whose randomness (last 14 hex digits) is `n`. */
const id = (n: number) => `${'f'.repeat(18)}${n.toString(16).padStart(14, '0')}`;

describe('tracePriority', () => {
  it('orders by the rightmost 56 bits, then by the whole id', () => {
    assert.ok(tracePriority('0'.repeat(17) + 'f' + '0'.repeat(14)) < tracePriority('f'.repeat(18) + '0'.repeat(13) + '1'));
    assert.ok(tracePriority('1' + '0'.repeat(31)) < tracePriority('2' + '0'.repeat(31)));
  });
});

describe('WindowBudget', () => {
  it('keeps the N best candidates of a window whatever order they come in, dropping losers at once', () => {
    for (const order of [[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1], [3, 6, 1, 5, 2, 4]]) {
      const budget = new WindowBudget(3, 1_000);
      const droppedNow: string[] = [];
      for (const n of order) {
        const offer = budget.offer(W0, id(n));
        if (!offer.admitted) droppedNow.push(id(n));
        droppedNow.push(...offer.pushedOut);
      }
      assert.deepEqual(droppedNow.sort(), [id(1), id(2), id(3)].sort());
      const [closed] = budget.closeDue(at(W0 + 1, 1_000));
      assert.deepEqual(closed!.kept, [id(6), id(5), id(4)]);
      assert.equal(budget.members, 0);
    }
  });

  it('makes must-keep traces spend slots, pushing out the weakest members', () => {
    const budget = new WindowBudget(2, 0);
    budget.offer(W0, id(5));
    budget.offer(W0, id(9));
    assert.deepEqual(budget.reserve(W0), [id(5)]);
    assert.deepEqual(budget.reserve(W0), [id(9)]);
    assert.deepEqual(budget.reserve(W0), [], 'must-keep traces pass even past N');
    assert.equal(budget.offer(W0, id(100)).admitted, false);
    assert.deepEqual(budget.closeAll(), [{ index: W0, kept: [], reserved: 3 }]);
  });

  it('withdraws a member and tells whether a newcomer would get a slot', () => {
    const budget = new WindowBudget(2, 0);
    budget.offer(W0, id(5));
    budget.offer(W0, id(9));
    assert.equal(budget.wouldAdmit(W0, id(4)), false);
    assert.equal(budget.wouldAdmit(W0, id(6)), true);
    assert.equal(budget.memberWindow(id(5)), W0);
    assert.equal(budget.withdraw(id(5)), W0);
    assert.equal(budget.withdraw(id(5)), undefined);
    assert.equal(budget.wouldAdmit(W0, id(1)), true);
    assert.equal(budget.wouldAdmit(W0 + 1, id(1)), true, 'a window not opened yet has every slot');
  });

  it('assigns windows by start time, moving late traces to the oldest open window and far-future ones to the next', () => {
    const budget = new WindowBudget(1, 2_000);
    const now = at(W0 + 10, 500);
    assert.equal(budget.windowFor(at(W0 + 10, 100), now), W0 + 10);
    assert.equal(budget.windowFor(at(W0 + 9, 2_000), now), W0 + 9, 'window W+9 closes at W+10 + 2 s: still open');
    assert.equal(budget.windowFor(at(W0 + 8, 2_999), now), W0 + 9, 'window W+8 closed at W+9 + 2 s');
    assert.equal(budget.windowFor(at(W0 + 500), now), W0 + 11);
  });

  it('closes windows at their end plus the grace, oldest first, and never reopens a closed one', () => {
    const budget = new WindowBudget(1, 1_000);
    budget.offer(W0 + 1, id(1));
    budget.offer(W0, id(2));
    assert.deepEqual(budget.closeDue(at(W0 + 1, 999)), []);
    assert.deepEqual(budget.closeDue(at(W0 + 1, 1_000)).map((w) => w.index), [W0]);
    assert.deepEqual(budget.closeDue(at(W0 + 2, 1_000)).map((w) => w.kept), [[id(1)]]);
    // The clock steps back: a trace of window W0 must not reopen it.
    assert.equal(budget.windowFor(at(W0, 10), at(W0, 20)), W0 + 2);
  });
});
