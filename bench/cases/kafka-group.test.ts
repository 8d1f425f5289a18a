import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assignmentFromLog, isCompleteAssignment, waitForSettledGroup, type GroupMember } from './kafka-group.ts';

/** Log lines as the kafka receiver writes them (pino JSON at info; the crash line at error). */
const joined = (partitions: number[]) => JSON.stringify({ level: 30, msg: 'Joined the Kafka consumer group.', partitions, abandonedMessages: 0 });
const crashed = JSON.stringify({ level: 50, msg: 'Kafka consumer crashed on a non-retriable error; starting a new one.', restart: false });
const other = '  kafka: Kafka topic "otlp_spans" at 127.0.0.1:9092 (group bench, commits after the pipeline finished each message)';

describe('assignmentFromLog', () => {
  it('is the latest join\'s partitions', () => {
    assert.deepEqual(assignmentFromLog([other, joined([0, 1, 2, 3, 4, 5]), joined([1, 3, 5]), ''].join('\n')), [1, 3, 5]);
  });

  it('is empty before any join, and after a crash until the replacement consumer joins', () => {
    assert.deepEqual(assignmentFromLog(other), []);
    assert.deepEqual(assignmentFromLog([joined([0, 2, 4]), crashed].join('\n')), []);
    // The receiver logs an empty join when it replaces a crashed consumer.
    assert.deepEqual(assignmentFromLog([joined([0, 2, 4]), crashed, joined([])].join('\n')), []);
    assert.deepEqual(assignmentFromLog([joined([0, 2, 4]), crashed, joined([]), joined([1, 3, 5])].join('\n')), [1, 3, 5]);
  });
});

describe('isCompleteAssignment', () => {
  it('needs every member owning some partition and every partition owned once', () => {
    assert.equal(isCompleteAssignment([[1, 3, 5], [0, 2, 4]], 6), true);
    assert.equal(isCompleteAssignment([[0, 1, 2, 3, 4, 5], []], 6), false, 'one gateway idle');
    assert.equal(isCompleteAssignment([[1, 3, 5], [0, 2]], 6), false, 'partition 4 unowned');
    assert.equal(isCompleteAssignment([[1, 3, 5], [0, 2, 3]], 6), false, 'partition 3 owned twice (members of different generations)');
    assert.equal(isCompleteAssignment([[1, 3, 5], [0, 2, 6]], 6), false, 'no such partition');
  });
});

describe('waitForSettledGroup', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'kafka-group-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const member = (name: string, joins: () => number): GroupMember => ({ name, logFile: join(dir, `${name}.log`), joins: async () => joins(), checkAlive() {} });

  it('returns once a complete assignment held still for holdMs', async () => {
    const a = member('a1', () => 1);
    const b = member('b1', () => 1);
    writeFileSync(a.logFile, `${joined([1, 3, 5])}\n`);
    writeFileSync(b.logFile, `${joined([0, 2, 4])}\n`);
    const settled = await waitForSettledGroup([a, b], 6, { timeoutMs: 5_000, holdMs: 300 });
    assert.deepEqual(settled.assignments, { a1: [1, 3, 5], b1: [0, 2, 4] });
    assert.ok(settled.settledAfterMs >= 300);
  });

  it('waits out a member that lost its SyncGroup and rejoins', async () => {
    let joinsB = 0;
    const a = member('a2', () => 2);
    const b = member('b2', () => joinsB);
    writeFileSync(a.logFile, `${joined([0, 1, 2, 3, 4, 5])}\n${joined([1, 3, 5])}\n`);
    writeFileSync(b.logFile, `${crashed}\n${joined([])}\n`);
    const later = setTimeout(() => {
      joinsB = 1;
      appendFileSync(b.logFile, `${joined([0, 2, 4])}\n`);
    }, 500);
    const settled = await waitForSettledGroup([a, b], 6, { timeoutMs: 5_000, holdMs: 300 });
    clearTimeout(later);
    assert.deepEqual(settled.assignments, { a2: [1, 3, 5], b2: [0, 2, 4] });
    assert.ok(settled.settledAfterMs >= 500);
  });

  it('throws, naming what it saw, when the group does not settle in time', async () => {
    const a = member('a3', () => 1);
    const b = member('b3', () => 0);
    writeFileSync(a.logFile, `${joined([0, 1, 2, 3, 4, 5])}\n`);
    writeFileSync(b.logFile, `${other}\n`);
    await assert.rejects(waitForSettledGroup([a, b], 6, { timeoutMs: 600, holdMs: 100 }), /did not settle.*a3 \[0,1,2,3,4,5\], b3 \[\]/);
  });
});
