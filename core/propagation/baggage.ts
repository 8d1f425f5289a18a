/**
 * The W3C `baggage` header (w3c/baggage baggage/HTTP_HEADER_FORMAT.md). Pure: strings in,
 * members out.
 *
 *   baggage: userId=alice,serverNode=DF%2028;region=eu;canary,isProduction=false
 *
 * - `list-member = key OWS "=" OWS value *( OWS ";" OWS property )`, `property = key OWS "=" OWS
 *   value / key OWS`. Keys are RFC 9110 tokens; whitespace around keys, values and properties is
 *   trimmed. A value may contain `=`.
 * - Values (and property values) are percent-encoded UTF-8: decoding turns `%XX` into bytes and
 *   invalid UTF-8 into U+FFFD; a `%` not followed by two hex digits stays as it is. Encoding
 *   escapes every character outside `baggage-octet`, and `%` itself.
 * - Several header fields are one list, joined by `,`. A malformed member is left out (the spec
 *   allows removing it); the others are kept. Duplicate keys are kept in order, as received.
 * - Limits: a participant must propagate at least 64 members and 8192 bytes. Serialising keeps
 *   members in order and leaves out whole members that would pass either limit, never part of
 *   one; `parseBaggage` can apply the same limits to what it reads.
 */

export interface BaggageProperty {
  key: string;
  /** Decoded; undefined for a bare `;key` property. */
  value?: string;
}

export interface BaggageMember {
  key: string;
  /** Decoded. */
  value: string;
  properties: BaggageProperty[];
}

export interface BaggageLimits {
  maxMembers: number;
  /** Bytes of the serialised header value (commas included). */
  maxBytes: number;
}

/** The spec's minimum propagation limits. */
export const DEFAULT_BAGGAGE_LIMITS: BaggageLimits = { maxMembers: 64, maxBytes: 8192 };

// RFC 9110 §5.6.2 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
const BAGGAGE_OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;
const utf8 = new TextDecoder('utf-8', { fatal: false });

export function isValidBaggageKey(key: string): boolean {
  return TOKEN.test(key);
}

/** `%XX` → bytes, then UTF-8 (invalid sequences become U+FFFD); a lone `%` stays literal. */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length;
  }
  return utf8.decode(Uint8Array.from(bytes));
}

/** Percent-encodes UTF-8 bytes of every character outside baggage-octet, and `%`. */
export function percentEncode(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const plain = c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c && c !== 0x25;
    if (plain) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function parseMember(text: string): BaggageMember | undefined {
  const parts = text.split(';');
  const head = parts[0]!;
  const eq = head.indexOf('=');
  if (eq < 0) return undefined;
  const key = head.slice(0, eq).replace(OWS_EDGES, '');
  const rawValue = head.slice(eq + 1).replace(OWS_EDGES, '');
  if (!isValidBaggageKey(key) || !BAGGAGE_OCTETS.test(rawValue)) return undefined;
  const properties: BaggageProperty[] = [];
  for (const rawProperty of parts.slice(1)) {
    const p = rawProperty.replace(OWS_EDGES, '');
    const peq = p.indexOf('=');
    if (peq < 0) {
      if (!isValidBaggageKey(p)) return undefined;
      properties.push({ key: p });
      continue;
    }
    const pk = p.slice(0, peq).replace(OWS_EDGES, '');
    const pv = p.slice(peq + 1).replace(OWS_EDGES, '');
    if (!isValidBaggageKey(pk) || !BAGGAGE_OCTETS.test(pv)) return undefined;
    properties.push({ key: pk, value: percentDecode(pv) });
  }
  return { key, value: percentDecode(rawValue), properties };
}

/**
 * Parses one or more `baggage` header fields. Malformed members are left out; with `limits`,
 * members past the limits are left out too (whole members, in order).
 */
export function parseBaggage(header: string | readonly string[] | undefined, limits?: BaggageLimits): BaggageMember[] {
  if (header === undefined) return [];
  const combined = typeof header === 'string' ? header : header.join(',');
  const members: BaggageMember[] = [];
  for (const raw of combined.split(',')) {
    if (raw.replace(OWS_EDGES, '') === '') continue;
    const member = parseMember(raw);
    if (member) members.push(member);
  }
  return limits ? limitBaggage(members, limits) : members;
}

/** One member as it is written in the header. */
export function formatBaggageMember(m: BaggageMember): string {
  let text = `${m.key}=${percentEncode(m.value)}`;
  for (const p of m.properties) text += p.value === undefined ? `;${p.key}` : `;${p.key}=${percentEncode(p.value)}`;
  return text;
}

/**
 * The members that fit `limits`, in order: a member is left out whole when it would pass the byte
 * budget (a later, smaller one may still fit); nothing is kept past `maxMembers`. Members with a
 * key that is not a token, or a property key that is not, are left out.
 */
export function limitBaggage(members: readonly BaggageMember[], limits: BaggageLimits = DEFAULT_BAGGAGE_LIMITS): BaggageMember[] {
  const kept: BaggageMember[] = [];
  let bytes = 0;
  for (const m of members) {
    if (kept.length >= limits.maxMembers) break;
    if (!isValidBaggageKey(m.key) || m.properties.some((p) => !isValidBaggageKey(p.key))) continue;
    const size = Buffer.byteLength(formatBaggageMember(m)) + (kept.length > 0 ? 1 : 0);
    if (bytes + size > limits.maxBytes) continue;
    bytes += size;
    kept.push(m);
  }
  return kept;
}

/** The header value for `members` within `limits` (whole members only). '' for none. */
export function serializeBaggage(members: readonly BaggageMember[], limits: BaggageLimits = DEFAULT_BAGGAGE_LIMITS): string {
  return limitBaggage(members, limits).map(formatBaggageMember).join(',');
}
