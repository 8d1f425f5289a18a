import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchOf, threeServiceTrace } from '../../test/support/span-fixtures.ts';
import type { ComponentSettings } from '../component.ts';
import { createLogger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { AssembledSegment, InstanceProperties } from './segment-object.ts';
import type { AssemblyConfig } from './segment-exporter.ts';
import { TraceAssembler } from './trace-assembler.ts';

function setup(overrides: Partial<AssemblyConfig> = {}) {
  const metrics = new Metrics();
  const settings: ComponentSettings = { id: 'test', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics };
  const out: AssembledSegment[] = [];
  const instances: InstanceProperties[] = [];
  const assembler = new TraceAssembler(
    settings,
    { quiet_period: 1000, max_wait: 10_000, max_traces: 1000, max_spans: 100_000, max_spans_per_trace: 10_000, max_segment_spans: 300, flushed_index_size: 10_000, ...overrides },
    { onSegments: (s) => out.push(...s), onInstance: (p) => instances.push(p) },
  );
  const dropped = async (reason: string) => {
    const m = await metrics.droppedSpans.get();
    return m.values.filter((v) => v.labels.reason === reason).reduce((a, v) => a + v.value, 0);
  };
  return { assembler, out, instances, metrics, dropped };
}

describe('TraceAssembler', () => {
  it('holds an incomplete trace until its root arrives, then flushes it after the quiet period', () => {
    const { assembler, out } = setup();
    const t = threeServiceTrace();
    assembler.add(batchOf(t.batches.payments));
    assembler.add(batchOf(t.batches.orders));
    assembler.tick(Date.now() + 5_000); // quiet, but the frontend's spans are still missing
    assert.equal(out.length, 0);
    assembler.add(batchOf(t.batches.frontend));
    assembler.tick(Date.now() + 500);
    assert.equal(out.length, 0, 'not yet quiet');
    assembler.tick(Date.now() + 1_001);
    assert.deepEqual(out.map((s) => s.segment.service), ['frontend', 'orders', 'payments']);
    assert.equal(out[1]!.segment.spans[0]!.refs[0]!.parentTraceSegmentId, out[0]!.segment.traceSegmentId);
  });

  it('gives the same bytes for spans split across batches, out of order and delivered twice', async () => {
    const t = threeServiceTrace();
    const once = setup();
    once.assembler.add(batchOf(t.batches.frontend, t.batches.orders, t.batches.payments));
    once.assembler.tick(Date.now() + 2_000);

    const messy = setup();
    messy.assembler.add(batchOf(t.batches.payments, t.batches.orders));
    messy.assembler.add(batchOf(t.batches.payments));
    messy.assembler.add(batchOf(t.batches.frontend, t.batches.orders));
    messy.assembler.tick(Date.now() + 2_000);
    assert.equal(JSON.stringify(messy.out.map((s) => s.segment)), JSON.stringify(once.out.map((s) => s.segment)));
    assert.equal(await messy.dropped('duplicate'), 4);

    // Re-delivery after the flush is recognised through the flushed-span index: no new segments.
    messy.assembler.add(batchOf(t.batches.frontend, t.batches.orders, t.batches.payments));
    messy.assembler.tick(Date.now() + 20_000);
    assert.equal(messy.out.length, 3);
    assert.equal(await messy.dropped('duplicate'), 10);
  });

  it('flushes a trace whose parent never comes after max_wait, and refs late spans through the index', () => {
    const { assembler, out } = setup({ max_wait: 3_000 });
    const t = threeServiceTrace();
    assembler.add(batchOf(t.batches.frontend, t.batches.orders));
    assembler.tick(Date.now() + 1_500);
    assert.equal(out.length, 2);
    // payments' span arrives after its parent trace left the buffer.
    assembler.add(batchOf(t.batches.payments));
    assembler.tick(Date.now() + 1_500);
    assert.equal(out.length, 3);
    const ref = out[2]!.segment.spans[0]!.refs[0]!;
    assert.equal(ref.parentTraceSegmentId, out[1]!.segment.traceSegmentId);
    assert.equal(ref.parentService, 'orders');
  });

  it('flushes the oldest trace early when the buffer is over its bounds', async () => {
    const { assembler, out, metrics } = setup({ max_traces: 2 });
    for (let i = 0; i < 3; i++) {
      const t = threeServiceTrace();
      assembler.add(batchOf(t.batches.frontend));
    }
    assert.equal(assembler.heldTraces, 2);
    assert.equal(out.length, 1);
    const ev = await metrics.assemblerEvents.get();
    assert.equal(ev.values.find((v) => v.labels.event === 'flush_evicted')?.value, 1);
  });

  it('counts span links dropped because they point at the span itself (event self_link)', async () => {
    const { assembler, out, metrics } = setup();
    const t = threeServiceTrace();
    const pay = t.batches.payments.scopeSpans[0]!.spans[0]!;
    pay.links = [{ traceId: t.traceId, spanId: pay.spanId, traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 0 }];
    assembler.add(batchOf(t.batches.frontend, t.batches.orders, t.batches.payments), true);
    const paySeg = out.find((s) => s.segment.service === 'payments')!.segment;
    assert.equal(paySeg.spans[0]!.refs.length, 1);
    const ev = await metrics.assemblerEvents.get();
    assert.equal(ev.values.find((v) => v.labels.event === 'self_link')?.value, 1);
  });

  it('reports each service instance once, with properties from resource attributes', () => {
    const { assembler, instances } = setup();
    const t1 = threeServiceTrace();
    const t2 = threeServiceTrace();
    t1.batches.frontend.resource.attributes['host.name'] = 'node-a';
    t1.batches.frontend.resource.attributes['telemetry.sdk.language'] = 'nodejs';
    assembler.add(batchOf(t1.batches.frontend, t1.batches.orders));
    assembler.add(batchOf(t2.batches.frontend, t2.batches.orders));
    assert.deepEqual(instances.map((i) => i.service), ['frontend', 'orders']);
    assert.deepEqual(instances[0]!.properties, [{ key: 'language', value: 'nodejs' }, { key: 'hostname', value: 'node-a' }]);
  });

  it('flushAll emits partial traces as they are', () => {
    const { assembler, out } = setup();
    const t = threeServiceTrace();
    assembler.add(batchOf(t.batches.orders));
    assembler.flushAll('shutdown');
    assert.equal(out.length, 1);
    assert.equal(assembler.heldSpans, 0);
  });
});

describe('TraceAssembler with whole traces', () => {
  it('builds segments at once when an earlier stage says the traces are whole', () => {
    const { assembler, out } = setup();
    const t = threeServiceTrace();
    assembler.add(batchOf(t.batches.frontend, t.batches.orders, t.batches.payments), true);
    assert.equal(out.length, 3);
    assert.equal(assembler.heldSpans, 0);
  });
});
