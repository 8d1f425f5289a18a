/**
 * The benchmark's generated batches as Zipkin v2 JSON (the body of `POST /api/v2/spans`), shaped
 * the way @opentelemetry/exporter-zipkin writes them, which is how spans with these semantic
 * conventions reach a Zipkin endpoint in practice:
 *
 * - `traceId` 32 hex, `id` 16 hex, `parentId` 16 hex (absent on roots);
 * - `kind` CLIENT/SERVER/PRODUCER/CONSUMER, absent for INTERNAL;
 * - `timestamp` and `duration` in microseconds (duration at least 1);
 * - `localEndpoint: { serviceName }` only;
 * - `tags`: every span attribute as a string, then `otel.status_code` and `error` for a status,
 *   then every resource attribute (the exporter flattens the resource into each span's tags);
 * - `annotations`: one `{ timestamp, value: event name }` per event (event attributes are lost, as
 *   in the exporter).
 *
 * It also returns where each id's hex digits start in the bytes, so the request pool can give
 * later rounds fresh ids without re-encoding (see request-pool.ts).
 */
import type { AttributeValue, SpanBatch } from '../core/model/span-batch.ts';
import { SpanKind, StatusCode } from '../core/model/span-batch.ts';

export interface EncodedJson {
  bytes: Buffer;
  /** Byte offsets of the first hex digit of every `traceId` value (32 digits follow). */
  traceIdOffsets: number[];
  /** Byte offsets of the first hex digit of every `id` and `parentId` value (16 digits follow). */
  spanIdOffsets: number[];
}

const ZIPKIN_KIND: Record<number, string | undefined> = {
  [SpanKind.SERVER]: 'SERVER',
  [SpanKind.CLIENT]: 'CLIENT',
  [SpanKind.PRODUCER]: 'PRODUCER',
  [SpanKind.CONSUMER]: 'CONSUMER',
};
const STATUS_NAME: Record<number, string> = { [StatusCode.OK]: 'OK', [StatusCode.ERROR]: 'ERROR' };

/** `String(value)` as the exporter writes tag values. */
function tagText(value: AttributeValue): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(tagText).join(',');
  return String(value);
}

/** Appends text and keeps the running UTF-8 byte length, so offsets are byte offsets. */
class Writer {
  readonly #parts: string[] = [];
  length = 0;
  push(text: string): void {
    this.#parts.push(text);
    this.length += Buffer.byteLength(text);
  }
  toBuffer(): Buffer {
    return Buffer.from(this.#parts.join(''));
  }
}

export function encodeZipkinJsonV2(batch: SpanBatch): EncodedJson {
  const w = new Writer();
  const traceIdOffsets: number[] = [];
  const spanIdOffsets: number[] = [];
  let first = true;
  w.push('[');
  for (const rs of batch.resourceSpans) {
    const serviceName = tagText(rs.resource.attributes['service.name'] ?? 'unknown_service');
    const resourceTags = Object.entries(rs.resource.attributes).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(tagText(v))}`).join(',');
    const localEndpoint = `"localEndpoint":{"serviceName":${JSON.stringify(serviceName)}}`;
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        w.push(first ? '{"traceId":"' : ',{"traceId":"');
        first = false;
        traceIdOffsets.push(w.length);
        w.push(span.traceId);
        if (span.parentSpanId !== '') {
          w.push('","parentId":"');
          spanIdOffsets.push(w.length);
          w.push(span.parentSpanId);
        }
        w.push('","id":"');
        spanIdOffsets.push(w.length);
        w.push(span.spanId);
        w.push('"');
        const kind = ZIPKIN_KIND[span.kind];
        if (kind !== undefined) w.push(`,"kind":"${kind}"`);
        const startUs = span.startTimeUnixNano / 1000n;
        const durationUs = (span.endTimeUnixNano - span.startTimeUnixNano + 500n) / 1000n;
        w.push(`,"name":${JSON.stringify(span.name)},"timestamp":${startUs},"duration":${durationUs > 0n ? durationUs : 1n},${localEndpoint}`);
        if (span.events.length > 0) {
          w.push(`,"annotations":[${span.events.map((e) => `{"timestamp":${(e.timeUnixNano + 500n) / 1000n},"value":${JSON.stringify(e.name)}}`).join(',')}]`);
        }
        const tags = Object.entries(span.attributes).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(tagText(v))}`);
        const status = STATUS_NAME[span.status.code];
        if (status !== undefined) tags.push(`"otel.status_code":"${status}"`);
        if (span.status.code === StatusCode.ERROR && span.status.message !== '') tags.push(`"error":${JSON.stringify(span.status.message)}`);
        if (resourceTags !== '') tags.push(resourceTags);
        w.push(`,"tags":{${tags.join(',')}}}`);
      }
    }
  }
  w.push(']');
  return { bytes: w.toBuffer(), traceIdOffsets, spanIdOffsets };
}
