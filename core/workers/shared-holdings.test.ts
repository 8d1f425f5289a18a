import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { AdmissionLedger } from '../admission/admission-ledger.ts';
import { OverloadedError } from '../errors.ts';
import { SharedHoldings } from './shared-holdings.ts';

describe('SharedHoldings', () => {
  it('sums what every thread holds, including one that is really another thread', async () => {
    const init = SharedHoldings.allocate(3);
    const main = new SharedHoldings(init, 0);
    new SharedHoldings(init, 1).publish(1_000, 10);
    // Slot 2 written from a worker thread.
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const a = new BigInt64Array(workerData.buffer, 0, workerData.slots * 2);
       Atomics.store(a, 4, 5000000000n); Atomics.store(a, 5, 7n);`,
      { eval: true, workerData: init },
    );
    await new Promise((resolve) => worker.once('exit', resolve));
    assert.deepEqual(main.total(), { bytes: 5_000_001_000, spans: 17 });
  });

  it('makes the main thread ledger refuse for what the workers hold, and name a closed valve', () => {
    const init = SharedHoldings.allocate(2);
    const limits = { maxBytes: 1_000, maxSpans: 1_000_000, retryAfterMs: 250 };
    const main = new AdmissionLedger(limits, undefined, { holdings: new SharedHoldings(init, 0), valveName: (slot, i) => `valve ${i} of worker ${slot - 1}` });
    const worker = new AdmissionLedger(limits, undefined, { holdings: new SharedHoldings(init, 1), reportLimits: false });
    const account = worker.account('skywalking/trace_buffer');
    account.add(600, 3);
    main.admit('Receiver otlp');
    account.add(600, 3);
    assert.throws(() => main.admit('Receiver otlp'), (e: unknown) => e instanceof OverloadedError && e.retryAfterMs === 250);
    account.release(1_200, 6);
    main.admit('Receiver otlp');
    let closed = false;
    worker.addValve('skywalking/sending_queue', () => closed);
    closed = true;
    worker.publishValves();
    assert.throws(() => main.admit('Receiver otlp'), /valve 0 of worker 0 cannot take more/);
    closed = false;
    worker.publishValves();
    main.admit('Receiver otlp');
  });
});
