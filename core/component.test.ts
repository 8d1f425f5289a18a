import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { once } from './component.ts';

describe('once', () => {
  it('runs the function on the first call only and hands every caller that call\'s promise', async () => {
    const deadlines: AbortSignal[] = [];
    const shutdown = once(async (deadline: AbortSignal) => {
      deadlines.push(deadline);
      return deadlines.length;
    });
    const first = AbortSignal.timeout(1000);
    const a = shutdown(first);
    const b = shutdown(AbortSignal.abort());
    assert.equal(a, b);
    assert.equal(await a, 1);
    assert.deepEqual(deadlines, [first]);
  });
});
