import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeProtobufTraces } from '../receivers/otlp/decode-protobuf.ts';
import type { Span } from '../core/model/span-batch.ts';
import { RequestPool } from './request-pool.ts';

const options = { seed: 7, minSpans: 100, maxSpans: 500, startTimeMs: 1_767_225_600_000, templates: 3 };

function spansOf(bytes: Uint8Array): Span[] {
  const decoded = decodeProtobufTraces(bytes);
  assert.equal(decoded.rejectedSpans, 0);
  return decoded.batch.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

describe('RequestPool', () => {
  it('generates requests of whole 3-service traces within the span range, with several resources each', () => {
    const pool = RequestPool.generate(options);
    for (let i = 0; i < pool.size; i++) {
      const req = pool.request(i);
      assert.ok(req.spanCount >= 100 && req.spanCount <= 500, `request ${i} has ${req.spanCount} spans`);
      const spans = spansOf(req.bytes);
      assert.equal(spans.length, req.spanCount);
      assert.deepEqual([...new Set(spans.map((s) => s.traceId))].sort(), [...req.traceIds].sort());
      const decoded = decodeProtobufTraces(req.bytes).batch;
      assert.ok(decoded.resourceSpans.length >= 3, 'frontend, orders and payments instances');
      const services = new Set(decoded.resourceSpans.map((rs) => rs.resource.attributes['service.name']));
      assert.deepEqual([...services].sort(), ['frontend', 'orders', 'payments']);
      req.traceIds.forEach((traceId, t) => {
        const trace = spans.filter((s) => s.traceId === traceId);
        assert.equal(trace.length, req.spansPerTrace[t]);
        const ids = new Set(trace.map((s) => s.spanId));
        assert.equal(trace.filter((s) => s.parentSpanId === '').length, 1, 'one root per trace');
        for (const s of trace) if (s.parentSpanId !== '') assert.ok(ids.has(s.parentSpanId), 'every parent is in the same request');
        const remote = trace.filter((s) => s.flags === 0x301).map((s) => s.name);
        assert.deepEqual(remote.sort(), ['POST /orders', 'POST /payments/charge']);
      });
    }
  });

  it('gives later rounds fresh ids with the same parent/child structure and bytes', () => {
    const pool = RequestPool.generate(options);
    const first = pool.request(1);
    const again = pool.request(1 + pool.size * 5);
    assert.equal(again.bytes.length, first.bytes.length);
    assert.equal(again.spanCount, first.spanCount);
    const a = spansOf(first.bytes);
    const b = spansOf(again.bytes);
    assert.deepEqual(new Set(b.map((s) => s.traceId)), new Set(again.traceIds));
    const seen = new Set(a.map((s) => s.spanId));
    b.forEach((s, i) => {
      assert.notEqual(s.traceId, a[i]!.traceId);
      assert.ok(!seen.has(s.spanId), 'no span id is reused');
      assert.equal(s.parentSpanId === '', a[i]!.parentSpanId === '');
      assert.deepEqual({ ...s, traceId: '', spanId: '', parentSpanId: '' }, { ...a[i]!, traceId: '', spanId: '', parentSpanId: '' });
    });
    const indexA = new Map(a.map((s, i) => [s.spanId, i]));
    const indexB = new Map(b.map((s, i) => [s.spanId, i]));
    b.forEach((s, i) => {
      if (s.parentSpanId !== '') assert.equal(indexB.get(s.parentSpanId), indexA.get(a[i]!.parentSpanId));
    });
    assert.deepEqual(pool.request(1 + pool.size * 5).bytes, again.bytes, 'deterministic');
  });
});
