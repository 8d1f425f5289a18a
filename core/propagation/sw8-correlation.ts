/**
 * The SkyWalking `sw8-correlation` header (apache/skywalking
 * docs/en/api/x-process-correlation-headers-v1.md; docs/skywalking-model.md "sw8-correlation"). Pure.
 *
 *   sw8-correlation: base64(key):base64(value),base64(key2):base64(value2)
 *
 * SkyWalking keeps the correlation context small: by default at most 3 keys and values of at most
 * 128 bytes (the Java agent's `correlation.element_max_number` / `value_max_length`). Both limits
 * are configurable here and apply in both directions:
 * - decoding reads items in order, skips an item that is not exactly `key:value` or whose key or
 *   value is empty or too long, and stops once it holds `maxKeys` keys (a repeated key before that
 *   overwrites, as the Java agent's map does);
 * - encoding leaves out empty keys or values and values over the limit (the Java agent's `put`
 *   refuses them) and stops at `maxKeys`.
 * Base64 is the standard padded alphabet over UTF-8, as for `sw8`.
 */

export const SW8_CORRELATION_HEADER = 'sw8-correlation';

export interface CorrelationLimits {
  maxKeys: number;
  /** UTF-8 bytes of one value. */
  maxValueBytes: number;
}

export const DEFAULT_CORRELATION_LIMITS: CorrelationLimits = { maxKeys: 3, maxValueBytes: 128 };

const fromB64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
const toB64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Key/value pairs of an `sw8-correlation` header, in order, within `limits`. */
export function decodeSw8Correlation(header: string | readonly string[] | undefined, limits: CorrelationLimits = DEFAULT_CORRELATION_LIMITS): Map<string, string> {
  const data = new Map<string, string>();
  if (header === undefined) return data;
  const combined = typeof header === 'string' ? header : header.join(',');
  for (const item of combined.split(',')) {
    if (data.size >= limits.maxKeys) break;
    const parts = item.trim().split(':');
    if (parts.length !== 2) continue;
    const key = fromB64(parts[0]!);
    const value = fromB64(parts[1]!);
    if (!key || !value || Buffer.byteLength(value) > limits.maxValueBytes) continue;
    data.set(key, value);
  }
  return data;
}

/** The header value for `entries` within `limits`; '' when nothing fits. */
export function encodeSw8Correlation(entries: Iterable<readonly [string, string]>, limits: CorrelationLimits = DEFAULT_CORRELATION_LIMITS): string {
  const items: string[] = [];
  const seen = new Set<string>();
  for (const [key, value] of entries) {
    if (items.length >= limits.maxKeys) break;
    if (!key || !value || seen.has(key) || Buffer.byteLength(value) > limits.maxValueBytes) continue;
    seen.add(key);
    items.push(`${toB64(key)}:${toB64(value)}`);
  }
  return items.join(',');
}
