import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchOf, threeServiceTrace } from '../../../test/support/span-fixtures.ts';
import type { ComponentSettings } from '../../component.ts';
import { TraceAssembler } from '../../segments/trace-assembler.ts';
import { createLogger } from '../logger.ts';
import { Metrics } from '../metrics.ts';
import { toJson, traceDetail } from './trace-json.ts';
import { TraceRecorder, type TraceViewLimits } from './trace-recorder.ts';
import { searchTraces } from './trace-summary.ts';

/** A real assembler recording into a recorder with these limits. */
function setup(limits: Partial<TraceViewLimits> = {}) {
  const recorder = new TraceRecorder({ max_traces: 100, max_spans: 10_000, max_spans_per_trace: 500, max_bytes: 8 * 1024 * 1024, ...limits });
  const settings: ComponentSettings = { id: 'skywalking', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics(), traceRecorder: recorder };
  const delivered: string[] = [];
  const assembler = new TraceAssembler(
    settings,
    { quiet_period: 1000, max_wait: 10_000, max_traces: 1000, max_spans: 100_000, max_spans_per_trace: 10_000, max_segment_spans: 300, flushed_index_size: 10_000 },
    { onSegments: (segments) => delivered.push(...segments.map((s) => s.segment.traceSegmentId)), onInstance: () => undefined },
  );
  /** Sends a whole three-service trace (6 spans, 3 segments) and builds it. */
  const send = (opts: { paymentsStatus?: number } = {}) => {
    const t = threeServiceTrace(opts);
    assembler.add(batchOf(t.batches.frontend, t.batches.orders, t.batches.payments), true);
    return t;
  };
  return { recorder, assembler, send, delivered };
}

describe('TraceRecorder', () => {
  it('keeps the segments a trace became beside its source spans, and where each span went', () => {
    const { recorder, send, delivered } = setup();
    const t = send();
    assert.equal(delivered.length, 3, 'the exporter still gets every segment');
    const [kept] = recorder.find(t.traceId);
    assert.ok(kept);
    const detail = traceDetail(kept);
    assert.deepEqual(detail.segments.map((s) => s.service).sort(), ['frontend', 'orders', 'payments']);
    assert.equal(detail.sources.length, 6);
    const orders = detail.segments.find((s) => s.service === 'orders')!;
    const ordersServer = detail.sources.find((s) => s.span.spanId === t.ids.ordServer)!;
    assert.deepEqual(ordersServer.placement, { segmentId: orders.traceSegmentId, spanId: 0 });
    const frontend = detail.segments.find((s) => s.service === 'frontend')!;
    assert.equal(orders.spans[0]!.refs[0]!.parentTraceSegmentId, frontend.traceSegmentId);
    // Bigint times survive as decimal strings.
    const json = JSON.parse(toJson(detail)) as { sources: { span: { startTimeUnixNano: string } }[] };
    assert.match(json.sources[0]!.span.startTimeUnixNano, /^\d{19}$/);
  });

  it('finds traces by a part of the trace id, a service, a part of an endpoint, and errors', () => {
    const { recorder, send } = setup();
    const good = send();
    const failed = send({ paymentsStatus: 500 });
    const ids = (q: Parameters<typeof searchTraces>[1]) => searchTraces(recorder.newestFirst(), q).map((s) => s.traceId);
    assert.deepEqual(ids({}), [failed.traceId, good.traceId], 'newest first');
    assert.deepEqual(ids({ traceId: good.traceId.slice(-3).toUpperCase() }), [good.traceId]);
    assert.deepEqual(ids({ error: true }), [failed.traceId]);
    assert.deepEqual(ids({ service: 'payments' }), [failed.traceId, good.traceId]);
    assert.deepEqual(ids({ service: 'pay' }), [], 'service names match whole');
    assert.deepEqual(ids({ endpoint: '/PAY' }), [failed.traceId, good.traceId]);
    assert.deepEqual(ids({ endpoint: '/nowhere' }), []);
    assert.deepEqual(ids({ limit: 1 }), [failed.traceId]);
    const [summary] = searchTraces(recorder.newestFirst(), { traceId: good.traceId });
    assert.deepEqual(summary!.services.sort(), ['frontend', 'orders', 'payments']);
    assert.equal(summary!.segments, 3);
    assert.equal(summary!.spans, 6);
    assert.equal(summary!.durationMs, 45);
    assert.match(summary!.endpoint, /checkout/, 'the root segment names the trace');
  });

  it('keeps at most max_traces, forgetting the least recently built', () => {
    const { recorder, send } = setup({ max_traces: 3 });
    const sent = Array.from({ length: 5 }, () => send().traceId);
    assert.equal(recorder.size, 3);
    assert.deepEqual([...recorder.newestFirst()].map((t) => t.traceId), sent.slice(2).reverse());
    assert.equal(recorder.spans, 18);
  });

  it('keeps at most max_spans source spans in all', () => {
    const { recorder, send } = setup({ max_spans: 13 });
    const sent = Array.from({ length: 4 }, () => send().traceId);
    assert.equal(recorder.spans, 12);
    assert.deepEqual([...recorder.newestFirst()].map((t) => t.traceId), [sent[3], sent[2]]);
  });

  it('cuts a trace past max_spans_per_trace and says so', () => {
    const { recorder, send } = setup({ max_spans_per_trace: 4 });
    const t = send();
    const [kept] = recorder.find(t.traceId);
    assert.equal(kept!.truncated, true);
    assert.equal(kept!.spans, 4);
    const detail = traceDetail(kept!);
    assert.equal(detail.sources.length, 4);
    assert.ok(detail.segments.reduce((n, s) => n + s.spans.length, 0) <= 4, 'no more segment spans than source spans kept');
  });

  it('holds at most max_bytes: older traces go, and a trace of huge spans is kept cut', () => {
    const { recorder, assembler, send } = setup({ max_bytes: 64 * 1024 });
    for (let i = 0; i < 40; i++) send();
    assert.ok(recorder.bytes <= 64 * 1024, `${recorder.bytes} bytes kept`);
    assert.ok(recorder.size < 40 && recorder.size > 1, `${recorder.size} traces kept`);
    // One trace whose spans carry 30 KB attributes each: only the spans that fit are kept.
    const big = threeServiceTrace();
    for (const rs of Object.values(big.batches)) for (const ss of rs.scopeSpans) for (const span of ss.spans) span.attributes['payload'] = 'x'.repeat(30_000);
    assembler.add(batchOf(big.batches.frontend, big.batches.orders, big.batches.payments), true);
    const [kept] = recorder.find(big.traceId);
    assert.equal(kept!.truncated, true);
    assert.ok(kept!.spans < 6 && kept!.bytes <= 64 * 1024, `${kept!.spans} spans, ${kept!.bytes} bytes`);
    assert.ok(recorder.bytes <= 64 * 1024);
  });

  it('joins a late flush of a kept trace to its entry and makes it the newest', () => {
    const { recorder, assembler, send } = setup();
    const t = threeServiceTrace();
    assembler.add(batchOf(t.batches.frontend, t.batches.orders), true);
    const other = send();
    assembler.add(batchOf(t.batches.payments), true);
    assert.equal(recorder.size, 2);
    const [newest] = recorder.newestFirst();
    assert.equal(newest!.traceId, t.traceId);
    assert.equal(newest!.flushes.length, 2);
    const detail = traceDetail(newest!);
    const orders = detail.segments.find((s) => s.service === 'orders')!;
    const payments = detail.segments.find((s) => s.service === 'payments')!;
    assert.equal(payments.spans[0]!.refs[0]!.parentTraceSegmentId, orders.traceSegmentId, 'the late segment refs the earlier one');
    assert.notEqual(other.traceId, t.traceId);
  });

  it('tells subscribers of every flush, and drops a subscriber that throws without hurting the build', () => {
    const { recorder, send, delivered } = setup();
    const seen: string[] = [];
    const stop = recorder.subscribe((trace, flush) => seen.push(`${trace.traceId}:${flush.segments.length}`));
    recorder.subscribe(() => {
      throw new Error('viewer bug');
    });
    const a = send();
    const b = send();
    stop();
    send();
    assert.deepEqual(seen, [`${a.traceId}:3`, `${b.traceId}:3`]);
    assert.equal(delivered.length, 9);
  });
});
