import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeExportTraceServiceRequest } from '../../core/model/otlp-protobuf-encoder.ts';
import { SpanKind, StatusCode, type SpanBatch } from '../../core/model/span-batch.ts';
import { batchOf, hexId, resourceSpans, span, threeServiceTrace } from '../../test/support/span-fixtures.ts';
import { groupByTrace, PendingBatch } from './trace-groups.ts';

function estimate(batch: SpanBatch): number {
  const { groups, envelopes } = groupByTrace(batch);
  const pending = new PendingBatch();
  for (const g of groups) pending.add(g, envelopes);
  return pending.bytes;
}

function assertClose(batch: SpanBatch): void {
  const actual = encodeExportTraceServiceRequest(batch).length;
  const estimated = estimate(batch);
  assert.ok(estimated >= actual * 0.95 && estimated <= actual * 1.15, `estimated ${estimated} bytes, encoded ${actual}`);
}

describe('batch size estimate', () => {
  it('is within a few percent of the OTLP protobuf encoding for HTTP-shaped traces', () => {
    const t = threeServiceTrace();
    assertClose(batchOf(t.batches.frontend, t.batches.orders, t.batches.payments));
  });

  it('stays close with events, links, errors, nested values and non-ASCII text', () => {
    const traceId = hexId(16);
    const s = span({
      traceId, spanId: hexId(8), parentSpanId: hexId(8), name: 'écrire — 書く', kind: SpanKind.CLIENT, traceState: 'sw8=abc,ot=th:8',
      attributes: { list: ['a', 'b', 3, true], nested: { k: 'v', n: 1 }, bytes: new Uint8Array(20), big: 2n ** 40n, pi: 3.14 },
      events: [{ timeUnixNano: 1n, name: 'exception', attributes: { 'exception.message': 'boom'.repeat(20) }, droppedAttributesCount: 0 }],
      links: [{ traceId: hexId(16), spanId: hexId(8), traceState: '', attributes: { why: 'batch' }, droppedAttributesCount: 0, flags: 0x101 }],
      status: { code: StatusCode.ERROR, message: 'failed' },
    });
    assertClose(batchOf(resourceSpans('svc', [s])));
  });

  it('counts a resource shared by many traces once', () => {
    const spans = Array.from({ length: 50 }, () => span({ traceId: hexId(16), spanId: hexId(8), name: 'GET', kind: SpanKind.SERVER }));
    assertClose(batchOf(resourceSpans('svc', spans, { 'host.name': 'h'.repeat(200), 'process.command_args': ['node', 'x'.repeat(300)] })));
  });
});
