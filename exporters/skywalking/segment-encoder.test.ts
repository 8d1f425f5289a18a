import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import commonPb from 'skywalking-backend-js/lib/proto/common/Common_pb.js';
import tracingPb from 'skywalking-backend-js/lib/proto/language-agent/Tracing_pb.js';
import { TraceGenerator } from '../../bench/trace-generator.ts';
import { RefType, SpanLayer, SpanType, type AssembledSegment, type SegmentObject } from '../../core/segments/segment-object.ts';
import { TraceAssembler } from '../../core/segments/trace-assembler.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { encodeSegmentObject } from './segment-encoder.ts';

/** Read back by SkyWalking's own generated stubs (google-protobuf), never by a mirror of our encoder. */
function decode(bytes: Uint8Array) {
  return tracingPb.SegmentObject.deserializeBinary(bytes).toObject();
}

function pair(key: string, value: string) {
  const p = new commonPb.KeyStringValuePair();
  p.setKey(key);
  p.setValue(value);
  return p;
}

/** The same segment built with the stubs' setters and read back: what the OAP must see. */
function expected(segment: SegmentObject) {
  const msg = new tracingPb.SegmentObject();
  msg.setTraceid(segment.traceId);
  msg.setTracesegmentid(segment.traceSegmentId);
  msg.setService(segment.service);
  msg.setServiceinstance(segment.serviceInstance);
  msg.setIssizelimited(segment.isSizeLimited);
  for (const s of segment.spans) {
    const span = new tracingPb.SpanObject();
    span.setSpanid(s.spanId);
    span.setParentspanid(s.parentSpanId);
    span.setStarttime(s.startTime);
    span.setEndtime(s.endTime);
    span.setOperationname(s.operationName);
    span.setPeer(s.peer);
    span.setSpantype(s.spanType as never);
    span.setSpanlayer(s.spanLayer as never);
    span.setComponentid(s.componentId);
    span.setIserror(s.isError);
    span.setSkipanalysis(s.skipAnalysis);
    for (const r of s.refs) {
      const ref = new tracingPb.SegmentReference();
      ref.setReftype(r.refType as never);
      ref.setTraceid(r.traceId);
      ref.setParenttracesegmentid(r.parentTraceSegmentId);
      ref.setParentspanid(r.parentSpanId);
      ref.setParentservice(r.parentService);
      ref.setParentserviceinstance(r.parentServiceInstance);
      ref.setParentendpoint(r.parentEndpoint);
      ref.setNetworkaddressusedatpeer(r.networkAddressUsedAtPeer);
      span.addRefs(ref);
    }
    for (const t of s.tags) span.addTags(pair(t.key, t.value));
    for (const l of s.logs) {
      const log = new tracingPb.Log();
      log.setTime(l.time);
      for (const d of l.data) log.addData(pair(d.key, d.value));
      span.addLogs(log);
    }
    msg.addSpans(span);
  }
  return msg.toObject();
}

/** Segments of the benchmark's three-service traces, built by the real assembler. */
function benchmarkSegments(): AssembledSegment[] {
  const out: AssembledSegment[] = [];
  const settings = { id: 'enc', kind: 'exporter' as const, logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
  const assembler = new TraceAssembler(
    settings,
    { quiet_period: 1000, max_wait: 10_000, max_traces: 10_000, max_spans: 1_000_000, max_spans_per_trace: 10_000, max_segment_spans: 300, flushed_index_size: 100_000 },
    { onSegments: (s) => out.push(...s), onInstance: () => undefined },
  );
  const generator = new TraceGenerator({ seed: 7, minSpans: 100, maxSpans: 500, startTimeMs: 1_700_000_000_000 });
  for (let i = 0; i < 10; i++) assembler.add(generator.nextRequest().batch);
  assembler.flushAll('shutdown');
  return out;
}

describe('encodeSegmentObject', () => {
  it('is read by the official stubs exactly as the segments the assembler built', () => {
    const segments = benchmarkSegments();
    assert.ok(segments.length > 50);
    for (const { segment } of segments) assert.deepEqual(decode(encodeSegmentObject(segment)), expected(segment));
  });

  it('encodes negative ids, times up to 2^53, non-ASCII and long strings, logs, refs and flags', () => {
    const long = 'x'.repeat(70_000);
    const segment: SegmentObject = {
      traceId: 'tr',
      traceSegmentId: 'seg-ü',
      service: 'sérvice 服务 with a longer name',
      serviceInstance: '',
      isSizeLimited: true,
      spans: [
        {
          spanId: 0, parentSpanId: -1, startTime: 2 ** 53 - 1, endTime: 1_700_000_000_123,
          refs: [{ refType: RefType.CrossThread, traceId: 't', parentTraceSegmentId: 'p', parentSpanId: 0, parentService: 's', parentServiceInstance: 'i', parentEndpoint: '🚀 /x', networkAddressUsedAtPeer: '' }],
          operationName: long, peer: 'db:5432', spanType: SpanType.Exit, spanLayer: SpanLayer.GenAI, componentId: 5001, isError: true,
          tags: [{ key: 'k', value: '' }, { key: 'ключ', value: long + 'é' }, { key: 'short', value: 'ü' }, { key: 'x'.repeat(200), value: 'é'.repeat(100) }],
          logs: [{ time: 1_700_000_000_000, data: [{ key: 'event', value: 'error' }] }, { time: 0, data: [] }],
          skipAnalysis: true,
        },
        { spanId: 2_147_483_647, parentSpanId: 0, startTime: 0, endTime: 0, refs: [], operationName: '', peer: '', spanType: SpanType.Entry, spanLayer: SpanLayer.Unknown, componentId: 0, isError: false, tags: [], logs: [], skipAnalysis: false },
      ],
    };
    assert.deepEqual(decode(encodeSegmentObject(segment)), expected(segment));
  });

  it('gives every call a buffer of its own, also after a segment larger than its scratch', () => {
    const small = (id: string): SegmentObject => ({ traceId: id, traceSegmentId: id, service: 's', serviceInstance: 'i', isSizeLimited: false, spans: [] });
    const first = encodeSegmentObject(small('a'));
    const big = encodeSegmentObject({ ...small('b'), service: 'y'.repeat(3 * 1024 * 1024) });
    const second = encodeSegmentObject(small('c'));
    assert.equal(decode(first).traceid, 'a');
    assert.equal(decode(big).service.length, 3 * 1024 * 1024);
    assert.equal(decode(second).traceid, 'c');
  });
});
