/**
 * The SkyWalking `sw8` header (apache/skywalking docs/en/api/x-process-propagation-headers-v3.md;
 * docs/skywalking-model.md "sw8"). Pure: strings in, values out.
 *
 *   sw8: 1-<traceId>-<parentSegmentId>-<parentSpanId>-<service>-<instance>-<endpoint>-<address>
 *
 * String fields are standard, padded Base64 of UTF-8 (never base64url: `-` is the separator and
 * is not in the standard alphabet); the sample flag and the span id are plain decimal.
 *
 * Decoding has two modes:
 * - default (the Node agent's `ContextCarrier`): exactly 8 parts, Base64 decoded as Buffer does
 *   (lenient), and valid when trace id, segment id, service and endpoint are non-empty and the span
 *   id is a non-negative decimal integer. Instance and address may be empty.
 * - `strict` (the Java agent's `ContextCarrier.isValid`): additionally every Base64 field must use
 *   only the standard alphabet with correct padding (Java's decoder throws otherwise), the span id
 *   must be an int32 written as Java's `Integer.parseInt` reads it, and all six string fields must
 *   be non-empty.
 * Both agents ignore the sample flag on extract (the header's presence means "trace"); it is
 * decoded as sampled unless it is `0`.
 */
import type { SkyWalkingParent } from './skywalking-continuation.ts';

export const SW8_HEADER = 'sw8';

export interface Sw8DecodeOptions {
  /** Java agent validity rules instead of the Node agent's. */
  strict?: boolean;
}

const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const JAVA_INT = /^[+-]?\d+$/;
const INT32_MAX = 2 ** 31 - 1;

function encodeField(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function decodeField(field: string, strict: boolean): string | undefined {
  if (strict && !STANDARD_BASE64.test(field)) return undefined;
  return Buffer.from(field, 'base64').toString('utf8');
}

function parseSpanId(text: string, strict: boolean): number | undefined {
  if (strict) {
    if (!JAVA_INT.test(text)) return undefined;
    const n = Number(text);
    return n >= 0 && n <= INT32_MAX ? n : undefined;
  }
  // Node reads it with Number.parseInt(text, 10), so "3x" is 3; a negative id is never valid.
  const n = Number.parseInt(text, 10);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Decodes an `sw8` header value; undefined when it is absent or invalid for the chosen mode. */
export function decodeSw8(header: string | readonly string[] | undefined, options: Sw8DecodeOptions = {}): SkyWalkingParent | undefined {
  const value = typeof header === 'string' ? header : header?.[0];
  if (!value) return undefined;
  const strict = options.strict === true;
  const parts = value.trim().split('-');
  if (parts.length !== 8) return undefined;
  const [flag, traceB64, segmentB64, spanText, serviceB64, instanceB64, endpointB64, addressB64] = parts as [string, string, string, string, string, string, string, string];
  const fields = [traceB64, segmentB64, serviceB64, instanceB64, endpointB64, addressB64].map((f) => decodeField(f, strict));
  if (fields.some((f) => f === undefined)) return undefined;
  const [traceId, parentSegmentId, parentService, parentServiceInstance, parentEndpoint, addressUsedAtClient] = fields as string[] as [string, string, string, string, string, string];
  const parentSpanId = parseSpanId(spanText, strict);
  if (parentSpanId === undefined || !traceId || !parentSegmentId || !parentService || !parentEndpoint) return undefined;
  if (strict && (!parentServiceInstance || !addressUsedAtClient)) return undefined;
  return { sampled: flag !== '0', traceId, parentSegmentId, parentSpanId, parentService, parentServiceInstance, parentEndpoint, addressUsedAtClient };
}

/** The `sw8` header value for `p`, as the agents write it. */
export function encodeSw8(p: SkyWalkingParent): string {
  return [
    p.sampled ? '1' : '0',
    encodeField(p.traceId),
    encodeField(p.parentSegmentId),
    String(Math.trunc(p.parentSpanId)),
    encodeField(p.parentService),
    encodeField(p.parentServiceInstance),
    encodeField(p.parentEndpoint),
    encodeField(p.addressUsedAtClient),
  ].join('-');
}
