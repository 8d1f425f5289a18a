/**
 * The snapshot model from real metrics: Metrics registries counted as the components count, read
 * back through the Prometheus text /metrics serves (and, for worker threads, through prom-client's
 * AggregatorRegistry, as WorkerPool.metricsText sums them).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry } from 'prom-client';
import { Metrics } from '../metrics.ts';
import { parsePrometheusText } from './prometheus-text.ts';
import { RateHistory } from './rate-history.ts';
import { buildSnapshot, ownedBy } from './status-snapshot.ts';
import type { Topology } from './topology.ts';

const topology: Topology = {
  pipelines: [
    { id: 'traces', receivers: ['otlp'], processors: ['batch'], exporters: ['skywalking', 'debug'] },
    { id: 'traces/other', receivers: ['otlp'], processors: ['batch'], exporters: ['skywalking/two'] },
  ],
  types: {
    receiver: { otlp: 'otlp' },
    processor: { batch: 'batch' },
    exporter: { skywalking: 'skywalking', debug: 'debug', 'skywalking/two': 'skywalking' },
  },
};

async function snapshotAt(at: number, metrics: Metrics, history: RateHistory, workers = 1) {
  const samples = parsePrometheusText(await metrics.registry.metrics());
  return buildSnapshot({ at, samples, topology, workers, history });
}

describe('status snapshot', () => {
  it('gives each component its flows with totals and rates, once per receiver and exporter and per pipeline for processors', async () => {
    const m = new Metrics();
    const history = new RateHistory({ windowMs: 5_000, keepMs: 30_000 });
    m.receiverAcceptedSpans.inc({ component: 'otlp', transport: 'grpc' }, 100);
    m.receiverAcceptedSpans.inc({ component: 'otlp', transport: 'http' }, 50);
    const first = await snapshotAt(10_000, m, history);
    assert.deepEqual(Object.keys(first.components).sort(), [
      'exporter:debug', 'exporter:skywalking', 'exporter:skywalking/two', 'processor:traces/other:batch', 'processor:traces:batch', 'receiver:otlp',
    ]);
    assert.deepEqual(first.components['receiver:otlp']!.flows.in, { total: 150, rate: null });
    assert.equal(first.rateWindowSeconds, null);

    m.receiverAcceptedSpans.inc({ component: 'otlp', transport: 'grpc' }, 300);
    m.processorIncomingSpans.inc({ component: 'batch', pipeline: 'traces' }, 200);
    m.processorIncomingSpans.inc({ component: 'batch', pipeline: 'traces/other' }, 40);
    m.exporterSentSpans.inc({ component: 'skywalking' }, 100);
    m.exporterSentSegments.inc({ component: 'skywalking' }, 50);
    const second = await snapshotAt(12_000, m, history);
    assert.deepEqual(second.components['receiver:otlp']!.flows.in, { total: 450, rate: 150 });
    assert.deepEqual(second.components['processor:traces:batch']!.flows.in, { total: 200, rate: 100 });
    assert.deepEqual(second.components['processor:traces/other:batch']!.flows.in, { total: 40, rate: 20 });
    assert.deepEqual(second.components['exporter:skywalking']!.flows.segments_out, { total: 50, rate: 25 });
    assert.deepEqual(second.totals.received, { total: 450, rate: 150 });
    assert.equal(second.rateWindowSeconds, 2);
  });

  it('splits refusals, drops and failed sends by reason, and tells losses from policy', async () => {
    const m = new Metrics();
    const history = new RateHistory({ windowMs: 5_000, keepMs: 30_000 });
    m.receiverRefusedSpans.inc({ component: 'otlp', transport: 'grpc', reason: 'admission_full' }, 7);
    m.receiverRefusedSpans.inc({ component: 'otlp', transport: 'http', reason: 'admission_full' }, 3);
    m.recordDrop('skywalking', 'export_retries_exhausted', 5);
    m.recordDrop('batch', 'sampled_out', 9, true);
    m.exporterSendFailedSegments.inc({ component: 'skywalking', reason: 'unavailable' }, 2);
    await snapshotAt(0, m, history);
    m.receiverRefusedSpans.inc({ component: 'otlp', transport: 'grpc', reason: 'admission_full' }, 10);
    m.recordDrop('skywalking', 'export_retries_exhausted', 5);
    m.exporterSendFailedSegments.inc({ component: 'skywalking', reason: 'unavailable' }, 2);
    const s = await snapshotAt(1_000, m, history);
    assert.deepEqual(s.components['receiver:otlp']!.refused, [{ reason: 'admission_full', total: 20, rate: 10 }]);
    assert.deepEqual(s.drops.map((d) => [d.component, d.reason, d.rate]), [['skywalking', 'export_retries_exhausted', 5], ['batch', 'sampled_out', 0]]);
    assert.deepEqual(s.components['exporter:skywalking']!.failed, [{ reason: 'unavailable', total: 4, rate: 2 }]);
    assert.deepEqual(s.components['exporter:skywalking']!.dropped.map((d) => [d.reason, d.total, d.intentional]), [['export_retries_exhausted', 10, false]]);
    assert.deepEqual(s.totals.lost, { total: 10, rate: 5 });
    assert.equal(s.totals.intentional.total, 9);
    assert.deepEqual(s.totals.refused, { total: 20, rate: 10 });
  });

  it('credits a shared trace assembler to each exporter it serves, and lets its buffers stand in for their idle ones', async () => {
    const m = new Metrics();
    m.exporterIncomingSpans.inc({ component: 'skywalking+debug' }, 60);
    m.queueSize.set({ component: 'skywalking+debug', queue: 'trace_buffer_spans' }, 12);
    m.queueCapacity.set({ component: 'skywalking+debug', queue: 'trace_buffer_spans' }, 1000);
    m.queueSize.set({ component: 'skywalking', queue: 'trace_buffer_spans' }, 0);
    m.queueCapacity.set({ component: 'skywalking', queue: 'trace_buffer_spans' }, 1000);
    m.queueSize.set({ component: 'skywalking', queue: 'sending_queue' }, 4);
    m.queueCapacity.set({ component: 'skywalking', queue: 'sending_queue' }, 10);
    const s = await snapshotAt(0, m, new RateHistory({ windowMs: 5_000, keepMs: 30_000 }));
    assert.equal(s.components['exporter:skywalking']!.flows.in!.total, 60);
    assert.equal(s.components['exporter:debug']!.flows.in!.total, 60);
    assert.equal(s.components['exporter:skywalking/two']!.flows.in!.total, 0);
    assert.deepEqual(s.components['exporter:skywalking']!.queues.sort((a, b) => a.queue.localeCompare(b.queue)), [
      { queue: 'sending_queue', size: 4, capacity: 10 },
      { queue: 'trace_buffer_spans', size: 12, capacity: 1000 },
    ]);
    assert.deepEqual(s.queues.map((q) => `${q.component} ${q.queue}`).sort(), ['skywalking sending_queue', 'skywalking+debug trace_buffer_spans']);
    assert.ok(ownedBy('skywalking')('skywalking+debug@traces'));
    assert.ok(!ownedBy('skywalking')('skywalking/two'));
  });

  it('shows admission against its bounds, per holder', async () => {
    const m = new Metrics();
    m.admissionLimitBytes.set(1_000_000);
    m.admissionLimitSpans.set(5_000);
    m.admissionHeldBytes.set({ holder: 'a' }, 1_000);
    m.admissionHeldBytes.set({ holder: 'b' }, 3_000);
    m.admissionHeldSpans.set({ holder: 'b' }, 30);
    const s = await snapshotAt(0, m, new RateHistory({ windowMs: 5_000, keepMs: 30_000 }));
    assert.deepEqual(s.admission, {
      heldBytes: 4_000, limitBytes: 1_000_000, heldSpans: 30, limitSpans: 5_000,
      holders: [{ holder: 'b', bytes: 3_000, spans: 30 }, { holder: 'a', bytes: 1_000, spans: 0 }],
    });
  });

  it('keeps one last error per component, with the message as written (quotes, backslashes, newlines)', async () => {
    const m = new Metrics();
    m.recordLastError('skywalking', 'first');
    const message = 'Sending failed: "unavailable" at C:\\oap\nretrying';
    m.recordLastError('skywalking', message);
    const text = await m.registry.metrics();
    assert.equal(text.match(/skybridge_component_last_error_timestamp_seconds\{/g)?.length, 1, 'the earlier message\'s series is gone');
    const s = await snapshotAt(0, m, new RateHistory({ windowMs: 5_000, keepMs: 30_000 }));
    assert.equal(s.components['exporter:skywalking']!.lastError!.message, 'Sending failed: "unavailable" at C:\\oap retrying');
    assert.ok(Math.abs(s.components['exporter:skywalking']!.lastError!.at - Date.now()) < 5_000);
    assert.equal(s.components['exporter:debug']!.lastError, undefined);
  });

  it('sums worker threads: connection states counted per thread, the latest error, every thread\'s instances', async () => {
    const threads = [new Metrics(), new Metrics()];
    threads.forEach((m, i) => {
      m.exporterConnectionState.set({ component: 'skywalking', state: 'ready' }, i === 0 ? 1 : 0);
      m.exporterConnectionState.set({ component: 'skywalking', state: 'transient_failure' }, i === 0 ? 0 : 1);
      m.exporterSentSpans.inc({ component: 'skywalking' }, 10);
      m.watchInstances('skywalking', {
        count: () => 1,
        recent: () => [{ service: 'checkout', instance: `pod-${i}`, lastSeenMs: 1_000_000 + i * 1000 }],
      });
    });
    threads[0]!.recordLastError('skywalking', 'older');
    await new Promise((resolve) => setTimeout(resolve, 20));
    threads[1]!.recordLastError('skywalking', 'newer');
    const summed = AggregatorRegistry.aggregate(await Promise.all(threads.map((m) => m.registry.getMetricsAsJSON())));
    const s = buildSnapshot({
      at: 0, samples: parsePrometheusText(await summed.metrics()), topology, workers: 2, history: new RateHistory({ windowMs: 5_000, keepMs: 30_000 }),
    });
    const e = s.components['exporter:skywalking']!;
    assert.equal(e.flows.spans_out!.total, 20);
    assert.deepEqual(e.connection, { state: 'transient_failure', threads: { ready: 1, transient_failure: 1 } });
    assert.equal(e.lastError!.message, 'newer');
    assert.deepEqual(e.instances, {
      count: 2,
      recent: [{ service: 'checkout', instance: 'pod-1', lastSeen: 1_001_000 }, { service: 'checkout', instance: 'pod-0', lastSeen: 1_000_000 }],
    });
    assert.equal(s.workers, 2);
  });
});
