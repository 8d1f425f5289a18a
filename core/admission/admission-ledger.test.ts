import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '../telemetry/metrics.ts';
import { AdmissionLedger } from './admission-ledger.ts';
import { defaultAdmissionBytes } from './config.ts';

const MiB = 1024 * 1024;

describe('AdmissionLedger', () => {
  it('sums every account and refuses (retryable, with the hint) once bytes or spans reach the bound', () => {
    const ledger = new AdmissionLedger({ maxBytes: 1000, maxSpans: 10, retryAfterMs: 750 });
    const buffer = ledger.account('skywalking/trace_buffer');
    const queue = ledger.account('skywalking/sending_queue');
    buffer.add(600, 3);
    ledger.admit('Receiver otlp');
    queue.add(400, 2);
    assert.equal(ledger.bytes, 1000);
    assert.throws(() => ledger.admit('Receiver otlp'), (error: Error & { code?: string; retryable?: boolean; retryAfterMs?: number; httpStatus?: number }) => {
      assert.equal(error.code, 'SKB_ERR_OVERLOADED');
      assert.equal(error.retryable, true);
      assert.equal(error.retryAfterMs, 750);
      assert.equal(error.httpStatus, 429);
      assert.match(error.message, /^Receiver otlp: skybridge holds/);
      return true;
    });
    // Moving spans from one holder to the next changes nothing; delivery frees room.
    buffer.release(600, 3);
    queue.add(600, 3);
    assert.equal(ledger.full, true);
    queue.release(1000, 5);
    ledger.admit('Receiver otlp');
    assert.deepEqual(ledger.holdings(), { 'skywalking/trace_buffer': { bytes: 0, spans: 0 }, 'skywalking/sending_queue': { bytes: 0, spans: 0 } });

    const many = ledger.account('batch/batch');
    many.add(10, 10);
    assert.throws(() => ledger.admit('Receiver zipkin'), { code: 'SKB_ERR_OVERLOADED' });
  });

  it('refuses while a valve is closed, naming it, whatever the bytes', () => {
    const ledger = new AdmissionLedger({ maxBytes: 1000, maxSpans: 10, retryAfterMs: 1000 });
    let closed = true;
    ledger.addValve('exporter skywalking', () => closed);
    assert.throws(() => ledger.admit('Receiver otlp'), /exporter skywalking cannot take more/);
    closed = false;
    ledger.admit('Receiver otlp');
  });

  it('gives every holder its own account, and shows each in the metrics', async () => {
    const metrics = new Metrics();
    const ledger = new AdmissionLedger({ maxBytes: 100, maxSpans: 10, retryAfterMs: 1000 }, metrics);
    const first = ledger.account('tail_sampling/tail_sampling');
    const second = ledger.account('tail_sampling/tail_sampling');
    assert.notEqual(first.name, second.name);
    first.add(5, 1);
    second.add(7, 2);
    const held = (await metrics.admissionHeldBytes.get()).values.map((v) => [v.labels.holder, v.value]);
    assert.deepEqual(held, [['tail_sampling/tail_sampling', 5], ['tail_sampling/tail_sampling#2', 7]]);
    assert.equal((await metrics.admissionLimitBytes.get()).values[0]!.value, 100);
  });

  it('defaults to an eighth of the heap limit, between 32 MiB and 80 MiB', () => {
    assert.equal(defaultAdmissionBytes(4096 * MiB), 80 * MiB);
    assert.equal(defaultAdmissionBytes(512 * MiB), 64 * MiB);
    assert.equal(defaultAdmissionBytes(128 * MiB), 32 * MiB);
  });
});
