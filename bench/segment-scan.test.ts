import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs/minimal.js';
import type { SegmentObject, SpanObject } from '../core/segments/segment-object.ts';
import { encodeSegment } from '../exporters/skywalking/codec.ts';
import { encodeStatus } from '../receivers/otlp/encode-response.ts';
import { ProtobufScanError, scanSegment, statusHasRetryInfo } from './segment-scan.ts';

function span(spanId: number, parentSpanId: number): SpanObject {
  return {
    spanId,
    parentSpanId,
    startTime: 1_767_225_600_000 + spanId,
    endTime: 1_767_225_600_250 + spanId,
    refs: spanId === 0 ? [{ refType: 0, traceId: 'a'.repeat(32), parentTraceSegmentId: 'b'.repeat(32), parentSpanId: 3, parentService: 'frontend', parentServiceInstance: 'frontend-1', parentEndpoint: 'POST /checkout', networkAddressUsedAtPeer: 'orders:8080' }] : [],
    operationName: `op-${spanId}`,
    peer: spanId % 2 ? 'db:5432' : '',
    spanType: spanId === 0 ? 0 : 1,
    spanLayer: 1,
    componentId: 49,
    isError: spanId === 2,
    tags: [{ key: 'http.request.method', value: 'POST' }, { key: 'db.system', value: 'postgresql' }],
    logs: spanId === 2 ? [{ time: 1_767_225_600_100, data: [{ key: 'event', value: 'exception' }, { key: 'message', value: 'boom ü' }] }] : [],
    skipAnalysis: false,
  } as SpanObject;
}

function segment(traceId: string, segmentId: string, spans: number): SegmentObject {
  return {
    traceId,
    traceSegmentId: segmentId,
    spans: Array.from({ length: spans }, (_, i) => span(i, i - 1)),
    service: 'orders',
    serviceInstance: 'orders-7f9c-1',
    isSizeLimited: false,
  };
}

describe('scanSegment', () => {
  it('reads the trace id and segment id and counts the spans of a segment encoded by the skywalking exporter', () => {
    for (const spans of [0, 1, 7, 48]) {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const segmentId = `4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${spans}`;
      const scanned = scanSegment(encodeSegment(segment(traceId, segmentId, spans)));
      assert.deepEqual(scanned, { traceId, segmentId, spans });
    }
  });

  it('reads field 1 as UTF-8 wherever it is, and skips fields of every wire type', () => {
    // Spans before the ids, and fields of wire types 0, 1 and 5 the scanner must step over.
    const w = protobuf.Writer.create();
    for (let i = 0; i < 3; i++) w.uint32(26).bytes(encodeSegment(segment('x', 'y', 1)));
    w.uint32(6 << 3).bool(true).uint32((9 << 3) | 1).fixed64(123456789).uint32((10 << 3) | 5).fixed32(7).uint32((11 << 3) | 0).uint64(2 ** 40);
    w.uint32(18).string('s1').uint32(10).string('trace-ü-1');
    assert.deepEqual(scanSegment(w.finish()), { traceId: 'trace-ü-1', segmentId: 's1', spans: 3 });
  });

  it('refuses truncated bytes and groups', () => {
    const bytes = encodeSegment(segment('t', 's', 2));
    assert.throws(() => scanSegment(bytes.subarray(0, bytes.length - 3)), ProtobufScanError);
    assert.throws(() => scanSegment(Buffer.from([0x0b])), ProtobufScanError); // field 1, wire type 3
    assert.throws(() => scanSegment(Buffer.from([0x08, 0xff])), ProtobufScanError); // unterminated varint
  });
});

describe('statusHasRetryInfo', () => {
  it('finds the RetryInfo the OTLP receiver puts in a refusal, and none where there is none', () => {
    assert.equal(statusHasRetryInfo(encodeStatus('protobuf', 8, 'full', 1000)), true);
    assert.equal(statusHasRetryInfo(encodeStatus('protobuf', 8, 'full')), false);
    assert.equal(statusHasRetryInfo(Buffer.from([0x1a, 0x05, 0x01])), false); // malformed
  });
});
