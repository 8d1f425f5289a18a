import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tracePriority } from '../../processors/tail_sampling/budget.ts';
import { WindowHub } from './window-hub.ts';

const id = (n: number) => n.toString(16).padStart(32, '0');

describe('WindowHub', () => {
  it('keeps the best N − Σ reserved of all workers once every worker closed the window', () => {
    const answers: { worker: number; id: number; kept: string[] }[] = [];
    const hub = new WindowHub(2, (worker, msgId, kept) => answers.push({ worker, id: msgId, kept }));
    const a = [id(90), id(50), id(10)];
    const b = [id(80), id(70)];
    hub.report(0, { type: 'windows', id: 1, processor: 'tail_sampling', perWindow: 4, through: 7, windows: [{ index: 7, reserved: 1, kept: a }] });
    assert.equal(answers.length, 0, 'waits for worker 1');
    hub.report(1, { type: 'windows', id: 9, processor: 'tail_sampling', perWindow: 4, through: 7, windows: [{ index: 7, reserved: 0, kept: b }] });
    // 4 slots − 1 reserved = 3: the three highest priorities of a ∪ b.
    const best = [...a, ...b].sort((x, y) => (tracePriority(x) > tracePriority(y) ? -1 : 1)).slice(0, 3);
    assert.deepEqual(answers.find((x) => x.worker === 0)?.kept.sort(), a.filter((t) => best.includes(t)).sort());
    assert.deepEqual(answers.find((x) => x.worker === 1)?.kept.sort(), b.filter((t) => best.includes(t)).sort());
    assert.equal(answers.find((x) => x.worker === 1)?.id, 9);
  });

  it('does not wait for a worker that has nothing in the window but reported its progress, or is gone', () => {
    const answers: string[][] = [];
    const hub = new WindowHub(3, (_w, _id, kept) => answers.push(kept));
    hub.report(1, { type: 'windows', id: 2, processor: 'p', perWindow: 1, through: 3, windows: [] });
    hub.report(0, { type: 'windows', id: 1, processor: 'p', perWindow: 1, through: 3, windows: [{ index: 3, reserved: 0, kept: [id(5)] }] });
    assert.equal(answers.length, 0, 'worker 2 has not closed window 3 yet');
    hub.gone(2);
    assert.deepEqual(answers, [[id(5)]]);
  });
});
