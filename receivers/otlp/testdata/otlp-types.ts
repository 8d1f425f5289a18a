/**
 * An independent protobuf definition (protobufjs parsing .proto text) of the OTLP and google.rpc
 * messages the tests send and read, so assertions never rely on the receiver's own hand-written
 * encoder and decoder. Field numbers are from opentelemetry-proto and googleapis.
 */
import protobuf from 'protobufjs';

const root = protobuf.parse(`
syntax = "proto3";
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
message Resource { repeated KeyValue attributes = 1; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
  fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
}
message ScopeSpans { repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
message Any { string type_url = 1; bytes value = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
message RetryInfo { Duration retry_delay = 1; }
`, { keepCase: true }).root;

export const ExportTraceServiceRequest = root.lookupType('ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('ExportTraceServiceResponse');
export const Status = root.lookupType('Status');
export const RetryInfo = root.lookupType('RetryInfo');

/** Decodes a google.rpc.Status, with its RetryInfo delay in milliseconds when it carries one. */
export function decodeStatus(bytes: Uint8Array): { code: number; message: string; retryDelayMs?: number } {
  const s = Status.toObject(Status.decode(bytes), { longs: Number, defaults: true }) as {
    code: number;
    message: string;
    details: Array<{ type_url: string; value: Uint8Array }>;
  };
  const out: { code: number; message: string; retryDelayMs?: number } = { code: s.code, message: s.message };
  for (const d of s.details) {
    if (d.type_url !== 'type.googleapis.com/google.rpc.RetryInfo') continue;
    const info = RetryInfo.toObject(RetryInfo.decode(d.value), { longs: Number, defaults: true }) as { retry_delay?: { seconds: number; nanos: number } };
    out.retryDelayMs = (info.retry_delay?.seconds ?? 0) * 1000 + (info.retry_delay?.nanos ?? 0) / 1e6;
  }
  return out;
}

/** Decodes an ExportTraceServiceResponse into { rejected_spans, error_message }, or {} for full success. */
export function decodeExportResponse(bytes: Uint8Array): { rejected_spans?: number; error_message?: string } {
  const r = ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(bytes), { longs: Number }) as {
    partial_success?: { rejected_spans?: number; error_message?: string };
  };
  return r.partial_success ?? {};
}

let spanCounter = 0;

/**
 * A valid protobuf request with `count` spans; `badIds` of them have an all-zero span id. Ids are
 * fresh each call.
 */
export function protobufRequest(count = 1, badIds = 0): Buffer {
  const traceId = Buffer.alloc(16, 0xab);
  traceId.writeUInt32BE(++spanCounter, 0);
  const spans = [];
  for (let i = 0; i < count; i++) {
    const spanId = Buffer.alloc(8);
    if (i >= badIds) spanId.writeUInt32BE(++spanCounter, 4);
    spans.push({ trace_id: traceId, span_id: spanId, name: `span-${i}`, kind: 2, start_time_unix_nano: 1_700_000_000_000_000_000, end_time_unix_nano: 1_700_000_000_100_000_000 });
  }
  const msg = ExportTraceServiceRequest.fromObject({
    resource_spans: [{ resource: { attributes: [{ key: 'service.name', value: { string_value: 'bad-input-test' } }] }, scope_spans: [{ spans }] }],
  });
  return Buffer.from(ExportTraceServiceRequest.encode(msg).finish());
}

/** The OTLP/JSON counterpart of `protobufRequest`. */
export function jsonRequest(count = 1, badIds = 0): Buffer {
  const traceId = (++spanCounter).toString(16).padStart(8, '0') + 'ab'.repeat(12);
  const spans = [];
  for (let i = 0; i < count; i++) {
    const spanId = i < badIds ? '0'.repeat(16) : (++spanCounter).toString(16).padStart(16, '0');
    spans.push({ traceId, spanId, name: `span-${i}`, kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000100000000' });
  }
  return Buffer.from(JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bad-input-test' } }] }, scopeSpans: [{ spans }] }] }));
}
