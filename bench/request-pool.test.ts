import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Span, SpanBatch } from '../core/model/span-batch.ts';
import { BinaryProtocolReader } from '../core/thrift/binary-protocol-reader.ts';
import { decodeThriftBatch } from '../receivers/jaeger/decode-thrift-batch.ts';
import { translateJaegerBatch } from '../receivers/jaeger/translate-jaeger-batch.ts';
import { decodeProtobufTraces } from '../receivers/otlp/decode-protobuf.ts';
import { decodeJsonV2 } from '../receivers/zipkin/decode-json-v2.ts';
import { translateZipkinSpans } from '../receivers/zipkin/translate.ts';
import { runLoad } from './load.ts';
import { RequestPool, type PoolFormat } from './request-pool.ts';

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

/** The spans of a request in the internal model, decoded by the receiver that takes its format. */
function decodeAs(format: PoolFormat, bytes: Uint8Array): SpanBatch {
  if (format === 'otlp') return decodeProtobufTraces(bytes).batch;
  if (format === 'zipkin_json') {
    const translated = translateZipkinSpans(decodeJsonV2(bytes).spans, { parseStringTags: true });
    assert.equal(translated.rejected, 0);
    return translated.batch;
  }
  const translated = translateJaegerBatch(decodeThriftBatch(new BinaryProtocolReader(Buffer.from(bytes))));
  assert.equal(translated.invalidSpans, 0);
  return translated.batch;
}

/** What every format must carry over unchanged (times to the microsecond). */
function essentials(batch: SpanBatch) {
  return batch.resourceSpans
    .flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) =>
        ss.spans.map((s) => ({
          service: String(rs.resource.attributes['service.name']),
          instance: String(rs.resource.attributes['service.instance.id']),
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId,
          name: s.name,
          kind: s.kind,
          startUs: s.startTimeUnixNano / 1000n,
          endUs: s.endTimeUnixNano / 1000n,
          error: s.status.code === 2,
          events: s.events.map((e) => e.name),
          method: s.attributes['http.request.method'],
          status: s.attributes['http.response.status_code'],
          dbQuery: s.attributes['db.query.text'],
          peerPort: s.attributes['network.peer.port'],
        })),
      ),
    )
    .sort((a, b) => (a.spanId < b.spanId ? -1 : 1));
}

describe('RequestPool formats', () => {
  const generated = RequestPool.generateBatches(options);
  const otlp = RequestPool.encode(generated, 'otlp');

  for (const format of ['zipkin_json', 'jaeger_thrift'] as const) {
    it(`${format}: the receiver decodes the same traces as the OTLP requests carry`, () => {
      const pool = RequestPool.encode(generated, format);
      assert.equal(pool.templateSpans, otlp.templateSpans);
      // Requests of one generated request, up to and including the one that ends its group.
      let index = 0;
      for (let g = 0; g < otlp.size; g++) {
        const parts: SpanBatch[] = [];
        const traces = new Map<string, number>();
        for (;;) {
          const req = pool.request(index);
          const batch = decodeAs(format, req.bytes);
          assert.equal(essentials(batch).length, req.spanCount);
          req.traceIds.forEach((id, i) => traces.set(id, (traces.get(id) ?? 0) + req.spansPerTrace[i]!));
          parts.push(batch);
          if (pool.endsGroup(index++)) break;
        }
        const expected = otlp.request(g);
        assert.deepEqual(essentials({ resourceSpans: parts.flatMap((b) => b.resourceSpans) }), essentials(decodeProtobufTraces(expected.bytes).batch));
        assert.deepEqual(traces, new Map(expected.traceIds.map((id, i) => [id, expected.spansPerTrace[i]!])));
        if (format === 'jaeger_thrift') assert.ok(parts.length >= 3, 'one Jaeger batch per process');
      }
      assert.equal(index, pool.size);
    });

    it(`${format}: later rounds get the same fresh ids as OTLP's later rounds`, () => {
      const pool = RequestPool.encode(generated, format);
      const round = 4;
      const spans: ReturnType<typeof essentials> = [];
      const traceIds = new Set<string>();
      for (let i = 0; i < pool.size; i++) {
        const req = pool.request(i + round * pool.size);
        spans.push(...essentials(decodeAs(format, req.bytes)));
        for (const id of req.traceIds) traceIds.add(id);
      }
      const expected: ReturnType<typeof essentials> = [];
      const expectedIds = new Set<string>();
      for (let i = 0; i < otlp.size; i++) {
        const req = otlp.request(i + round * otlp.size);
        expected.push(...essentials(decodeProtobufTraces(req.bytes).batch));
        for (const id of req.traceIds) expectedIds.add(id);
      }
      const bySpan = (a: { spanId: string }, b: { spanId: string }) => (a.spanId < b.spanId ? -1 : 1);
      assert.deepEqual(spans.sort(bySpan), expected.sort(bySpan));
      assert.deepEqual(traceIds, expectedIds);
      assert.ok(!spans.some((s) => otlp.request(0).traceIds.includes(s.traceId)), 'no trace id of round 0 is reused');
    });
  }

  it('a load stops only at the end of a group, so no trace is sent in part', async () => {
    const pool = RequestPool.encode(generated, 'jaeger_thrift');
    let firstGroup = 0;
    while (!pool.endsGroup(firstGroup)) firstGroup++;
    const sent: number[] = [];
    const result = await runLoad({ pool, concurrency: 2, requests: 1 }, async (bytes) => {
      sent.push(bytes.length);
      return { ok: true };
    });
    assert.equal(result.requestsStarted, firstGroup + 1);
    assert.equal(result.requestsAcked, firstGroup + 1);
    assert.equal(sent.length, firstGroup + 1);
  });
});
