/**
 * The W3C `traceparent` header (Trace Context Level 2, w3c/trace-context
 * spec/20-http_request_header_format.md). Pure: strings in, values out.
 *
 *   traceparent: {version}-{trace-id}-{parent-id}-{trace-flags}
 *                00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 *
 * - Lower-case hex only; an upper-case digit makes the header invalid.
 * - Version `00` must be exactly 55 characters. A higher version is read by position (the first
 *   four fields, each checked and each followed by a dash or the end), so fields a later version
 *   adds after a `-` are allowed and ignored. Version `ff` is invalid.
 * - An all-zero trace id or parent id invalidates the whole header.
 * - Spaces and tabs around the value are optional whitespace (the W3C test harness sends them).
 * - The flags byte is kept exactly as received, including Level 2's random-trace-id bit (0x02).
 */

/** Bit 0: the caller may have recorded trace data. */
export const TRACE_FLAG_SAMPLED = 0x01;
/** Bit 1 (Level 2): at least the right-most 7 bytes of the trace id are random. */
export const TRACE_FLAG_RANDOM = 0x02;
/** The flags Level 2 defines; other bits MUST be zero when sending. */
export const TRACE_FLAGS_DEFINED = TRACE_FLAG_SAMPLED | TRACE_FLAG_RANDOM;

export interface Traceparent {
  /** 0 for the current format; higher when a later version was read by position. */
  version: number;
  /** 32 lower-case hex characters, never all zeros. */
  traceId: string;
  /** 16 lower-case hex characters, never all zeros: the caller's span. */
  parentId: string;
  /** The flags byte as received. */
  traceFlags: number;
}

export type TraceparentResult = { ok: true; value: Traceparent } | { ok: false; reason: string };

const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const HEX_2 = /^[0-9a-f]{2}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** 32 lower-case hex characters, not all zeros. */
export function isValidTraceId(id: string): boolean {
  return TRACE_ID.test(id) && id !== ZERO_TRACE_ID;
}

/** 16 lower-case hex characters, not all zeros. */
export function isValidSpanId(id: string): boolean {
  return SPAN_ID.test(id) && id !== ZERO_SPAN_ID;
}

/** The header value as one string; several header fields cannot be one valid traceparent. */
function single(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header === 'string') return header;
  return header.length === 1 ? header[0] : undefined;
}

/**
 * Parses a `traceparent` header, saying why when it is invalid. An array (the header received more
 * than once) is invalid: the spec gives no rule to choose, and the harness expects a restart.
 */
export function parseTraceparentDetailed(header: string | readonly string[] | undefined): TraceparentResult {
  const raw = single(header);
  if (raw === undefined) {
    return { ok: false, reason: header === undefined ? 'the header is missing' : 'the header was sent more than once' };
  }
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  const version = value.slice(0, 2);
  if (!HEX_2.test(version) || value[2] !== '-') {
    return { ok: false, reason: 'it does not start with a 2-digit lower-case hex version and a dash' };
  }
  if (version === 'ff') return { ok: false, reason: 'version ff is forbidden' };

  let traceId: string;
  let parentId: string;
  let flags: string;
  if (version === '00') {
    const m = VERSION_00.exec(value);
    if (!m) return { ok: false, reason: 'version 00 must be 00-<32 lower-case hex>-<16 lower-case hex>-<2 lower-case hex>' };
    [, traceId, parentId, flags] = m as unknown as [string, string, string, string];
  } else {
    // A later version: read the known fields by position and ignore what follows a dash.
    if (value.length < 55) return { ok: false, reason: `a version ${version} header must be at least 55 characters` };
    traceId = value.slice(3, 35);
    parentId = value.slice(36, 52);
    flags = value.slice(53, 55);
    if (!TRACE_ID.test(traceId) || value[35] !== '-') return { ok: false, reason: 'the trace-id is not 32 lower-case hex characters followed by a dash' };
    if (!SPAN_ID.test(parentId) || value[52] !== '-') return { ok: false, reason: 'the parent-id is not 16 lower-case hex characters followed by a dash' };
    if (!HEX_2.test(flags) || (value.length > 55 && value[55] !== '-')) {
      return { ok: false, reason: 'the trace-flags are not 2 lower-case hex characters followed by a dash or the end' };
    }
  }
  if (traceId === ZERO_TRACE_ID) return { ok: false, reason: 'the trace-id is all zeros' };
  if (parentId === ZERO_SPAN_ID) return { ok: false, reason: 'the parent-id is all zeros' };
  return { ok: true, value: { version: parseInt(version, 16), traceId, parentId, traceFlags: parseInt(flags, 16) } };
}

/** Parses a `traceparent` header; undefined when absent or invalid (the trace then restarts). */
export function parseTraceparent(header: string | readonly string[] | undefined): Traceparent | undefined {
  const result = parseTraceparentDetailed(header);
  return result.ok ? result.value : undefined;
}

/**
 * A version-00 `traceparent` (the highest version this code knows, which is also what a
 * downgrading participant must send). Flags outside the ones Level 2 defines are cleared, as the
 * spec requires of a sender.
 *
 * @throws TypeError when an id is not valid lower-case hex or is all zeros.
 */
export function formatTraceparent(ctx: { traceId: string; parentId: string; traceFlags: number }): string {
  if (!isValidTraceId(ctx.traceId)) throw new TypeError(`Invalid trace id ${JSON.stringify(ctx.traceId)}.`);
  if (!isValidSpanId(ctx.parentId)) throw new TypeError(`Invalid parent id ${JSON.stringify(ctx.parentId)}.`);
  const flags = (ctx.traceFlags & TRACE_FLAGS_DEFINED).toString(16).padStart(2, '0');
  return `00-${ctx.traceId}-${ctx.parentId}-${flags}`;
}
