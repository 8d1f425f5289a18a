import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LATEST_PLAUSIBLE_NS, LONGEST_PLAUSIBLE_NS, spanTimeProblem } from './span-times.ts';

const NOW = 1_765_000_000_000_000_000n;

describe('spanTimeProblem', () => {
  it('accepts clock readings, including a skewed host and a long batch job', () => {
    assert.equal(spanTimeProblem(NOW, NOW + 1_000_000n), undefined);
    assert.equal(spanTimeProblem(NOW, NOW), undefined, 'a zero-length span');
    assert.equal(spanTimeProblem(1_000_000_000n, 2_000_000_000n), undefined, 'a host whose clock says 1970');
    assert.equal(spanTimeProblem(NOW, NOW + LONGEST_PLAUSIBLE_NS), undefined, 'exactly 31 days');
  });

  it('refuses times after 2100, an end before the start, and spans of more than 31 days', () => {
    assert.match(spanTimeProblem(LATEST_PLAUSIBLE_NS, LATEST_PLAUSIBLE_NS)!, /start time is after 2100/);
    assert.match(spanTimeProblem(NOW, LATEST_PLAUSIBLE_NS)!, /end time is after 2100/);
    assert.equal(spanTimeProblem(NOW, NOW - 1_000_000_000n), undefined, 'a wall clock stepped back a second mid-span (clamped when built)');
    assert.match(spanTimeProblem(NOW, NOW - 61_000_000_000n)!, /ends more than a minute before it starts/);
    assert.match(spanTimeProblem(0n, NOW)!, /more than 31 days/);
  });
});
