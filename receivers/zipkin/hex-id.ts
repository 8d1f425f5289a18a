/**
 * Zipkin id rules (zipkin2.Span.normalizeTraceId / normalizeSpanId): ids are lower-hex, shorter ids
 * are left-padded with zeros, a 128-bit trace id whose high 64 bits are zero is the 64-bit id, and an
 * all-zero id is invalid. We also accept upper-case hex (OTLP treats ids case-insensitively), which
 * Zipkin's server rejects.
 */
import { SpanProblem } from './decoded-spans.ts';

const HEX = /^[0-9a-fA-F]+$/;
const ZERO16 = '0000000000000000';

/** A trace id as Zipkin normalises it: 16 or 32 lower-hex characters. @throws SpanProblem */
export function traceIdFromHex(text: string, field = 'traceId'): string {
  if (text.length === 0 || text.length > 32 || !HEX.test(text)) {
    throw new SpanProblem(`${field} must be 1 to 32 hex characters, got ${JSON.stringify(text.slice(0, 40))}`);
  }
  const id = text.toLowerCase();
  const padded = id.padStart(id.length <= 16 ? 16 : 32, '0');
  if (padded.length === 32 && padded.startsWith(ZERO16)) return checkNotZero(padded.slice(16), field);
  return checkNotZero(padded, field);
}

/** A span id: 16 lower-hex characters. @throws SpanProblem */
export function spanIdFromHex(text: string, field = 'id'): string {
  if (text.length === 0 || text.length > 16 || !HEX.test(text)) {
    throw new SpanProblem(`${field} must be 1 to 16 hex characters, got ${JSON.stringify(text.slice(0, 40))}`);
  }
  return checkNotZero(text.toLowerCase().padStart(16, '0'), field);
}

/** Lower-hex of raw id bytes (proto3 ids are big-endian bytes). */
export function hexFromBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * The internal model's 32-character trace id. A 64-bit Zipkin id is left-padded with zeros, so the
 * same 64-bit id maps to the same trace id whichever format or request it arrives in (and matches
 * how B3 propagators widen 64-bit ids).
 */
export function otelTraceId(zipkinTraceId: string): string {
  return zipkinTraceId.padStart(32, '0');
}

function checkNotZero(id: string, field: string): string {
  if (/^0+$/.test(id)) throw new SpanProblem(`${field} is all zeros`);
  return id;
}
