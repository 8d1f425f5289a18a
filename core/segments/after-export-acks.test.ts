import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExportFailedError, UnavailableError } from '../errors.ts';
import { AfterExportAcks } from './after-export-acks.ts';
import { track } from '../../test/support/promise-state.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('AfterExportAcks', () => {
  it('resolves a batch only once the next flush of each of its traces is delivered', async () => {
    const acks = new AfterExportAcks('skywalking', 10_000);
    const held = new Set(['t1', 't2']);
    const ack = track(acks.settle(acks.begin(['t1', 't2']), (t) => held.has(t)));
    const r1 = acks.flushed('t1', 2);
    r1.done();
    r1.done();
    await tick();
    assert.equal(ack.state, 'pending');
    const r2 = acks.flushed('t2', 1);
    await tick();
    assert.equal(ack.state, 'pending');
    r2.done();
    await tick();
    assert.equal(ack.state, 'resolved');
    assert.equal(acks.waiting, 0);
    assert.equal(acks.unsettledFlushes, 0);
  });

  it('counts flushes that happen while the batch is being added', async () => {
    const acks = new AfterExportAcks('skywalking', 10_000);
    const pending = acks.begin(['t1']);
    const receipt = acks.flushed('t1', 1); // whole-trace batch: built during the add
    const ack = track(acks.settle(pending, () => false));
    await tick();
    assert.equal(ack.state, 'pending');
    receipt.done();
    await tick();
    assert.equal(ack.state, 'resolved');
  });

  it('makes a resent batch of duplicates wait for the earlier flush still in flight, and resolves at once when nothing is', async () => {
    const acks = new AfterExportAcks('skywalking', 10_000);
    const first = track(acks.settle(acks.begin(['t1']), () => true));
    const receipt = acks.flushed('t1', 1);
    // The sender timed out and resent: the assembler skips every span as a duplicate.
    const resent = track(acks.settle(acks.begin(['t1']), () => false));
    await tick();
    assert.deepEqual([first.state, resent.state], ['pending', 'pending']);
    receipt.done();
    await tick();
    assert.deepEqual([first.state, resent.state], ['resolved', 'resolved']);
    const late = track(acks.settle(acks.begin(['t1']), () => false));
    await tick();
    assert.equal(late.state, 'resolved');
  });

  it('rejects with the error of a lost segment, and with a retryable error after the timeout', async () => {
    const acks = new AfterExportAcks('skywalking', 50);
    const lost = track(acks.settle(acks.begin(['t1']), () => true));
    const receipt = acks.flushed('t1', 2);
    receipt.done();
    receipt.lost(new ExportFailedError('PERMISSION_DENIED'));
    await tick();
    assert.equal(lost.state, 'rejected: SKB_ERR_EXPORT_FAILED');

    const slow = track(acks.settle(acks.begin(['t2']), () => true));
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(slow.state, 'rejected: SKB_ERR_UNAVAILABLE');
    assert.equal(acks.waiting, 0);
    // The flush that comes later finds no one waiting and leaves nothing behind.
    acks.flushed('t2', 1).done();
    assert.equal(acks.unsettledFlushes, 0);
  });

  it('rejects whatever still waits when the exporter stops', async () => {
    const acks = new AfterExportAcks('skywalking', 10_000);
    const ack = track(acks.settle(acks.begin(['t1']), () => true));
    acks.abandonAll(new UnavailableError('stopped'));
    await tick();
    assert.equal(ack.state, 'rejected: SKB_ERR_UNAVAILABLE');
  });

  it('rejects, retryably, the batches waiting for the next flush of an abandoned trace, and only those', async () => {
    const acks = new AfterExportAcks('skywalking', 10_000);
    const abandoned = track(acks.settle(acks.begin(['t1']), () => true));
    const other = track(acks.settle(acks.begin(['t2']), () => true));
    // A batch of t3 whose flush is already being delivered waits for that delivery, abandoned or not.
    const receipt = acks.flushed('t3', 1);
    const delivering = track(acks.settle(acks.begin(['t3']), () => false));
    acks.abandonTraces(new Set(['t1', 't3']), new UnavailableError('abandoned'));
    await tick();
    assert.deepEqual([abandoned.state, other.state, delivering.state], ['rejected: SKB_ERR_UNAVAILABLE', 'pending', 'pending']);
    receipt.done();
    acks.flushed('t2', 1).done();
    await tick();
    assert.deepEqual([other.state, delivering.state], ['resolved', 'resolved']);
    assert.equal(acks.waiting, 0);
  });
});
