/**
 * What the receiver writes back: `ExportTraceServiceResponse` on success and `google.rpc.Status` on
 * failure, in the encoding the request used (OTLP/HTTP answers in the request's Content-Type;
 * OTLP/gRPC carries the Status in the `grpc-status-details-bin` trailer).
 */
import protobuf from 'protobufjs/minimal.js';

/** The two OTLP payload encodings. */
export type OtlpEncoding = 'protobuf' | 'json';

const EMPTY = Buffer.alloc(0);
const EMPTY_JSON = Buffer.from('{}');
const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * Encodes an `ExportTraceServiceResponse`. With nothing rejected it is the empty message, which the
 * OTLP specification defines as full success; otherwise it carries `partial_success`
 * { 1 rejected_spans int64, 2 error_message string }.
 */
export function encodeExportResponse(encoding: OtlpEncoding, rejectedSpans: number, errorMessage: string): Buffer {
  if (rejectedSpans === 0 && errorMessage === '') return encoding === 'json' ? EMPTY_JSON : EMPTY;
  if (encoding === 'json') {
    // proto3 JSON writes int64 as a decimal string.
    return Buffer.from(JSON.stringify({ partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } }));
  }
  const w = protobuf.Writer.create();
  w.uint32(10).fork(); // 1 partial_success
  if (rejectedSpans !== 0) w.uint32(8).int64(rejectedSpans); // 1 rejected_spans
  if (errorMessage !== '') w.uint32(18).string(errorMessage); // 2 error_message
  w.ldelim();
  return asBuffer(w.finish());
}

/**
 * Encodes a `google.rpc.Status` { 1 code int32, 2 message string, 3 details repeated Any }. When
 * `retryAfterMs` is given, details hold one `google.rpc.RetryInfo` { 1 retry_delay Duration }, which
 * is how OTLP/gRPC tells a client that RESOURCE_EXHAUSTED is retryable and when to try again.
 */
export function encodeStatus(encoding: OtlpEncoding, code: number, message: string, retryAfterMs?: number): Buffer {
  const delay = retryAfterMs === undefined ? undefined : Math.max(0, Math.round(retryAfterMs));
  if (encoding === 'json') {
    const status: Record<string, unknown> = { code, message };
    if (delay !== undefined) {
      status.details = [{ '@type': RETRY_INFO_TYPE_URL, retryDelay: `${(delay / 1000).toFixed(3)}s` }];
    }
    return Buffer.from(JSON.stringify(status));
  }
  const w = protobuf.Writer.create();
  if (code !== 0) w.uint32(8).int32(code);
  if (message !== '') w.uint32(18).string(message);
  if (delay !== undefined) {
    w.uint32(26).fork(); // 3 details: google.protobuf.Any
    w.uint32(10).string(RETRY_INFO_TYPE_URL); // Any.type_url
    w.uint32(18).fork(); // Any.value: RetryInfo
    w.uint32(10).fork(); // RetryInfo.retry_delay: google.protobuf.Duration
    const seconds = Math.floor(delay / 1000);
    const nanos = (delay % 1000) * 1_000_000;
    if (seconds !== 0) w.uint32(8).int64(seconds);
    if (nanos !== 0) w.uint32(16).int32(nanos);
    w.ldelim().ldelim().ldelim();
  }
  return asBuffer(w.finish());
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
