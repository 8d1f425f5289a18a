/**
 * One POST to the `w3c` receiver → skybridge spans. The span's identity comes from the W3C headers
 * the producer had; its description from the JSON body (README.md has the full format):
 *
 *   traceparent (required) → trace id, and the parent span id (the caller, in another process)
 *   tracestate             → the span's trace state (dropped when invalid; never an error)
 *   baggage                → attributes `baggage.<key>` (body attributes win on a clash)
 *   body                   → one span object, or an array of them sharing the headers
 *
 * A span's own id is the body's `spanId`, or, when absent, the first 8 bytes of
 * sha256(trace id, parent id, name, start): a retried POST gives the same span, so the assembler
 * sees a duplicate rather than a second span. All-or-nothing: any problem refuses the whole request,
 * naming the span (by index) and the field.
 */
import { createHash } from 'node:crypto';
import { echo, InvalidInputError } from '../../core/errors.ts';
import type { AttributeValue, Attributes, InstrumentationScope, ResourceSpans, Span, SpanBatch } from '../../core/model/span-batch.ts';
import { SpanFlags, SpanKind, StatusCode } from '../../core/model/span-batch.ts';
import { spanTimeProblem } from '../../core/model/span-times.ts';
import { parseBaggage } from '../../core/propagation/baggage.ts';
import { isValidSpanId, parseTraceparentDetailed, type Traceparent } from '../../core/propagation/traceparent.ts';
import { serializeTracestate, tracestateEntries } from '../../core/propagation/tracestate.ts';

/** The W3C context of a request, read from its headers before the body. */
export interface W3cRequestContext {
  traceparent: Traceparent;
  /** Serialised, validated tracestate ('' when absent or invalid). */
  traceState: string;
  /** `baggage.<key>` → value. */
  baggageAttributes: Attributes;
}

export interface DecodedW3cSpans {
  batch: SpanBatch;
  /** The ids each span got, in body order (what the 202 answer lists). */
  ids: { traceId: string; spanId: string }[];
}

/** The instrumentation scope of every span this receiver makes. */
export const W3C_SCOPE: InstrumentationScope = { name: 'skybridge.receiver.w3c', version: '', attributes: {}, droppedAttributesCount: 0 };

const KINDS: Record<string, Span['kind']> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};
const STATUSES: Record<string, Span['status']['code']> = { unset: StatusCode.UNSET, ok: StatusCode.OK, error: StatusCode.ERROR };
const FIELDS = new Set(['name', 'kind', 'start', 'end', 'spanId', 'parentSpanId', 'status', 'attributes', 'service', 'instance']);
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;
/** Below this an epoch number is milliseconds (until the year 33658), from it on nanoseconds. */
const NANOS_FROM = 1e15;
const HEX16 = /^[0-9a-fA-F]{16}$/;

/**
 * Reads the request's W3C headers.
 *
 * @throws InvalidInputError when traceparent is missing or invalid (the span would have no identity).
 */
export function readW3cHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): W3cRequestContext {
  const parsed = parseTraceparentDetailed(headers['traceparent']);
  if (!parsed.ok) throw new InvalidInputError(`The traceparent header is required and must be valid W3C trace context: ${parsed.reason}.`);
  const baggageAttributes: Attributes = {};
  for (const m of parseBaggage(headers['baggage'])) baggageAttributes[`baggage.${m.key}`] ??= m.value;
  return { traceparent: parsed.value, traceState: serializeTracestate(tracestateEntries(headers['tracestate'])), baggageAttributes };
}

class FieldError extends Error {}

function fail(message: string): never {
  throw new FieldError(message);
}

/** Unix nanoseconds from RFC 3339 text, or an epoch number/digit string (ms below 1e15, else ns). */
export function parseTimestamp(value: unknown, field: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) fail(`${field} must be a positive epoch number`);
    if (value >= NANOS_FROM) return BigInt(Math.round(value));
    const ms = Math.floor(value);
    return BigInt(ms) * 1_000_000n + BigInt(Math.round((value - ms) * 1e6));
  }
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) {
      const n = BigInt(value);
      if (n === 0n) fail(`${field} must be a positive epoch number`);
      return n >= BigInt(NANOS_FROM) ? n : n * 1_000_000n;
    }
    const m = RFC3339.exec(value);
    if (m) {
      const seconds = Date.parse(`${m[1]}T${m[2]}${m[4]!.toUpperCase()}`);
      if (!Number.isNaN(seconds)) return BigInt(seconds) * 1_000_000n + BigInt((m[3] ?? '').padEnd(9, '0'));
    }
  }
  return fail(`${field} must be an RFC 3339 timestamp ("2026-05-01T10:00:00.123456Z"), epoch milliseconds, or epoch nanoseconds as a string`);
}

function attributeValue(value: unknown, field: string): AttributeValue | undefined {
  if (value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : fail(`${field} must be a finite number`);
  if (Array.isArray(value)) return value.flatMap((v, i) => (v === null ? [] : [attributeValue(v, `${field}[${i}]`)!]));
  if (typeof value === 'object') return attributes(value, field);
  return fail(`${field} has an unsupported type`);
}

function attributes(value: unknown, field: string): Attributes {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${field} must be an object of attribute values`);
  const out: Attributes = {};
  for (const [k, v] of Object.entries(value)) {
    const converted = attributeValue(v, `${field}.${k}`);
    if (converted !== undefined) out[k] = converted;
  }
  return out;
}

function text(value: unknown, field: string, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value === '') fail(`${field} must be a non-empty string`);
  return value;
}

function status(value: unknown, field: string): Span['status'] {
  if (value === undefined) return { code: StatusCode.UNSET, message: '' };
  const [codeText, message] = typeof value === 'string' ? [value, ''] : typeof value === 'object' && value !== null && !Array.isArray(value) ? [(value as { code?: unknown }).code, (value as { message?: unknown }).message ?? ''] : [undefined, ''];
  const code = typeof codeText === 'string' ? STATUSES[codeText.toLowerCase()] : undefined;
  if (code === undefined || typeof message !== 'string') fail(`${field} must be "unset", "ok", "error", or { "code": one of those, "message": text }`);
  return { code, message };
}

/** The span id a POST without one gets: stable across retries of the same request. */
export function derivedSpanId(traceId: string, parentId: string, name: string, startNanos: bigint): string {
  const id = createHash('sha256').update(`w3c-span:${traceId}/${parentId}/${name}/${startNanos}`).digest('hex').slice(0, 16);
  return id === '0'.repeat(16) ? '0'.repeat(15) + '1' : id;
}

interface SpanWithResource {
  span: Span;
  service: string;
  instance: string | undefined;
}

function decodeSpan(raw: unknown, where: string, ctx: W3cRequestContext): SpanWithResource {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${where || 'the body'} must be a span object`);
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!FIELDS.has(key)) fail(`${where}${echo(key)} is not a span field (known: ${[...FIELDS].join(', ')})`);
  const name = text(o.name, `${where}name`, true)!;
  const service = text(o.service, `${where}service`, true)!;
  const instance = text(o.instance, `${where}instance`, false);
  const kindText = o.kind === undefined ? 'internal' : o.kind;
  const kind = typeof kindText === 'string' ? KINDS[kindText.toLowerCase()] : undefined;
  if (kind === undefined) fail(`${where}kind must be one of ${Object.keys(KINDS).join(', ')}`);
  const start = parseTimestamp(o.start, `${where}start`);
  const end = parseTimestamp(o.end, `${where}end`);
  if (end < start) fail(`${where}end is before ${where}start`);
  // As every other field check here, an implausible time refuses the whole request (400).
  const timeProblem = spanTimeProblem(start, end);
  if (timeProblem !== undefined) fail(`${where}times are not plausible: ${timeProblem}`);
  const { traceId, parentId: callerId, traceFlags } = ctx.traceparent;
  let parentSpanId = callerId;
  if (o.parentSpanId !== undefined) {
    if (typeof o.parentSpanId !== 'string' || !HEX16.test(o.parentSpanId) || !isValidSpanId(o.parentSpanId.toLowerCase())) fail(`${where}parentSpanId must be 16 hex characters, not all zeros`);
    parentSpanId = o.parentSpanId.toLowerCase();
  }
  let spanId: string;
  if (o.spanId === undefined) spanId = derivedSpanId(traceId, parentSpanId, name, start);
  else {
    if (typeof o.spanId !== 'string' || !HEX16.test(o.spanId) || !isValidSpanId(o.spanId.toLowerCase())) fail(`${where}spanId must be 16 hex characters, not all zeros`);
    spanId = o.spanId.toLowerCase();
  }
  if (spanId === parentSpanId) fail(`${where}spanId equals its parent's id; a span cannot be its own parent`);
  const attrs = { ...ctx.baggageAttributes, ...attributes(o.attributes, `${where}attributes`) };
  // The traceparent's parent is the caller, in another process: remote. A parent named in the body
  // is another span of this request, in the same process.
  const remote = parentSpanId === callerId ? SpanFlags.CONTEXT_IS_REMOTE : 0;
  return {
    service,
    instance,
    span: {
      traceId,
      spanId,
      parentSpanId,
      traceState: ctx.traceState,
      flags: (traceFlags & 0xff) | SpanFlags.CONTEXT_HAS_IS_REMOTE | remote,
      name,
      kind,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      attributes: attrs,
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: status(o.status, `${where}status`),
    },
  };
}

/**
 * Decodes a JSON body (one span or an array) under the request's W3C context; spans are grouped
 * into one ResourceSpans per (service, instance).
 *
 * @throws InvalidInputError naming the first problem.
 */
export function decodeW3cSpans(ctx: W3cRequestContext, body: Buffer): DecodedW3cSpans {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidInputError(`The body is not JSON: ${(err as Error).message}.`);
  }
  const list = Array.isArray(json) ? json : [json];
  const decoded: SpanWithResource[] = [];
  try {
    list.forEach((raw, i) => decoded.push(decodeSpan(raw, Array.isArray(json) ? `[${i}].` : '', ctx)));
  } catch (err) {
    if (err instanceof FieldError) throw new InvalidInputError(`Invalid span: ${err.message}.`);
    throw err;
  }
  const seen = new Set<string>();
  for (const d of decoded) {
    if (seen.has(d.span.spanId)) throw new InvalidInputError(`Invalid span: two spans of the request have the span id ${d.span.spanId}.`);
    seen.add(d.span.spanId);
  }
  const byResource = new Map<string, ResourceSpans>();
  for (const d of decoded) {
    const key = `${d.service}\u0000${d.instance ?? ''}`;
    let rs = byResource.get(key);
    if (!rs) {
      const attrs: Attributes = { 'service.name': d.service };
      if (d.instance !== undefined) attrs['service.instance.id'] = d.instance;
      rs = { resource: { attributes: attrs, droppedAttributesCount: 0 }, scopeSpans: [{ scope: W3C_SCOPE, spans: [], schemaUrl: '' }], schemaUrl: '' };
      byResource.set(key, rs);
    }
    rs.scopeSpans[0]!.spans.push(d.span);
  }
  return { batch: { resourceSpans: [...byResource.values()] }, ids: decoded.map((d) => ({ traceId: d.span.traceId, spanId: d.span.spanId })) };
}
