/**
 * Decodes an OTLP/JSON `ExportTraceServiceRequest` into a SpanBatch, following the OTLP/JSON rules
 * (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding"): lowerCamelCase keys (the
 * original snake_case names are accepted too, as protobuf's JSON parsers do), trace and span ids as
 * hex (not base64), enums as integers or their names, 64-bit integers as strings or numbers, unknown
 * keys ignored, `null` read as the field's default.
 */
import { bodyText } from '../../core/http/body-text.ts';
import { echo, InvalidInputError } from '../../core/errors.ts';
import { setAttribute } from '../../core/model/attributes.ts';
import type {
  AttributeValue,
  Attributes,
  InstrumentationScope,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  SpanEvent,
  SpanKind,
  SpanLink,
  SpanStatus,
  StatusCode,
} from '../../core/model/span-batch.ts';
import { SpanRejections } from '../../core/model/span-rejections.ts';
import { spanTimeProblem } from '../../core/model/span-times.ts';
import { ZERO_SPAN_ID, spanIdProblem, type DecodedTraces } from './decoded-traces.ts';

type Json = Record<string, unknown>;

/** Nesting allowed inside an attribute value; real SDKs use one or two levels. */
const MAX_VALUE_DEPTH = 32;

const SPAN_KIND_NAMES: Record<string, SpanKind> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODE_NAMES: Record<string, StatusCode> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

/**
 * Decodes a UTF-8 OTLP/JSON body. Spans whose ids are missing, all zeros, not hex or of the wrong
 * length are left out and counted in `rejectedSpans`.
 *
 * @throws InvalidInputError when the body is not JSON or a field has the wrong type; the message
 *   names the field's path (`resourceSpans[0].scopeSpans[0].spans[3].startTimeUnixNano`).
 */
export function decodeJsonTraces(body: Uint8Array | string): DecodedTraces {
  let text = typeof body === 'string' ? body : bodyText(body);
  // A UTF-8 byte order mark is legal before JSON text (RFC 8259 §8.1 lets parsers ignore it); JSON.parse is not.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`Cannot decode OTLP/JSON ExportTraceServiceRequest: ${err instanceof Error ? err.message : String(err)}.`, err);
  }
  return new JsonTraceDecoder().decode(doc);
}

class JsonTraceDecoder {
  readonly #rejections = new SpanRejections('rejected for invalid trace_id/span_id');
  #spanCount = 0;
  // Where the decoder is, for error messages only. Kept as indices and constant strings so the happy
  // path builds no path strings; `#fail` assembles them.
  #rs = -1;
  #ss = -1;
  #sp = -1;
  /** 'events' or 'links' while inside one, with its index. */
  #sub = '';
  #subIndex = -1;
  /** Key of the attribute being decoded. */
  #key: string | undefined;

  decode(doc: unknown): DecodedTraces {
    const root = this.#object(doc, '');
    const resourceSpans: ResourceSpans[] = [];
    const list = this.#array(pick(root, 'resourceSpans', 'resource_spans'), 'resourceSpans');
    for (let i = 0; i < list.length; i++) {
      this.#rs = i;
      const rs = this.#resourceSpans(list[i]);
      if (rs.scopeSpans.length > 0) resourceSpans.push(rs);
    }
    return {
      batch: { resourceSpans },
      spanCount: this.#spanCount,
      rejectedSpans: this.#rejections.count,
      rejectMessage: this.#rejections.message(),
    };
  }

  #resourceSpans(v: unknown): ResourceSpans {
    const o = this.#object(v, '');
    const resource = this.#resource(o.resource);
    const scopeSpans: ScopeSpans[] = [];
    const list = this.#array(pick(o, 'scopeSpans', 'scope_spans'), 'scopeSpans');
    for (let i = 0; i < list.length; i++) {
      this.#ss = i;
      const ss = this.#scopeSpans(list[i]);
      if (ss.spans.length > 0) scopeSpans.push(ss);
    }
    this.#ss = -1;
    return { resource, scopeSpans, schemaUrl: this.#string(pick(o, 'schemaUrl', 'schema_url'), 'schemaUrl') };
  }

  #resource(v: unknown): Resource {
    if (v == null) return { attributes: {}, droppedAttributesCount: 0 };
    const o = this.#object(v, 'resource');
    return {
      attributes: this.#attributes(o.attributes, 'resource.attributes'),
      droppedAttributesCount: this.#uint32(pick(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'resource.droppedAttributesCount'),
    };
  }

  #scopeSpans(v: unknown): ScopeSpans {
    const o = this.#object(v, '');
    const scope = this.#scope(o.scope);
    const spans: Span[] = [];
    const list = this.#array(o.spans, 'spans');
    for (let i = 0; i < list.length; i++) {
      this.#sp = i;
      const span = this.#span(list[i]);
      if (span !== undefined) spans.push(span);
    }
    this.#sp = -1;
    this.#spanCount += spans.length;
    return { scope, spans, schemaUrl: this.#string(pick(o, 'schemaUrl', 'schema_url'), 'schemaUrl') };
  }

  #scope(v: unknown): InstrumentationScope {
    if (v == null) return { name: '', version: '', attributes: {}, droppedAttributesCount: 0 };
    const o = this.#object(v, 'scope');
    return {
      name: this.#string(o.name, 'scope.name'),
      version: this.#string(o.version, 'scope.version'),
      attributes: this.#attributes(o.attributes, 'scope.attributes'),
      droppedAttributesCount: this.#uint32(pick(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'scope.droppedAttributesCount'),
    };
  }

  #span(v: unknown): Span | undefined {
    const o = this.#object(v, '');
    const traceId = hexId(pick(o, 'traceId', 'trace_id'), 32);
    const spanId = hexId(pick(o, 'spanId', 'span_id'), 16);
    let parentSpanId = hexId(pick(o, 'parentSpanId', 'parent_span_id'), 16);
    // An all-zero parent is what some SDKs send for "no parent"; it is read as a root span.
    if (parentSpanId === ZERO_SPAN_ID) parentSpanId = '';
    const startTimeUnixNano = this.#nanos(pick(o, 'startTimeUnixNano', 'start_time_unix_nano'), 'startTimeUnixNano');
    const endTimeUnixNano = this.#nanos(pick(o, 'endTimeUnixNano', 'end_time_unix_nano'), 'endTimeUnixNano');
    const problem = spanIdProblem(traceId, spanId, parentSpanId) ?? spanTimeProblem(startTimeUnixNano, endTimeUnixNano);
    if (problem !== undefined) {
      this.#rejections.add(`resourceSpans[${this.#rs}].scopeSpans[${this.#ss}].spans[${this.#sp}]`, problem);
      return undefined;
    }

    const events: SpanEvent[] = [];
    const eventList = this.#array(o.events, 'events');
    this.#sub = 'events';
    for (let i = 0; i < eventList.length; i++) {
      this.#subIndex = i;
      events.push(this.#event(eventList[i]));
    }
    this.#sub = '';

    const links: SpanLink[] = [];
    let droppedLinksCount = this.#uint32(pick(o, 'droppedLinksCount', 'dropped_links_count'), 'droppedLinksCount');
    const linkList = this.#array(o.links, 'links');
    this.#sub = 'links';
    for (let i = 0; i < linkList.length; i++) {
      this.#subIndex = i;
      const link = this.#link(linkList[i]);
      // A link that points nowhere is dropped on its own; the span itself is still good.
      if (link === undefined) droppedLinksCount++;
      else links.push(link);
    }
    this.#sub = '';

    return {
      traceId: traceId!,
      spanId: spanId!,
      parentSpanId: parentSpanId!,
      traceState: this.#string(pick(o, 'traceState', 'trace_state'), 'traceState'),
      flags: this.#uint32(o.flags, 'flags'),
      name: this.#string(o.name, 'name'),
      kind: this.#enum(o.kind, SPAN_KIND_NAMES, 5, 'kind') as SpanKind,
      startTimeUnixNano,
      endTimeUnixNano,
      attributes: this.#attributes(o.attributes, 'attributes'),
      droppedAttributesCount: this.#uint32(pick(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
      events,
      droppedEventsCount: this.#uint32(pick(o, 'droppedEventsCount', 'dropped_events_count'), 'droppedEventsCount'),
      links,
      droppedLinksCount,
      status: this.#status(o.status),
    };
  }

  #event(v: unknown): SpanEvent {
    const o = this.#object(v, '');
    return {
      timeUnixNano: this.#nanos(pick(o, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano'),
      name: this.#string(o.name, 'name'),
      attributes: this.#attributes(o.attributes, 'attributes'),
      droppedAttributesCount: this.#uint32(pick(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    };
  }

  #link(v: unknown): SpanLink | undefined {
    const o = this.#object(v, '');
    const traceId = hexId(pick(o, 'traceId', 'trace_id'), 32);
    const spanId = hexId(pick(o, 'spanId', 'span_id'), 16);
    if (spanIdProblem(traceId, spanId, '') !== undefined) return undefined;
    return {
      traceId: traceId!,
      spanId: spanId!,
      traceState: this.#string(pick(o, 'traceState', 'trace_state'), 'traceState'),
      attributes: this.#attributes(o.attributes, 'attributes'),
      droppedAttributesCount: this.#uint32(pick(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
      flags: this.#uint32(o.flags, 'flags'),
    };
  }

  #status(v: unknown): SpanStatus {
    if (v == null) return { code: 0, message: '' };
    const o = this.#object(v, 'status');
    return {
      code: this.#enum(o.code, STATUS_CODE_NAMES, 2, 'status.code') as StatusCode,
      message: this.#string(o.message, 'status.message'),
    };
  }

  /** A list of KeyValue as an attribute map; `field` names the list in errors. */
  #attributes(v: unknown, field: string): Attributes {
    const attrs: Attributes = {};
    const list = this.#array(v, field);
    for (let i = 0; i < list.length; i++) {
      this.#key = undefined;
      this.#keyValue(list[i], attrs, field, 0);
    }
    this.#key = undefined;
    return attrs;
  }

  #keyValue(v: unknown, into: Record<string, AttributeValue>, field: string, depth: number): void {
    const kv = this.#object(v, field);
    const key = this.#string(kv.key, field);
    // Error messages name the outermost key; nested kvlist keys are not tracked.
    if (depth === 0) this.#key = key;
    // A KeyValue without a value (or with an empty AnyValue) is left out: the model has no null.
    const value = kv.value == null ? undefined : this.#anyValue(kv.value, field, depth);
    if (value !== undefined) setAttribute(into, key, value);
  }

  #anyValue(v: unknown, field: string, depth: number): AttributeValue | undefined {
    if (depth >= MAX_VALUE_DEPTH) this.#fail(field, `values nested deeper than ${MAX_VALUE_DEPTH} levels`);
    const o = this.#object(v, field);
    let x: unknown;
    if ((x = pick(o, 'stringValue', 'string_value')) != null) {
      if (typeof x === 'string') return x;
    } else if ((x = pick(o, 'intValue', 'int_value')) != null) {
      const n = parseInt64(x);
      if (n !== undefined) return n;
    } else if ((x = pick(o, 'doubleValue', 'double_value')) != null) {
      const d = parseDouble(x);
      if (d !== undefined) return d;
    } else if ((x = pick(o, 'boolValue', 'bool_value')) != null) {
      if (typeof x === 'boolean') return x;
    } else if ((x = pick(o, 'arrayValue', 'array_value')) != null) {
      if (typeof x === 'object' && !Array.isArray(x)) {
        const list = this.#array((x as Json).values, field);
        const out: AttributeValue[] = [];
        for (const item of list) {
          const value = item == null ? undefined : this.#anyValue(item, field, depth + 1);
          if (value !== undefined) out.push(value);
        }
        return out;
      }
    } else if ((x = pick(o, 'kvlistValue', 'kvlist_value')) != null) {
      if (typeof x === 'object' && !Array.isArray(x)) {
        const list = this.#array((x as Json).values, field);
        const out: Record<string, AttributeValue> = {};
        for (const item of list) this.#keyValue(item, out, field, depth + 1);
        return out;
      }
    } else if ((x = pick(o, 'bytesValue', 'bytes_value')) != null) {
      if (typeof x === 'string' && BASE64.test(x)) return new Uint8Array(Buffer.from(x, 'base64'));
    } else {
      return undefined;
    }
    return this.#fail(field, `value ${truncate(JSON.stringify(o))} does not match its type`);
  }

  #object(v: unknown, field: string): Json {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Json;
    return this.#fail(field, `expected an object, got ${describe(v)}`);
  }

  /** An absent or null repeated field is empty. */
  #array(v: unknown, field: string): unknown[] {
    if (Array.isArray(v)) return v;
    if (v == null) return [];
    return this.#fail(field, `expected an array, got ${describe(v)}`);
  }

  #string(v: unknown, field: string): string {
    if (typeof v === 'string') return v;
    if (v == null) return '';
    return this.#fail(field, `expected a string, got ${describe(v)}`);
  }

  #uint32(v: unknown, field: string): number {
    if (v == null) return 0;
    const n = typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff) return n;
    return this.#fail(field, `expected an unsigned 32-bit integer, got ${describe(v)}`);
  }

  /** Unknown numbers or names (a newer proto) read as 0 (UNSPECIFIED/UNSET). */
  #enum(v: unknown, names: Record<string, number>, max: number, field: string): number {
    if (v == null) return 0;
    if (typeof v === 'number' && Number.isInteger(v)) return v >= 0 && v <= max ? v : 0;
    if (typeof v === 'string') return Object.hasOwn(names, v) ? names[v]! : 0;
    return this.#fail(field, `expected an enum number or name, got ${describe(v)}`);
  }

  /** fixed64 unix nanoseconds: a decimal string (the OTLP/JSON form) or a JSON number. */
  #nanos(v: unknown, field: string): bigint {
    if (typeof v === 'string' && /^\d{1,20}$/.test(v)) {
      const n = BigInt(v);
      if (n <= 0xffffffffffffffffn) return n;
    } else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) {
      return BigInt(v);
    } else if (v == null) {
      return 0n;
    }
    return this.#fail(field, `expected unix nanoseconds as a decimal string or integer, got ${describe(v)}`);
  }

  #fail(field: string, problem: string): never {
    const parts: string[] = [];
    if (this.#rs >= 0) parts.push(`resourceSpans[${this.#rs}]`);
    if (this.#ss >= 0) parts.push(`scopeSpans[${this.#ss}]`);
    if (this.#sp >= 0) parts.push(`spans[${this.#sp}]`);
    if (this.#sub !== '') parts.push(`${this.#sub}[${this.#subIndex}]`);
    if (field !== '') parts.push(this.#key === undefined ? field : `${field}[${JSON.stringify(echo(this.#key))}]`);
    const at = parts.length === 0 ? 'the top level' : parts.join('.');
    throw new InvalidInputError(`Cannot decode OTLP/JSON ExportTraceServiceRequest: at ${at}: ${problem}.`);
  }
}

/** `o[camel]`, else `o[snake]`: protobuf JSON parsers accept both spellings of a field name. */
function pick(o: Json, camel: string, snake: string): unknown {
  const v = o[camel];
  return v !== undefined ? v : o[snake];
}

/**
 * A hex id of `chars` characters, lower-cased; '' when absent or empty; undefined when it is not hex
 * of that length (the caller rejects the span).
 */
function hexId(v: unknown, chars: number): string | undefined {
  if (v == null || v === '') return '';
  if (typeof v !== 'string' || v.length !== chars) return undefined;
  if (LOWER_HEX.test(v)) return v;
  return ANY_HEX.test(v) ? v.toLowerCase() : undefined;
}
const LOWER_HEX = /^[0-9a-f]+$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const ANY_HEX = /^[0-9a-fA-F]+$/;

/** int64 from a decimal string or JSON number: a number when it is a safe integer, else a bigint. */
function parseInt64(v: unknown): number | bigint | undefined {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return undefined;
    return Number.isSafeInteger(v) ? v : BigInt(v);
  }
  if (typeof v !== 'string' || !/^-?\d{1,19}$/.test(v)) return undefined;
  // Up to 15 digits always fits a double exactly; longer ones go through BigInt to check.
  if (v.length <= 15) return Number(v);
  const n = BigInt(v);
  if (n > 0x7fffffffffffffffn || n < -0x8000000000000000n) return undefined;
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n;
}

/** A JSON number, or the strings protobuf JSON allows for doubles ("NaN", "Infinity", "1.5"). */
function parseDouble(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) ? n : undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${truncate(JSON.stringify(v))}`;
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
