// `abandon` must reach every stage that holds spans, through whatever the runtime wraps around them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TraceConsumer } from '../consumer.ts';
import { Metrics } from '../telemetry/metrics.ts';
import { Fanout } from './fanout.ts';
import { observeProcessorInput, observeProcessorOutput, observeReceiverOutput } from './observed-consumers.ts';

function holder(log: string[], name: string): TraceConsumer {
  return { mutatesData: false, consume: async () => {}, abandon: (ids) => log.push(`${name}:${[...ids].join(',')}`) };
}

describe('abandon forwarding', () => {
  it('passes through the observing wrappers and fans out to every branch that holds spans', () => {
    const log: string[] = [];
    const metrics = new Metrics();
    const stateless: TraceConsumer = { mutatesData: false, consume: async () => {} };
    const exporters = new Fanout([holder(log, 'skywalking'), stateless, holder(log, 'debug')]);
    const head = observeProcessorInput('batch', 'traces', observeProcessorOutput('batch', 'traces', exporters, metrics), metrics);
    const receiverNext = observeReceiverOutput('kafka', new Fanout([head, holder(log, 'other_pipeline')]), metrics);
    receiverNext.abandon!(new Set(['t1', 't2']));
    assert.deepEqual(log, ['skywalking:t1,t2', 'debug:t1,t2', 'other_pipeline:t1,t2']);
  });

  it('is absent on a wrapper whose stage cannot abandon', () => {
    const stateless: TraceConsumer = { mutatesData: false, consume: async () => {} };
    assert.equal(observeReceiverOutput('otlp', stateless, new Metrics()).abandon, undefined);
  });
});
