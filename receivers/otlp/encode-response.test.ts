import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeExportResponse, encodeStatus } from './encode-response.ts';
import { decodeExportResponse, decodeStatus } from './testdata/otlp-types.ts';

// The decoders used here come from protobufjs parsing .proto text, independent of the hand-written encoder.
describe('encodeExportResponse', () => {
  it('writes the empty message (full success) when nothing was rejected', () => {
    assert.equal(encodeExportResponse('protobuf', 0, '').length, 0);
    assert.equal(encodeExportResponse('json', 0, '').toString(), '{}');
  });

  it('writes partial_success with rejected_spans and error_message', () => {
    assert.deepEqual(decodeExportResponse(encodeExportResponse('protobuf', 3, 'three bad ids')), { rejected_spans: 3, error_message: 'three bad ids' });
    // proto3 JSON writes int64 as a string.
    assert.deepEqual(JSON.parse(encodeExportResponse('json', 3, 'three bad ids').toString()), {
      partialSuccess: { rejectedSpans: '3', errorMessage: 'three bad ids' },
    });
  });
});

describe('encodeStatus', () => {
  it('writes a google.rpc.Status without details when no retry delay is given', () => {
    assert.deepEqual(decodeStatus(encodeStatus('protobuf', 3, 'bad input')), { code: 3, message: 'bad input' });
    assert.deepEqual(JSON.parse(encodeStatus('json', 3, 'bad input').toString()), { code: 3, message: 'bad input' });
  });

  it('adds a google.rpc.RetryInfo detail carrying the retry delay', () => {
    assert.deepEqual(decodeStatus(encodeStatus('protobuf', 8, 'full', 2500)), { code: 8, message: 'full', retryDelayMs: 2500 });
    assert.deepEqual(decodeStatus(encodeStatus('protobuf', 14, 'closing', 250)), { code: 14, message: 'closing', retryDelayMs: 250 });
    assert.deepEqual(JSON.parse(encodeStatus('json', 8, 'full', 2500).toString()), {
      code: 8,
      message: 'full',
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.500s' }],
    });
  });
});
