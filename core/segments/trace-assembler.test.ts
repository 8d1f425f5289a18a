import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { batchOf, hexId, resourceSpans, span, threeServiceTrace } from '../../test/support/span-fixtures.ts';
import { SpanKind } from '../model/span-batch.ts';
import { assertOapRules, toDecodedShape } from '../../test/support/oap-rules.ts';
import type { ComponentSettings } from '../component.ts';
import { createLogger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { AssembledSegment, InstanceProperties } from './segment-object.ts';
import type { AssemblyConfig } from './segment-exporter.ts';
import { TraceAssembler } from './trace-assembler.ts';

function setup(overrides: Partial<AssemblyConfig> = {}) {
  const metrics = new Metrics();
  const logLines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const settings: ComponentSettings = { id: 'test', kind: 'exporter', logger: createLogger({ level: 'warn', destination }), metrics };
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
  const event = async (name: string) => (await metrics.assemblerEvents.get()).values.find((v) => v.labels.event === name)?.value ?? 0;
  return { assembler, out, instances, metrics, dropped, event, logLines };
}

const ms = (n: number) => 1_700_000_000_000_000_000n + BigInt(n) * 1_000_000n;

/**
 * frontend CLIENT → two orders instances each reporting a SERVER span under the *same* span id (a
 * retry or fan-out whose servers joined the client's span, B3 `shared`, after the Zipkin receiver
 * split them), each with a child of its own under that id.
 */
function fannedOutTrace() {
  const traceId = hexId(16);
  const feServer = hexId(8);
  const feClient = hexId(8);
  const joined = hexId(8);
  const frontend = resourceSpans('frontend', [
    span({ traceId, spanId: feServer, name: 'GET /checkout', kind: SpanKind.SERVER, startTimeUnixNano: ms(0), endTimeUnixNano: ms(100), attributes: { 'http.request.method': 'GET', 'http.route': '/checkout' } }),
    span({ traceId, spanId: feClient, parentSpanId: feServer, name: 'POST', kind: SpanKind.CLIENT, startTimeUnixNano: ms(1), endTimeUnixNano: ms(90),
      attributes: { 'http.request.method': 'POST', 'url.full': 'http://orders:8080/orders', 'server.address': 'orders', 'server.port': 8080 } }),
  ]);
  const server = (instance: string, start: number, end: number) => resourceSpans('orders', [
    span({ traceId, spanId: joined, parentSpanId: feClient, name: 'POST /orders', kind: SpanKind.SERVER, flags: 0, startTimeUnixNano: ms(start), endTimeUnixNano: ms(end),
      attributes: { 'http.request.method': 'POST', 'http.route': '/orders' } }),
    span({ traceId, spanId: hexId(8), parentSpanId: joined, name: `load on ${instance}`, kind: SpanKind.INTERNAL, flags: 0, startTimeUnixNano: ms(start + 1), endTimeUnixNano: ms(start + 3) }),
  ], { 'service.instance.id': instance });
  return { traceId, feClient, joined, frontend, first: server('orders-a', 2, 40), second: server('orders-b', 45, 85) };
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

describe('TraceAssembler: one span id, several spans (#14 class 3)', () => {
  it('keeps a span that reuses a held span id under a derived id, with its children, in a segment of its own', async () => {
    const { assembler, out, dropped, event } = setup();
    const t = fannedOutTrace();
    assembler.add(batchOf(t.frontend, t.first, t.second));
    assembler.tick(Date.now() + 2_000);
    assertOapRules(out.map((s) => toDecodedShape(s.segment)));
    assert.deepEqual(out.map((s) => `${s.segment.service}@${s.segment.serviceInstance}`), ['frontend@frontend-1', 'orders@orders-a', 'orders@orders-b']);
    const exit = out[0]!.segment.spans.find((sp) => sp.spanType === 1)!;
    for (const seg of out.slice(1)) {
      const entry = seg.segment.spans[0]!;
      assert.equal(entry.spanType, 0, `${seg.segment.serviceInstance}: Entry at span 0`);
      assert.equal(entry.refs.length, 1);
      assert.equal(entry.refs[0]!.parentTraceSegmentId, out[0]!.segment.traceSegmentId);
      assert.equal(entry.refs[0]!.parentSpanId, exit.spanId);
      assert.deepEqual(seg.segment.spans.map((sp) => sp.operationName), ['POST:/orders', `load on ${seg.segment.serviceInstance}`]);
      assert.equal(seg.segment.spans[1]!.parentSpanId, 0);
    }
    assert.notEqual(out[1]!.segment.traceSegmentId, out[2]!.segment.traceSegmentId);
    assert.equal(await event('span_id_reused'), 1);
    assert.equal(await dropped('duplicate'), 0);
  });

  it('still drops a real re-send of either span as a duplicate', async () => {
    const { assembler, out, dropped, event } = setup();
    const t = fannedOutTrace();
    assembler.add(batchOf(t.frontend, t.first, t.second));
    assembler.add(batchOf(t.second, t.first));
    assembler.tick(Date.now() + 2_000);
    assert.equal(out.length, 3);
    assert.equal(await dropped('duplicate'), 4);
    assert.equal(await event('span_id_reused'), 2, 'the re-sent second server span is derived again, then found held');
  });

  it('places the children of a retry to the same instance by time', () => {
    const { assembler, out } = setup();
    const t = fannedOutTrace();
    t.second.resource.attributes['service.instance.id'] = 'orders-a';
    t.second.scopeSpans[0]!.spans[1]!.name = 'load on retry';
    assembler.add(batchOf(t.frontend, t.first, t.second));
    assembler.tick(Date.now() + 2_000);
    assertOapRules(out.map((s) => toDecodedShape(s.segment)));
    assert.deepEqual(
      out.slice(1).map((s) => s.segment.spans.map((sp) => sp.operationName)),
      [['POST:/orders', 'load on orders-a'], ['POST:/orders', 'load on retry']],
    );
  });

  it('says once in the log, with a count, when spans repeat ids already exported', async () => {
    const { assembler, out, dropped, logLines } = setup();
    const t = threeServiceTrace();
    assembler.add(batchOf(t.batches.frontend, t.batches.orders, t.batches.payments));
    assembler.tick(Date.now() + 2_000);
    assert.equal(out.length, 3);
    assembler.add(batchOf(t.batches.orders));
    assembler.add(batchOf(t.batches.payments));
    assert.equal(await dropped('duplicate'), 4);
    const lines = logLines.filter((l) => String(l.msg).startsWith('Dropped spans whose ids were already exported'));
    assert.equal(lines.length, 1, 'the second batch is folded into the next line, a minute later');
    assert.equal(lines[0]!.spans, 3);
  });
});

describe('TraceAssembler: joined spans (#14 class 2)', () => {
  it('places children that kept the client span id in the server half\'s segment', () => {
    const { assembler, out } = setup();
    const t = fannedOutTrace();
    // Only one server half; its child was never re-parented (it arrived first, under the client id).
    const child = t.first.scopeSpans[0]!.spans[1]!;
    child.parentSpanId = t.feClient;
    assembler.add(batchOf(t.first));
    assembler.add(batchOf(t.frontend));
    assembler.tick(Date.now() + 2_000);
    assertOapRules(out.map((s) => toDecodedShape(s.segment)));
    assert.deepEqual(out.map((s) => s.segment.service), ['frontend', 'orders']);
    const orders = out[1]!.segment;
    assert.deepEqual(orders.spans.map((sp) => [sp.operationName, sp.spanType, sp.parentSpanId]), [['POST:/orders', 0, -1], ['load on orders-a', 2, 0]]);
  });

  it('puts spans that name no service in their parent\'s process: the server half\'s, not the client\'s', () => {
    const { assembler, out } = setup();
    const t = fannedOutTrace();
    const anonymousChild = resourceSpans('x', [{ ...t.first.scopeSpans[0]!.spans[1]!, parentSpanId: t.feClient, name: 'anonymous child' }]);
    anonymousChild.resource.attributes = {};
    t.first.scopeSpans[0]!.spans.pop();
    assembler.add(batchOf(t.frontend, t.first, anonymousChild));
    assembler.tick(Date.now() + 2_000);
    assertOapRules(out.map((s) => toDecodedShape(s.segment)));
    assert.deepEqual(out.map((s) => s.segment.service), ['frontend', 'orders']);
    assert.deepEqual(out[1]!.segment.spans.map((sp) => sp.operationName), ['POST:/orders', 'anonymous child']);
    assert.ok(!out.some((s) => s.segment.service === 'unknown_service'));
  });
});

describe('TraceAssembler.knows (what a gateway handover asks)', () => {
  it('knows a trace while it is held, and after it was built while the flushed-span index remembers it', () => {
    const { assembler } = setup({ flushed_index_size: 100 });
    const t = threeServiceTrace();
    assert.equal(assembler.knows(t.traceId), false);
    assembler.add(batchOf(t.batches.frontend));
    assert.equal(assembler.knows(t.traceId), true);
    assembler.tick(Date.now() + 20_000);
    assert.equal(assembler.heldSpans, 0);
    assert.equal(assembler.knows(t.traceId), true, 'built, but its late spans would still join it');
    assert.equal(setup({ flushed_index_size: 0 }).assembler.knows(t.traceId), false);
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
