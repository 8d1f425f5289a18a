/**
 * Zipkin v2 spans → the internal span model. Everything Zipkin-specific ends here:
 *
 * - ids: a 64-bit trace id is left-padded to 128 bits with zeros (stable across requests and
 *   formats); span ids are used as they are (shared server spans were already given their own id).
 * - times: microseconds × 1000 → unix nanoseconds. A span without a timestamp starts at its first
 *   annotation; with neither it cannot be placed in time and is left out (counted).
 * - kind: CLIENT/SERVER/PRODUCER/CONSUMER as in OTel; absent → INTERNAL. An empty name becomes
 *   "unknown", Zipkin's convention for an unknown span name (zipkinCore.thrift `Span.name`).
 * - resource: `service.name` from localEndpoint.serviceName. Spans are grouped into one
 *   ResourceSpans per local service. Resource attributes that OTel's Zipkin exporters flatten into
 *   tags (`service.*`, `host.*`, `process.*`, `telemetry.*`, ...) are moved back to the resource.
 * - tags → string attributes under their own names (Zipkin's `http.method`, `http.path`,
 *   `http.status_code`, `http.url` included); with `parse_string_tags` numeric and boolean text
 *   becomes int/double/bool, as in the OpenTelemetry Collector's zipkin receiver.
 * - status: an `error` tag means ERROR with the tag's value as message (a bare "true" carries no
 *   message); `otel.status_code`/`otel.status_description` from OTel exporters are honoured. The
 *   `error` and `otel.*` bookkeeping tags are not kept as attributes. `otel.scope.*` (or the older
 *   `otel.library.*`) become the instrumentation scope, `w3c.tracestate` the trace state.
 * - endpoints: the local endpoint's address → `network.local.address`/`.port`; the remote endpoint
 *   → `server.address`/`server.port` on CLIENT, PRODUCER and CONSUMER spans (the called server or
 *   broker), `client.address`/`client.port` on SERVER spans, `network.peer.*` on local spans;
 *   its service name → `peer.service`. A tag of the same name, if sent, wins.
 * - annotations → events; `debug` → attribute `zipkin.debug` = true.
 */
import { setAttribute } from '../../core/model/attributes.ts';
import {
  SpanFlags,
  SpanKind,
  StatusCode,
  type AttributeValue,
  type Attributes,
  type InstrumentationScope,
  type ResourceSpans,
  type ScopeSpans,
  type Span,
  type SpanBatch,
  type SpanEvent,
  type SpanStatus,
} from '../../core/model/span-batch.ts';
import { SpanRejections } from '../../core/model/span-rejections.ts';
import { otelTraceId } from './hex-id.ts';
import type { ZipkinEndpoint, ZipkinKind, ZipkinSpan } from './zipkin-span.ts';

export interface TranslateOptions {
  /** Turn tag text that reads as an integer, float or boolean into a typed attribute. */
  readonly parseStringTags: boolean;
}

/** The batch, and the spans that could not go into it. */
export interface TranslatedBatch {
  readonly batch: SpanBatch;
  readonly spanCount: number;
  readonly rejected: number;
  readonly rejectReason: string;
}

const KIND: Record<ZipkinKind, SpanKind> = {
  CLIENT: SpanKind.CLIENT,
  SERVER: SpanKind.SERVER,
  PRODUCER: SpanKind.PRODUCER,
  CONSUMER: SpanKind.CONSUMER,
};

/** Tag prefixes of OTel resource attributes, which OTel's Zipkin exporters write as span tags. */
const RESOURCE_TAG_PREFIXES = [
  'service.', 'telemetry.', 'host.', 'process.', 'os.', 'container.', 'k8s.', 'cloud.', 'deployment.', 'faas.', 'device.', 'webengine.',
] as const;

/** Tags whose meaning moves into span fields. */
const STATUS_CODE_TAG = 'otel.status_code';
const STATUS_DESCRIPTION_TAG = 'otel.status_description';
const ERROR_TAG = 'error';
const TRACE_STATE_TAG = 'w3c.tracestate';
const SCOPE_TAGS = ['otel.scope.name', 'otel.scope.version', 'otel.library.name', 'otel.library.version'] as const;

/** Translates decoded (and shared-split) Zipkin spans into one SpanBatch. */
export function translateZipkinSpans(spans: readonly ZipkinSpan[], options: TranslateOptions): TranslatedBatch {
  const rejections = new SpanRejections('left out');
  const groups = new Map<string, { rs: ResourceSpans; scopes: Map<string, ScopeSpans> }>();
  let spanCount = 0;
  for (let i = 0; i < spans.length; i++) {
    const z = spans[i]!;
    const start = z.timestamp ?? earliestAnnotation(z);
    if (start === undefined) {
      rejections.add(`span ${z.id} of trace ${z.traceId}`, 'it has neither a timestamp nor an annotation to take one from');
      continue;
    }
    const tags = new Map(z.tags);
    const resource = takeResource(z, tags);
    const scope = takeScope(tags);

    const groupKey = resourceKey(resource);
    let group = groups.get(groupKey);
    if (group === undefined) {
      group = { rs: { resource: { attributes: resource, droppedAttributesCount: 0 }, scopeSpans: [], schemaUrl: '' }, scopes: new Map() };
      groups.set(groupKey, group);
    }
    const scopeKey = `${scope.name}\u0000${scope.version}`;
    let ss = group.scopes.get(scopeKey);
    if (ss === undefined) {
      ss = { scope, spans: [], schemaUrl: '' };
      group.scopes.set(scopeKey, ss);
      group.rs.scopeSpans.push(ss);
    }
    ss.spans.push(toSpan(z, start, tags, options));
    spanCount++;
  }
  return {
    batch: { resourceSpans: [...groups.values()].map((g) => g.rs) },
    spanCount,
    rejected: rejections.count,
    rejectReason: rejections.message(),
  };
}

function toSpan(z: ZipkinSpan, startMicros: bigint, tags: Map<string, string>, options: TranslateOptions): Span {
  const traceState = tags.get(TRACE_STATE_TAG) ?? '';
  tags.delete(TRACE_STATE_TAG);
  const status = takeStatus(tags);
  const attributes: Attributes = {};
  for (const [key, value] of tags) setAttribute(attributes, key, options.parseStringTags ? parseTag(value) : value);
  addEndpointAttributes(attributes, z);
  if (z.debug) setIfAbsent(attributes, 'zipkin.debug', true);

  const startTimeUnixNano = startMicros * 1000n;
  return {
    traceId: otelTraceId(z.traceId),
    spanId: z.id,
    parentSpanId: z.parentId ?? '',
    traceState,
    // Zipkin only reports sampled spans. Whether the parent is remote is not on the wire, so the
    // remote-parent bits stay unset and trace assembly decides from kinds and services.
    flags: SpanFlags.SAMPLED,
    name: z.name === '' ? 'unknown' : z.name,
    kind: z.kind === undefined ? SpanKind.INTERNAL : KIND[z.kind],
    startTimeUnixNano,
    endTimeUnixNano: startTimeUnixNano + (z.duration ?? 0n) * 1000n,
    attributes,
    droppedAttributesCount: 0,
    events: z.annotations.map((a): SpanEvent => ({ timeUnixNano: a.timestamp * 1000n, name: a.value, attributes: {}, droppedAttributesCount: 0 })),
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status,
  };
}

function earliestAnnotation(z: ZipkinSpan): bigint | undefined {
  let min: bigint | undefined;
  for (const a of z.annotations) if (min === undefined || a.timestamp < min) min = a.timestamp;
  return min;
}

/** Resource attributes: service.name from the local endpoint, plus resource-looking tags (removed from `tags`). */
function takeResource(z: ZipkinSpan, tags: Map<string, string>): Attributes {
  const resource: Attributes = {};
  for (const [key, value] of tags) {
    if (!RESOURCE_TAG_PREFIXES.some((p) => key.startsWith(p))) continue;
    setAttribute(resource, key, value);
    tags.delete(key);
  }
  const serviceName = z.localEndpoint?.serviceName;
  if (serviceName !== undefined) setAttribute(resource, 'service.name', serviceName);
  return resource;
}

/** Groups spans of one local service (and identical resource tags, normally none) together. */
function resourceKey(resource: Attributes): string {
  const keys = Object.keys(resource);
  if (keys.length === 0) return '';
  if (keys.length === 1 && keys[0] === 'service.name') return `s:${String(resource['service.name'])}`;
  return `r:${JSON.stringify(keys.sort().map((k) => [k, String(resource[k])]))}`;
}

function takeScope(tags: Map<string, string>): InstrumentationScope {
  const name = tags.get('otel.scope.name') ?? tags.get('otel.library.name') ?? '';
  const version = tags.get('otel.scope.version') ?? tags.get('otel.library.version') ?? '';
  for (const k of SCOPE_TAGS) tags.delete(k);
  return { name, version, attributes: {}, droppedAttributesCount: 0 };
}

function takeStatus(tags: Map<string, string>): SpanStatus {
  const otelCode = tags.get(STATUS_CODE_TAG)?.toUpperCase();
  const description = tags.get(STATUS_DESCRIPTION_TAG) ?? '';
  const error = tags.get(ERROR_TAG);
  tags.delete(STATUS_CODE_TAG);
  tags.delete(STATUS_DESCRIPTION_TAG);
  let code: StatusCode = StatusCode.UNSET;
  let message = '';
  if (otelCode === 'ERROR' || otelCode === 'STATUS_CODE_ERROR') code = StatusCode.ERROR;
  else if (otelCode === 'OK' || otelCode === 'STATUS_CODE_OK') code = StatusCode.OK;
  // Zipkin: the presence of an `error` tag marks a failed span; its value is the message.
  if (error !== undefined && error.toLowerCase() !== 'false') {
    tags.delete(ERROR_TAG);
    code = StatusCode.ERROR;
    if (error !== '' && error.toLowerCase() !== 'true') message = error;
  }
  if (code === StatusCode.ERROR && message === '') message = description;
  return { code, message };
}

function addEndpointAttributes(attributes: Attributes, z: ZipkinSpan): void {
  const local = z.localEndpoint;
  if (local !== undefined) addAddress(attributes, 'network.local', local);
  const remote = z.remoteEndpoint;
  if (remote === undefined) return;
  if (z.kind === 'CLIENT' || z.kind === 'PRODUCER' || z.kind === 'CONSUMER') addAddress(attributes, 'server', remote);
  else if (z.kind === 'SERVER') addAddress(attributes, 'client', remote);
  else addAddress(attributes, 'network.peer', remote);
  if (remote.serviceName !== undefined) setIfAbsent(attributes, 'peer.service', remote.serviceName);
}

function addAddress(attributes: Attributes, prefix: string, e: ZipkinEndpoint): void {
  const address = e.ipv4 ?? e.ipv6;
  if (address === undefined) return;
  setIfAbsent(attributes, `${prefix}.address`, address);
  if (e.port !== undefined) setIfAbsent(attributes, `${prefix}.port`, e.port);
}

/**
 * Typed value of a tag under `parse_string_tags`: a 64-bit integer (a number when it is exact), a
 * float, or a boolean; anything else stays a string.
 */
export function parseTag(text: string): AttributeValue {
  if (/^-?\d{1,19}$/.test(text)) {
    const n = BigInt(text);
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  if (/^-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?$/.test(text)) {
    const f = Number(text);
    if (Number.isFinite(f)) return f;
  }
  if (text === 'true' || text === 'TRUE' || text === 'True') return true;
  if (text === 'false' || text === 'FALSE' || text === 'False') return false;
  return text;
}

function setIfAbsent(attributes: Attributes, key: string, value: AttributeValue): void {
  if (!Object.prototype.hasOwnProperty.call(attributes, key)) setAttribute(attributes, key, value);
}
