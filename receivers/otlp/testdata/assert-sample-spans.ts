/**
 * The assertions every round-trip test makes about the spans `emitSampleSpans` produced, after they
 * went through a real OTel exporter and the receiver's decoder.
 */
import assert from 'node:assert/strict';
import type { SpanBatch } from '../../../core/model/span-batch.ts';
import { LINK_TARGET, REMOTE_PARENT, ROOT_ATTRIBUTES, SAMPLE_RESOURCE, SAMPLE_SCOPE, T, type SampleSpanIds } from './sample-spans.ts';

/** Asserts that `batches` hold exactly the three sample spans, field by field. */
export function assertSampleSpans(batches: SpanBatch[], ids: SampleSpanIds): void {
  const spans = new Map<string, SpanBatch['resourceSpans'][number]['scopeSpans'][number]['spans'][number]>();
  for (const batch of batches) {
    for (const rs of batch.resourceSpans) {
      assert.deepEqual(rs.resource.attributes, SAMPLE_RESOURCE);
      for (const ss of rs.scopeSpans) {
        assert.equal(ss.scope.name, SAMPLE_SCOPE.name);
        assert.equal(ss.scope.version, SAMPLE_SCOPE.version);
        for (const s of ss.spans) spans.set(s.name, s);
      }
    }
  }
  assert.deepEqual([...spans.keys()].sort(), ['GET /orders', 'SELECT orders', 'process message']);

  const root = spans.get('GET /orders')!;
  assert.equal(root.traceId, ids.traceId);
  assert.equal(root.spanId, ids.rootSpanId);
  assert.equal(root.parentSpanId, '');
  assert.equal(root.kind, 2); // SERVER
  assert.equal(root.startTimeUnixNano, T.rootStartNs);
  assert.equal(root.endTimeUnixNano, T.rootEndNs);
  // OTel JS 2.x: sampled (0x01) + "has is-remote" (0x100); the parent is local or absent.
  assert.equal(root.flags, 0x101);
  assert.deepEqual(root.attributes, ROOT_ATTRIBUTES);
  assert.deepEqual(root.status, { code: 2, message: 'boom' });
  assert.deepEqual(root.events, [
    { timeUnixNano: T.eventAtNs, name: 'exception', attributes: { 'exception.message': 'out of stock', 'sample.attempt': 2 }, droppedAttributesCount: 0 },
  ]);
  assert.deepEqual(root.links, [
    { traceId: LINK_TARGET.traceId, spanId: LINK_TARGET.spanId, traceState: '', attributes: { 'link.reason': 'follows' }, droppedAttributesCount: 0, flags: 0x301 },
  ]);
  assert.equal(root.droppedAttributesCount, 0);
  assert.equal(root.droppedEventsCount, 0);
  assert.equal(root.droppedLinksCount, 0);

  const child = spans.get('SELECT orders')!;
  assert.equal(child.traceId, ids.traceId);
  assert.equal(child.spanId, ids.childSpanId);
  assert.equal(child.parentSpanId, ids.rootSpanId);
  assert.equal(child.kind, 3); // CLIENT
  assert.equal(child.flags, 0x101);
  assert.equal(child.startTimeUnixNano, T.childStartNs);
  assert.equal(child.endTimeUnixNano, T.childEndNs);
  assert.deepEqual(child.attributes, { 'db.system': 'postgresql' });
  assert.deepEqual(child.status, { code: 1, message: '' });

  const consume = spans.get('process message')!;
  assert.equal(consume.traceId, REMOTE_PARENT.traceId);
  assert.equal(consume.spanId, ids.consumeSpanId);
  assert.equal(consume.parentSpanId, REMOTE_PARENT.spanId);
  assert.equal(consume.kind, 5); // CONSUMER
  // 0x200: the parent came from another process.
  assert.equal(consume.flags, 0x301);
  assert.equal(consume.traceState, 'vendor=abc,other=1');
  assert.deepEqual(consume.status, { code: 0, message: '' });
}
