/**
 * Zipkin v2 JSON (`POST /api/v2/spans`, zipkin-api `zipkin2-api.yaml` ListOfSpans): an array of span
 * objects with `traceId`, `id`, `parentId`, `kind`, `name`, `timestamp`/`duration` in microseconds,
 * `localEndpoint`/`remoteEndpoint`, `annotations`, `tags`, `debug`, `shared`. Unknown keys are
 * ignored, as Zipkin's reader does.
 */
import { InvalidInputError } from '../../core/errors.ts';
import { SpanRejections } from '../../core/model/span-rejections.ts';
import { SpanProblem, type DecodedSpans } from './decoded-spans.ts';
import { spanIdFromHex, traceIdFromHex } from './hex-id.ts';
import { asObject, describeJson, flag, optionalMicros, optionalString, parseJsonList, readEndpoint, requiredString, type JsonObject } from './zipkin-json.ts';
import { emptyZipkinSpan, type ZipkinAnnotation, type ZipkinKind, type ZipkinSpan } from './zipkin-span.ts';

const KINDS: ReadonlySet<string> = new Set<ZipkinKind>(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER']);

/**
 * Decodes a v2 JSON body. Spans with unusable ids or fields are left out and counted.
 *
 * @throws InvalidInputError when the body is not a JSON array, or is v1 JSON (a span has
 *   `binaryAnnotations`, which only v1 has; the Zipkin server refuses it the same way).
 */
export function decodeJsonV2(body: Uint8Array): DecodedSpans {
  const list = parseJsonList(body, 'JSON_V2');
  if (list.some((s) => typeof s === 'object' && s !== null && Object.hasOwn(s, 'binaryAnnotations'))) {
    throw new InvalidInputError(
      'Expected a JSON_V2 encoded list, but received: JSON_V1 (spans with "binaryAnnotations"). Fix: POST Zipkin v1 spans to /api/v1/spans, or configure the reporter for JSON_V2.',
    );
  }
  const spans: ZipkinSpan[] = [];
  const rejections = new SpanRejections('left out');
  for (let i = 0; i < list.length; i++) {
    try {
      spans.push(readSpan(asObject(list[i], 'the span')));
    } catch (err) {
      if (!(err instanceof SpanProblem)) throw err;
      rejections.add(`spans[${i}]`, err.message);
    }
  }
  return { spans, rejected: rejections.count, rejectReason: rejections.message() };
}

function readSpan(obj: JsonObject): ZipkinSpan {
  const span = emptyZipkinSpan(traceIdFromHex(requiredString(obj, 'traceId', '')), spanIdFromHex(requiredString(obj, 'id', '')));
  const parentId = optionalString(obj, 'parentId', '');
  if (parentId !== undefined) span.parentId = spanIdFromHex(parentId, 'parentId');
  const kind = optionalString(obj, 'kind', '')?.toUpperCase();
  // An unknown kind is read as absent rather than failing the span: the span is still useful.
  if (kind !== undefined && KINDS.has(kind)) span.kind = kind as ZipkinKind;
  span.name = optionalString(obj, 'name', '') ?? '';
  span.timestamp = optionalMicros(obj, 'timestamp', '');
  span.duration = optionalMicros(obj, 'duration', '');
  span.localEndpoint = readEndpoint(obj.localEndpoint, 'localEndpoint');
  span.remoteEndpoint = readEndpoint(obj.remoteEndpoint, 'remoteEndpoint');
  span.annotations = readAnnotations(obj.annotations);
  span.tags = readTags(obj.tags);
  span.debug = flag(obj, 'debug');
  span.shared = flag(obj, 'shared');
  return span;
}

function readAnnotations(value: unknown): ZipkinAnnotation[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SpanProblem(`annotations must be an array, got ${describeJson(value)}`);
  const out: ZipkinAnnotation[] = [];
  for (let i = 0; i < value.length; i++) {
    const where = `annotations[${i}].`;
    const a = asObject(value[i], `annotations[${i}]`);
    const timestamp = optionalMicros(a, 'timestamp', where);
    if (timestamp === undefined) throw new SpanProblem(`${where}timestamp is missing`);
    out.push({ timestamp, value: requiredString(a, 'value', where) });
  }
  return out;
}

/** Tag values are strings in v2; numbers and booleans some senders write are kept as their text. */
function readTags(value: unknown): Map<string, string> {
  const tags = new Map<string, string>();
  if (value === undefined || value === null) return tags;
  const obj = asObject(value, 'tags');
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (typeof v === 'string') tags.set(key, v);
    else if (typeof v === 'number' || typeof v === 'boolean') tags.set(key, String(v));
    else if (v !== null) throw new SpanProblem(`tags.${key} must be a string, got ${describeJson(v)}`);
  }
  return tags;
}
