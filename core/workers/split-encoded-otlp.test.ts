import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../errors.ts';
import { encodeExportTraceServiceRequest } from '../model/otlp-protobuf-encoder.ts';
import { decodeProtobufTraces } from '../../receivers/otlp/decode-protobuf.ts';
import { batchOf, threeServiceTrace } from '../../test/support/span-fixtures.ts';
import { partitionByOwner } from './routed-consumer.ts';
import { splitEncodedOtlp } from './split-encoded-otlp.ts';
import { ownerOfHexTraceId } from './trace-owner.ts';

describe('splitEncodedOtlp', () => {
  const traces = Array.from({ length: 12 }, () => threeServiceTrace());
  const batch = batchOf(...traces.flatMap((t) => [t.batches.frontend, t.batches.orders, t.batches.payments]));
  const bytes = encodeExportTraceServiceRequest(batch);

  for (const workers of [1, 2, 3]) {
    it(`gives each of ${workers} workers exactly what decoding and partitioning the whole request would`, () => {
      const { parts, spanCount } = splitEncodedOtlp(bytes, workers);
      assert.equal(spanCount, 12 * 6);
      const expected = partitionByOwner(decodeProtobufTraces(bytes).batch, workers);
      assert.equal(parts.length, workers);
      for (let w = 0; w < workers; w++) {
        if (expected[w] === undefined) {
          assert.equal(parts[w], undefined);
          continue;
        }
        const decoded = decodeProtobufTraces(parts[w]!).batch;
        assert.deepEqual(decoded, expected[w]);
        for (const rs of decoded.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) assert.equal(ownerOfHexTraceId(s.traceId, workers), w);
      }
    });
  }

  it('refuses malformed wrappers as invalid input (never retryable)', () => {
    for (const bad of [Buffer.from([0x0a, 0x20, 0x01]), Buffer.from([0x0a]), Buffer.from([0x0b, 0x00]), Buffer.from([0x0a, 0x02, 0x12, 0x05])]) {
      assert.throws(() => splitEncodedOtlp(bad, 2), (e: unknown) => e instanceof InvalidInputError && !e.retryable, bad.toString('hex'));
    }
  });

  it('sends spans without a 16-byte trace id to worker 0, whose decoder rejects them', () => {
    const { parts, spanCount } = splitEncodedOtlp(
      // resource_spans { scope_spans { spans { trace_id: 3 bytes } } }
      Buffer.from([0x0a, 0x09, 0x12, 0x07, 0x12, 0x05, 0x0a, 0x03, 0x01, 0x02, 0x03]),
      2,
    );
    assert.equal(spanCount, 1);
    assert.equal(parts[1], undefined);
    assert.equal(decodeProtobufTraces(parts[0]!).rejectedSpans, 1);
  });
});
