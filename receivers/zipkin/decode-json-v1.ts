/**
 * Zipkin v1 JSON (`POST /api/v1/spans`): an array of spans with `traceId`, `id`, `parentId`, `name`,
 * `timestamp`/`duration` (µs), `debug`, `annotations` [{timestamp, value, endpoint}] and
 * `binaryAnnotations` [{key, value, endpoint}], read as the Zipkin server's V1 JSON reader does, then
 * converted to v2 spans (`convertV1Span`).
 *
 * Binary annotation values: a string is a tag; `true` under `ca`/`sa`/`ma` with an endpoint is an
 * address. Zipkin drops every other value; we keep numbers and other booleans as their text, since a
 * tag is more useful than a silent loss.
 */
import { InvalidInputError } from '../../core/errors.ts';
import { SpanRejections } from '../../core/model/span-rejections.ts';
import { SpanProblem, type DecodedSpans } from './decoded-spans.ts';
import { convertV1Span } from './convert-v1-span.ts';
import { spanIdFromHex, traceIdFromHex } from './hex-id.ts';
import { ADDRESS_KEYS, type V1Annotation, type V1BinaryAnnotation, type V1Span } from './v1-span.ts';
import { asObject, describeJson, flag, optionalMicros, optionalString, parseJsonList, readEndpoint, requiredString, type JsonObject } from './zipkin-json.ts';
import type { ZipkinSpan } from './zipkin-span.ts';

/** Keys only v2 spans have (Zipkin's server looks for `...Endpoint"` and `"tags"`). */
const V2_ONLY_KEYS = ['localEndpoint', 'remoteEndpoint', 'tags', 'kind', 'shared'] as const;

/**
 * Decodes a v1 JSON body into v2 spans. Spans with unusable ids or fields are left out and counted.
 *
 * @throws InvalidInputError when the body is not a JSON array, or is v2 JSON (a span has a key only
 *   v2 has, such as `localEndpoint` or `tags`; the Zipkin server refuses it the same way).
 */
export function decodeJsonV1(body: Uint8Array): DecodedSpans {
  const list = parseJsonList(body, 'JSON_V1');
  const v2Key = firstV2Key(list);
  if (v2Key !== undefined) {
    throw new InvalidInputError(
      `Expected a JSON_V1 encoded list, but received: JSON_V2 (spans with "${v2Key}"). Fix: POST Zipkin v2 spans to /api/v2/spans.`,
    );
  }
  const spans: ZipkinSpan[] = [];
  const rejections = new SpanRejections('left out');
  for (let i = 0; i < list.length; i++) {
    try {
      spans.push(...convertV1Span(readV1Span(asObject(list[i], 'the span'))));
    } catch (err) {
      if (!(err instanceof SpanProblem)) throw err;
      rejections.add(`spans[${i}]`, err.message);
    }
  }
  return { spans, rejected: rejections.count, rejectReason: rejections.message() };
}

function firstV2Key(list: unknown[]): string | undefined {
  for (const s of list) {
    if (typeof s !== 'object' || s === null) continue;
    for (const k of V2_ONLY_KEYS) if (Object.hasOwn(s, k)) return k;
  }
  return undefined;
}

function readV1Span(obj: JsonObject): V1Span {
  const parentId = optionalString(obj, 'parentId', '');
  return {
    traceId: traceIdFromHex(requiredString(obj, 'traceId', '')),
    id: spanIdFromHex(requiredString(obj, 'id', '')),
    parentId: parentId === undefined ? undefined : spanIdFromHex(parentId, 'parentId'),
    name: optionalString(obj, 'name', '') ?? '',
    timestamp: optionalMicros(obj, 'timestamp', '') ?? 0n,
    duration: optionalMicros(obj, 'duration', '') ?? 0n,
    debug: flag(obj, 'debug'),
    annotations: readAnnotations(obj.annotations),
    binaryAnnotations: readBinaryAnnotations(obj.binaryAnnotations),
  };
}

function readAnnotations(value: unknown): V1Annotation[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SpanProblem(`annotations must be an array, got ${describeJson(value)}`);
  return value.map((item, i) => {
    const where = `annotations[${i}].`;
    const a = asObject(item, `annotations[${i}]`);
    const timestamp = optionalMicros(a, 'timestamp', where);
    if (timestamp === undefined) throw new SpanProblem(`${where}timestamp is missing`);
    return { timestamp, value: requiredString(a, 'value', where), endpoint: readEndpoint(a.endpoint, `${where}endpoint`) };
  });
}

function readBinaryAnnotations(value: unknown): V1BinaryAnnotation[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SpanProblem(`binaryAnnotations must be an array, got ${describeJson(value)}`);
  const out: V1BinaryAnnotation[] = [];
  for (let i = 0; i < value.length; i++) {
    const where = `binaryAnnotations[${i}].`;
    const b = asObject(value[i], `binaryAnnotations[${i}]`);
    const key = requiredString(b, 'key', where);
    const endpoint = readEndpoint(b.endpoint, `${where}endpoint`);
    const v = b.value;
    if (typeof v === 'string') out.push({ key, stringValue: v, endpoint });
    else if (v === true && ADDRESS_KEYS.has(key)) {
      if (endpoint !== undefined) out.push({ key, stringValue: undefined, endpoint });
    } else if (typeof v === 'number' || typeof v === 'boolean') out.push({ key, stringValue: String(v), endpoint });
  }
  return out;
}
