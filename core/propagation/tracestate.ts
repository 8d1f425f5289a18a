/**
 * The W3C `tracestate` header (w3c/trace-context spec/20-http_request_header_format.md,
 * "Tracestate Header"). Pure: strings in, entries out.
 *
 *   tracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE
 *
 * Parsing (what the W3C test harness checks at its strictest level):
 * - Several header fields are one list, joined by `,` in the order received (RFC 9110 §5.3).
 * - Spaces and tabs around members are ignored; empty members are ignored.
 * - One malformed member, or more than 32 members, makes the whole header invalid: it is then
 *   discarded, never partly used. (A bad tracestate never affects traceparent.)
 * - Keys: Level 2's grammar `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / _ - * / @)`, which takes
 *   multi-tenant `tenant@system` keys and any other `@` after the first character; the Level 1
 *   grammar (one `@`, tenant ≤ 241 and system ≤ 14 characters, simple keys start with a letter)
 *   is available as an option.
 * - Values: up to 256 printable ASCII characters except `,` and `=`, not ending in a space.
 * - A key may appear once. A repeated key keeps its first (left-most, most recent) entry by
 *   default; `duplicates: 'invalid'` discards the header instead. The harness accepts both.
 *
 * Serialising truncates only by whole entries: entries longer than 128 characters go first (from
 * the right), then entries from the right, until the header fits (512 characters and 32 members
 * by default, the minimum the spec asks vendors to propagate).
 */

export interface TracestateEntry {
  key: string;
  value: string;
}

export type TracestateResult = { ok: true; entries: TracestateEntry[] } | { ok: false; reason: string };

export interface TracestateParseOptions {
  /** `level2` (default): the current key grammar. `level1`: the Recommendation's stricter one. */
  keyGrammar?: 'level2' | 'level1';
  /** `drop` (default): a repeated key keeps its first entry. `invalid`: the header is discarded. */
  duplicates?: 'drop' | 'invalid';
}

export interface TracestateLimits {
  /** Most characters in the serialised header, commas included. */
  maxLength: number;
  /** Most list members. */
  maxMembers: number;
}

/** The spec's maximum member count, and the length vendors SHOULD at least propagate. */
export const TRACESTATE_MAX_MEMBERS = 32;
export const DEFAULT_TRACESTATE_LIMITS: TracestateLimits = { maxLength: 512, maxMembers: TRACESTATE_MAX_MEMBERS };
/** Entries longer than this are the first to go when a header must be shortened. */
export const TRACESTATE_LONG_ENTRY = 128;

const KEY_LEVEL2 = /^[a-z0-9][a-z0-9_\-*/@]{0,255}$/;
const KEY_LEVEL1_SIMPLE = /^[a-z][a-z0-9_\-*/]{0,255}$/;
const KEY_LEVEL1_TENANT = /^[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}$/;
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

export function isValidTracestateKey(key: string, grammar: 'level2' | 'level1' = 'level2'): boolean {
  if (grammar === 'level2') return KEY_LEVEL2.test(key);
  return KEY_LEVEL1_SIMPLE.test(key) || KEY_LEVEL1_TENANT.test(key);
}

export function isValidTracestateValue(value: string): boolean {
  return VALUE.test(value);
}

/** Parses one or more `tracestate` header fields; see the module comment for the rules. */
export function parseTracestate(header: string | readonly string[] | undefined, options: TracestateParseOptions = {}): TracestateResult {
  if (header === undefined) return { ok: true, entries: [] };
  const grammar = options.keyGrammar ?? 'level2';
  const combined = typeof header === 'string' ? header : header.join(',');
  const entries: TracestateEntry[] = [];
  const seen = new Set<string>();
  for (const rawMember of combined.split(',')) {
    const member = rawMember.replace(OWS_EDGES, '');
    if (member === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) return { ok: false, reason: `member ${JSON.stringify(member)} is not key=value` };
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!isValidTracestateKey(key, grammar)) return { ok: false, reason: `key ${JSON.stringify(key)} is not a valid tracestate key` };
    if (!isValidTracestateValue(value)) return { ok: false, reason: `the value of ${key} is not 1-256 printable ASCII characters without "," or "="` };
    if (seen.has(key)) {
      if (options.duplicates === 'invalid') return { ok: false, reason: `key ${key} appears more than once` };
      continue;
    }
    seen.add(key);
    entries.push({ key, value });
    if (entries.length > TRACESTATE_MAX_MEMBERS) return { ok: false, reason: `more than ${TRACESTATE_MAX_MEMBERS} members` };
  }
  return { ok: true, entries };
}

/** The entries of a valid header; an empty list when it is absent or invalid. */
export function tracestateEntries(header: string | readonly string[] | undefined, options?: TracestateParseOptions): TracestateEntry[] {
  const result = parseTracestate(header, options);
  return result.ok ? result.entries : [];
}

export function getTracestateEntry(entries: readonly TracestateEntry[], key: string): string | undefined {
  return entries.find((e) => e.key === key)?.value;
}

/**
 * A new list with `key` set to `value` at the front (the spec's rule for an added or updated
 * entry) and any older entry of that key removed; the other entries keep their order.
 *
 * @throws TypeError when the key or value is not valid tracestate syntax.
 */
export function setTracestateEntry(entries: readonly TracestateEntry[], key: string, value: string): TracestateEntry[] {
  if (!isValidTracestateKey(key)) throw new TypeError(`Invalid tracestate key ${JSON.stringify(key)}.`);
  if (!isValidTracestateValue(value)) throw new TypeError(`Invalid tracestate value for ${key}.`);
  return [{ key, value }, ...entries.filter((e) => e.key !== key)];
}

export function deleteTracestateEntry(entries: readonly TracestateEntry[], key: string): TracestateEntry[] {
  return entries.filter((e) => e.key !== key);
}

function entryLength(e: TracestateEntry): number {
  return e.key.length + 1 + e.value.length;
}

/**
 * Whole entries that fit `limits`, dropping as the spec says: entries longer than 128 characters
 * first (right-most first), then from the right. Never a partial entry.
 */
export function truncateTracestate(entries: readonly TracestateEntry[], limits: TracestateLimits = DEFAULT_TRACESTATE_LIMITS): TracestateEntry[] {
  const kept = [...entries];
  let length = kept.reduce((n, e) => n + entryLength(e), 0) + Math.max(0, kept.length - 1);
  const fits = (): boolean => kept.length <= limits.maxMembers && length <= limits.maxLength;
  const remove = (i: number): void => {
    length -= entryLength(kept[i]!) + (kept.length > 1 ? 1 : 0);
    kept.splice(i, 1);
  };
  for (let i = kept.length - 1; i >= 0 && !fits(); i--) {
    if (entryLength(kept[i]!) > TRACESTATE_LONG_ENTRY) remove(i);
  }
  while (!fits()) remove(kept.length - 1);
  return kept;
}

/** The header value for `entries`, truncated to `limits` by whole entries. '' for none. */
export function serializeTracestate(entries: readonly TracestateEntry[], limits: TracestateLimits = DEFAULT_TRACESTATE_LIMITS): string {
  return truncateTracestate(entries, limits)
    .map((e) => `${e.key}=${e.value}`)
    .join(',');
}

