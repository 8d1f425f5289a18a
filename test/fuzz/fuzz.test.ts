/**
 * The fuzzing harness's short run in CI: a fixed seed and a small budget per decoder, so a
 * regression (a crash, a hang, a retryable or 5xx answer to garbage, a stack trace in an answer,
 * a receiver that stops serving) fails the suite. Longer runs: `npm run fuzz -- --cases 5000`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFuzz } from './harness.ts';

describe('fuzzing every decoder (fixed seed, short budget)', () => {
  it('answers every mutation as the sender\'s fault or a success, keeps serving, and keeps its memory', async () => {
    const report = await runFuzz({ cases: 150, seed: 1 });
    const findings = report.targets.flatMap((t) => t.findings.map((f) => `${t.name}: ${f}`));
    assert.deepEqual(findings, []);
    assert.equal(report.targets.length, 12);
    for (const t of report.targets) assert.equal(t.cases, 150, t.name);
    // Some mutations must have been refused, or the mutators are not mutating.
    for (const t of report.targets.filter((r) => !r.name.includes('udp'))) {
      assert.ok(Object.keys(t.answers).some((a) => /^(400|413|415|INVALID_ARGUMENT|RESOURCE_EXHAUSTED)$/.test(a)), `${t.name} refused some: ${JSON.stringify(t.answers)}`);
    }
    assert.ok(report.rssPeakMiB - report.rssBeforeMiB < 400, `RSS grew ${Math.round(report.rssPeakMiB - report.rssBeforeMiB)} MiB`);
  });
});
