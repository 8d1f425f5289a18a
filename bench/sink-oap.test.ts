import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import { SinkOap } from './sink-oap.ts';

/** A SegmentObject with `spans` empty SpanObjects: 1 traceId, 2 traceSegmentId, 3 spans. */
function segment(traceId: string, segmentId: string, spans: number): Buffer {
  const w = protobuf.Writer.create().uint32(10).string(traceId).uint32(18).string(segmentId);
  for (let i = 0; i < spans; i++) w.uint32(26).bytes(new Uint8Array(0));
  return Buffer.from(w.finish());
}

function collect(port: number, segments: Buffer[]): Promise<void> {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<void>((resolve, reject) => {
    const call = client.makeClientStreamRequest(
      '/skywalking.v3.TraceSegmentReportService/collect',
      (b: Buffer) => b,
      (b: Buffer) => b,
      (err: ServiceError | null) => (err ? reject(err) : resolve()),
    );
    for (const s of segments) call.write(s);
    call.end();
  }).finally(() => client.close());
}

describe('SinkOap', () => {
  it('counts spans per trace, and a segment id seen before as a redelivery only', async () => {
    const sink = new SinkOap();
    const port = await sink.start();
    try {
      await collect(port, [segment('t1', 's1', 3), segment('t1', 's2', 2), segment('t2', 's3', 4)]);
      // The exporter resending a batch whose answer came too late.
      await collect(port, [segment('t1', 's2', 2), segment('t2', 's3', 4)]);
      assert.equal(sink.segments, 3);
      assert.equal(sink.spans, 9);
      assert.equal(sink.redeliveredSegments, 2);
      assert.equal(sink.redeliveredSpans, 6);
      assert.deepEqual([...sink.traces].map(([id, a]) => [id, a.spans, a.segments]), [['t1', 5, 2], ['t2', 4, 1]]);
    } finally {
      await sink.stop();
    }
  });
});
