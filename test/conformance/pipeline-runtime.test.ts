import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineExporter, defineProcessor, defineReceiver, type Exporter, type Processor, type Receiver } from '../../core/component.ts';
import { loadAndValidate, type Factories } from '../../core/collector.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { OverloadedError } from '../../core/errors.ts';
import type { SpanBatch } from '../../core/model/span-batch.ts';
import { Service } from '../../core/pipeline/service.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { batchOf, threeServiceTrace } from '../support/span-fixtures.ts';

const events: string[] = [];

class FakeReceiver implements Receiver {
  constructor(readonly id: string, readonly next: TraceConsumer) {}
  async start() { events.push(`start ${this.id}`); }
  async shutdown() { events.push(`stop ${this.id}`); }
  push(batch: SpanBatch) { return this.next.consume(batch, { receiver: this.id, transport: 'fake' }); }
}
class FakeProcessor implements Processor {
  readonly mutatesData = true;
  constructor(readonly id: string, readonly next: TraceConsumer) {}
  async start() { events.push(`start ${this.id}`); }
  async shutdown() { events.push(`stop ${this.id}`); }
  consume(batch: SpanBatch, ctx: ConsumeContext) {
    for (const rs of batch.resourceSpans) rs.resource.attributes['seen.by'] = this.id;
    return this.next.consume(batch, ctx);
  }
}
class FakeExporter implements Exporter {
  readonly mutatesData = false;
  readonly received: SpanBatch[] = [];
  constructor(readonly id: string, readonly reject: boolean) {}
  async start() { events.push(`start ${this.id}`); }
  async shutdown() { events.push(`stop ${this.id}`); }
  async consume(batch: SpanBatch) {
    if (this.reject) throw new OverloadedError('full');
    this.received.push(batch);
  }
}

const factories: Factories = {
  receivers: [defineReceiver({ type: 'fake_in', stability: 'development', description: 'test', configSchema: z.strictObject({}), create: (s, _c, next) => new FakeReceiver(s.id, next) })],
  processors: [defineProcessor({ type: 'tag', stability: 'development', description: 'test', configSchema: z.strictObject({}), create: (s, _c, next) => new FakeProcessor(s.id, next) })],
  exporters: [defineExporter({ type: 'fake_out', stability: 'development', description: 'test', configSchema: z.strictObject({ reject: z.boolean().default(false) }), create: (s, c) => new FakeExporter(s.id, c.reject) })],
};

async function build(yaml: string) {
  const { config } = await loadAndValidate({ text: yaml, name: 'test.yaml' }, factories);
  const metrics = new Metrics();
  return { service: new Service(config, { metrics, logger: createLogger({ level: 'silent' }) }), metrics };
}

describe('pipeline runtime', () => {
  it('starts exporters → processors → receivers and shuts down in reverse', async () => {
    events.length = 0;
    const { service } = await build(`
receivers: { fake_in: {} }
processors: { tag: {} }
exporters: { fake_out: {} }
pipelines: { traces: { receivers: [fake_in], processors: [tag], exporters: [fake_out] } }
telemetry: { endpoint: null }
`);
    await service.start();
    await service.shutdown(1000);
    await service.shutdown(1000); // idempotent
    assert.deepEqual(events, ['start fake_out', 'start tag', 'start fake_in', 'stop fake_in', 'stop tag', 'stop fake_out']);
  });

  it('fans in from receivers, fans out to exporters, and shares an exporter across pipelines', async () => {
    const { service, metrics } = await build(`
receivers: { fake_in/a: {}, fake_in/b: {} }
processors: { tag: {} }
exporters: { fake_out/one: {}, fake_out/two: {} }
pipelines:
  traces/main: { receivers: [fake_in/a, fake_in/b], processors: [tag], exporters: [fake_out/one, fake_out/two] }
  traces/raw: { receivers: [fake_in/b], exporters: [fake_out/two] }
telemetry: { endpoint: null }
`);
    await service.start();
    const t = threeServiceTrace();
    await service.component<FakeReceiver>('fake_in/a')!.push(batchOf(t.batches.frontend));
    await service.component<FakeReceiver>('fake_in/b')!.push(batchOf(t.batches.orders));
    const one = service.component<FakeExporter>('fake_out/one')!;
    const two = service.component<FakeExporter>('fake_out/two')!;
    assert.equal(one.received.length, 2);
    assert.equal(two.received.length, 3, 'two gets a from main, b from main and b from raw');
    // The mutating processor worked on a copy: the raw pipeline saw b's batch untouched.
    const untouched = two.received.filter((b) => b.resourceSpans[0]!.resource.attributes['seen.by'] === undefined);
    assert.equal(untouched.length, 1);
    const accepted = await metrics.receiverAcceptedSpans.get();
    assert.equal(accepted.values.reduce((a, v) => a + v.value, 0), 5);
    await service.shutdown(1000);
  });

  it('passes an exporter refusal back to the receiver and counts the refused spans', async () => {
    const { service, metrics } = await build(`
receivers: { fake_in: {} }
exporters: { fake_out/ok: {}, fake_out/full: { reject: true } }
pipelines: { traces: { receivers: [fake_in], exporters: [fake_out/ok, fake_out/full] } }
telemetry: { endpoint: null }
`);
    await service.start();
    const t = threeServiceTrace();
    await assert.rejects(service.component<FakeReceiver>('fake_in')!.push(batchOf(t.batches.orders)), OverloadedError);
    const refused = await metrics.receiverRefusedSpans.get();
    assert.equal(refused.values[0]?.labels.reason, 'SKB_ERR_OVERLOADED');
    assert.equal(refused.values[0]?.value, 3);
    await service.shutdown(1000);
  });
});
