/**
 * A cheap estimate of how many bytes spans take once encoded as an OTLP ExportTraceServiceRequest
 * (the field layout of core/model/otlp-protobuf-encoder.ts), so `send_batch_max_bytes` can cap a
 * batch without encoding it. Each length-delimited field is counted as tag + length varint + payload;
 * strings are counted in UTF-8 bytes. The estimate is close to the encoder's output for ordinary
 * spans (see estimate-size.test.ts), and errs on the high side rather than the low.
 */
import type { AttributeValue, Attributes, InstrumentationScope, Resource, Span } from '../../core/model/span-batch.ts';

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

/** One length-delimited field (1-byte tag) holding `payload` bytes. */
function delimited(payload: number): number {
  return 1 + varintBytes(payload) + payload;
}

function textBytes(s: string): number {
  return s === '' ? 0 : delimited(Buffer.byteLength(s, 'utf8'));
}

function anyValueBytes(v: AttributeValue): number {
  switch (typeof v) {
    case 'string':
      return delimited(Buffer.byteLength(v, 'utf8'));
    case 'boolean':
      return 2;
    case 'number':
    case 'bigint':
      return 11; // tag + up to 10 bytes of varint, or tag + 8 for a double
    default:
      break;
  }
  if (v instanceof Uint8Array) return delimited(v.length);
  if (Array.isArray(v)) {
    let inner = 0;
    for (const item of v) inner += delimited(anyValueBytes(item));
    return delimited(inner);
  }
  return delimited(attributesBytes(v as Attributes));
}

/** Repeated KeyValue: each one a delimited message of key and value. */
export function attributesBytes(attrs: Attributes): number {
  let total = 0;
  for (const key of Object.keys(attrs)) total += delimited(textBytes(key) + delimited(anyValueBytes(attrs[key]!)));
  return total;
}

/** One span inside ScopeSpans, including its own tag and length. */
export function estimateSpanBytes(s: Span): number {
  let n = 18 + 10; // trace_id (16 bytes) and span_id (8 bytes), each with tag and length
  if (s.parentSpanId !== '') n += 10;
  n += textBytes(s.traceState) + textBytes(s.name);
  n += 2 + 9 + 9 + 5; // kind, two fixed64 times, fixed32 flags
  n += attributesBytes(s.attributes);
  for (const e of s.events) n += delimited(9 + textBytes(e.name) + attributesBytes(e.attributes));
  for (const l of s.links) n += delimited(28 + textBytes(l.traceState) + attributesBytes(l.attributes) + 5);
  if (s.status.code !== 0 || s.status.message !== '') n += delimited(2 + textBytes(s.status.message));
  return delimited(n);
}

/** A ResourceSpans envelope without its spans: the resource and its schema URL. */
export function estimateResourceBytes(resource: Resource, schemaUrl: string): number {
  return 1 + 3 + delimited(attributesBytes(resource.attributes)) + textBytes(schemaUrl);
}

/** A ScopeSpans envelope without its spans: the scope and its schema URL. */
export function estimateScopeBytes(scope: InstrumentationScope, schemaUrl: string): number {
  return 1 + 3 + delimited(textBytes(scope.name) + textBytes(scope.version) + attributesBytes(scope.attributes)) + textBytes(schemaUrl);
}
