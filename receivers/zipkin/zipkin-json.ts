/**
 * Reading the JSON values v1 and v2 Zipkin JSON share: the top-level list, endpoints, microsecond
 * times and strings. Unusable optional endpoint fields are ignored, as Zipkin's Endpoint builder
 * ignores an unparsable IP; unusable times or types make the span a SpanProblem.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidInputError } from '../../core/errors.ts';
import { bodyText } from '../../core/http/body-text.ts';
import { SpanProblem } from './decoded-spans.ts';
import type { ZipkinEndpoint } from './zipkin-span.ts';

/** A decoded JSON object. */
export type JsonObject = Record<string, unknown>;

/**
 * Parses a body that must be a JSON array of span objects.
 *
 * @throws InvalidInputError when it is not JSON or not an array; `format` names what was expected.
 */
export function parseJsonList(body: Uint8Array, format: string): unknown[] {
  const text = bodyText(body);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`Expected a ${format} encoded list: the body is not JSON (${err instanceof Error ? err.message : String(err)}).`, err);
  }
  if (!Array.isArray(doc)) {
    throw new InvalidInputError(`Expected a ${format} encoded list: the body is JSON but not an array of spans (got ${describeJson(doc)}).`);
  }
  return doc;
}

/** `value` as an object, or SpanProblem naming `field`. */
export function asObject(value: unknown, field: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SpanProblem(`${field} must be an object, got ${describeJson(value)}`);
  }
  return value as JsonObject;
}

/** A required string field. */
export function requiredString(obj: JsonObject, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new SpanProblem(`${where}${key} must be a string, got ${describeJson(v)}`);
  return v;
}

/** An optional string field: undefined when absent, null or empty. */
export function optionalString(obj: JsonObject, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new SpanProblem(`${where}${key} must be a string, got ${describeJson(v)}`);
  return v;
}

/**
 * Epoch or duration microseconds: a JSON number (fractions are rounded, as some senders divide
 * nanoseconds) or a decimal string. 0, null and absent mean "not set", as in Zipkin.
 */
export function optionalMicros(obj: JsonObject, key: string, where: string): bigint | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  let micros: bigint;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) micros = BigInt(Math.round(v));
  else if (typeof v === 'string' && /^\d{1,19}$/.test(v)) micros = BigInt(v);
  else throw new SpanProblem(`${where}${key} must be a non-negative number of microseconds, got ${describeJson(v)}`);
  return micros === 0n ? undefined : micros;
}

/** An optional boolean; anything but `true` is false (Zipkin only reads `true`). */
export function flag(obj: JsonObject, key: string): boolean {
  return obj[key] === true;
}

/** A v1 or v2 JSON endpoint; undefined when absent or carrying nothing usable. */
export function readEndpoint(value: unknown, where: string): ZipkinEndpoint | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = asObject(value, where);
  const serviceName = typeof obj.serviceName === 'string' && obj.serviceName !== '' ? obj.serviceName : undefined;
  let ipv4 = typeof obj.ipv4 === 'string' && isIPv4(obj.ipv4) ? obj.ipv4 : undefined;
  let ipv6 = typeof obj.ipv6 === 'string' && isIPv6(obj.ipv6) ? obj.ipv6 : undefined;
  // Zipkin stores an IPv4-mapped IPv6 address as IPv4.
  const mapped = ipv6 === undefined ? undefined : /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ipv6);
  if (mapped) {
    ipv4 ??= mapped[1];
    ipv6 = undefined;
  }
  const p = obj.port;
  const port = typeof p === 'number' && Number.isInteger(p) && p > 0 && p <= 0xffff ? p : undefined;
  if (serviceName === undefined && ipv4 === undefined && ipv6 === undefined && port === undefined) return undefined;
  return { serviceName, ipv4, ipv6, port };
}

/** A short description of a JSON value for error messages (never the whole value). */
export function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}
