/**
 * The contract between skybridge's OpenTelemetry propagator (in the application) and skybridge's
 * trace assembler (in the collector) for traces that cross SkyWalking agents.
 *
 * Extract (an `sw8` header arrives at an OTel-instrumented service): the propagator continues the
 * SkyWalking trace with a remote parent whose OTel ids are derived from the SkyWalking ids, and
 * keeps the original sw8 fields in the `tracestate` entry `sw8`. Every span of the trace carries
 * that tracestate, so the assembler can (a) use the SkyWalking trace id for the trace's segments and
 * (b) give the local root a CrossProcess ref to the agent's segment.
 *
 * Inject (an OTel-instrumented service calls a SkyWalking agent): the propagator writes `sw8` with
 * the segment id and span number skybridge will emit. The span processor records each span's number
 * in the attribute `skybridge.sw.span_id` at start; the assembler honours it, so the ref the agent
 * builds points at a segment that really exists.
 */
import { createHash } from 'node:crypto';

/** tracestate key of the SkyWalking context a trace continued from (W3C key syntax: lowercase). */
export const SW_TRACESTATE_KEY = 'sw8';

/** Span attribute with the span's number inside its segment, as promised in an injected sw8. */
export const SW_SPAN_ID_ATTRIBUTE = 'skybridge.sw.span_id';

/** The 8 fields of an sw8 header (x-process-propagation-headers-v3), decoded. */
export interface SkyWalkingParent {
  sampled: boolean;
  traceId: string;
  parentSegmentId: string;
  parentSpanId: number;
  parentService: string;
  parentServiceInstance: string;
  parentEndpoint: string;
  /** The address the SkyWalking caller used to reach this service (its Exit span's peer). */
  addressUsedAtClient: string;
}

/**
 * tracestate values may hold %x20-7E except `,` and `=`. encodeURIComponent escapes both, `%`,
 * spaces and non-ASCII; `.` (our separator) it leaves alone, so it is escaped here too.
 */
function escapeField(text: string): string {
  return encodeURIComponent(text).replace(/\./g, '%2E');
}

const W3C_VALUE_MAX = 256;

/**
 * tracestate value for an sw8 parent: the fields percent-encoded and joined by `.`.
 * When the value would pass W3C's 256-character limit the endpoint is left out (it only names the
 * parent's endpoint in the OAP's endpoint relation); if still too long, undefined: no entry.
 */
export function encodeTracestateValue(p: SkyWalkingParent): string | undefined {
  const fields = (endpoint: string) =>
    [p.sampled ? '1' : '0', p.traceId, p.parentSegmentId, String(p.parentSpanId), p.parentService, p.parentServiceInstance, endpoint, p.addressUsedAtClient]
      .map(escapeField)
      .join('.');
  let value = fields(p.parentEndpoint);
  if (value.length > W3C_VALUE_MAX) value = fields('');
  return value.length > W3C_VALUE_MAX ? undefined : value;
}

export function decodeTracestateValue(value: string): SkyWalkingParent | undefined {
  const parts = value.split('.');
  if (parts.length !== 8) return undefined;
  let f: string[];
  try {
    f = parts.map((x) => decodeURIComponent(x));
  } catch {
    return undefined;
  }
  const spanId = Number(f[3]);
  if (!Number.isInteger(spanId) || spanId < 0 || !f[1] || !f[2] || !f[4]) return undefined;
  return {
    sampled: f[0] !== '0',
    traceId: f[1]!,
    parentSegmentId: f[2]!,
    parentSpanId: spanId,
    parentService: f[4]!,
    parentServiceInstance: f[5]!,
    parentEndpoint: f[6]!,
    addressUsedAtClient: f[7]!,
  };
}

/** The `sw8` entry of a W3C tracestate header value, decoded; undefined when absent or malformed. */
export function skyWalkingParentFromTracestate(tracestate: string): SkyWalkingParent | undefined {
  if (!tracestate || !tracestate.includes(`${SW_TRACESTATE_KEY}=`)) return undefined;
  for (const member of tracestate.split(',')) {
    const eq = member.indexOf('=');
    if (eq > 0 && member.slice(0, eq).trim() === SW_TRACESTATE_KEY) return decodeTracestateValue(member.slice(eq + 1).trim());
  }
  return undefined;
}

const HEX32 = /^[0-9a-fA-F]{32}$/;

/**
 * OTel trace id for a SkyWalking trace id. The Node agent's ids (a UUID without dashes) are 32 hex
 * already and are kept as they are, so the id round-trips; others (Java's `hex.thread.seq`) are
 * hashed (an all-zero id is invalid in W3C, so it is hashed too).
 */
export function otelTraceIdFromSkyWalking(swTraceId: string): string {
  if (HEX32.test(swTraceId) && !/^0+$/.test(swTraceId)) return swTraceId.toLowerCase();
  return createHash('sha256').update(`sw-trace:${swTraceId}`).digest('hex').slice(0, 32);
}

/** OTel span id standing for span `spanId` of SkyWalking segment `segmentId` (the remote parent). */
export function otelSpanIdFromSkyWalking(segmentId: string, spanId: number): string {
  return createHash('sha256').update(`sw-span:${segmentId}/${spanId}`).digest('hex').slice(0, 16);
}
