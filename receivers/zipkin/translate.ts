/**
 * Zipkin v2 spans → the internal span model. Everything Zipkin-specific ends here:
 *
 * - ids: a 64-bit trace id is left-padded to 128 bits with zeros (stable across requests and
 *   formats); span ids are used as they are (shared server spans were already given their own id).
 * - times: microseconds × 1000 → unix nanoseconds. A span without a timestamp starts at its first
 *   annotation; with neither it cannot be placed in time and is left out (counted).
 * - kind: CLIENT/SERVER/PRODUCER/CONSUMER as in OTel; absent → INTERNAL. An empty name is made
 *   from what the span says: `{METHOD} {path}` from `http.method` and `http.path` (or `http.url`'s
 *   path; Brave's own naming), else `{kind} {remote service}` for CLIENT/PRODUCER, `{kind}` for
 *   SERVER/CONSUMER, else "unknown", Zipkin's convention (zipkinCore.thrift `Span.name`).
 * - messaging: PRODUCER and CONSUMER spans are messaging spans. Without `messaging.system`, it is
 *   taken from Brave's tags (`kafka.topic` → kafka, `rabbit.*` → rabbitmq, `jms.*` → jms), else the
 *   remote service name (lower-case), else "unknown"; the destination (`messaging.destination.name`)
 *   from `kafka.topic`, `rabbit.exchange`, `jms.queue`/`jms.topic`, `rabbit.queue`, and
 *   `rabbit.routing_key` → `messaging.rabbitmq.destination.routing_key`. The Brave tags stay too.
 * - resource: `service.name` from localEndpoint.serviceName, `host.ip` from its ipv4 (and ipv6:
 *   both when both are set), which service-identity makes the instance name. A span without a local
 *   address (zipkin-js records one on server spans only) takes its service's address when the
 *   receiver has seen exactly one for that service (LocalAddressBook). Spans are grouped into one
 *   ResourceSpans per local service and address. Resource attributes that OTel's Zipkin exporters flatten into
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
import { spanTimeProblem } from '../../core/model/span-times.ts';
import {
  SpanFlags,
  NO_EVENTS,
  NO_LINKS,
  SpanKind,
  StatusCode,
  UNSET_STATUS,
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
  /** Local addresses seen so far (one per receiver); without it, only this batch's are used. */
  readonly addresses?: LocalAddressBook;
}

/**
 * The local address(es) each service name has been seen with. A tracer may leave the address off
 * some spans of a process (zipkin-js sets it only with a server span's LocalAddr), and a span
 * without it must not become another instance of the same process: the segment builder would cut
 * the process's spans into segments joined by CrossProcess refs. A service seen at one address
 * lends it to its address-less spans; one seen at several (several processes) lends nothing.
 */
export class LocalAddressBook {
  static readonly MAX_SERVICES = 10_000;
  /** service name → its only address set (ipv4, ipv6 joined by ","), or null once several were seen. */
  readonly #byService = new Map<string, string | null>();

  learn(service: string, address: string): void {
    const known = this.#byService.get(service);
    if (known === undefined) {
      if (this.#byService.size < LocalAddressBook.MAX_SERVICES) this.#byService.set(service, address);
    } else if (known !== null && known !== address) {
      this.#byService.set(service, null);
    }
  }

  lookup(service: string): string | undefined {
    return this.#byService.get(service) ?? undefined;
  }
}

function localIps(z: ZipkinSpan): string[] {
  return [z.localEndpoint?.ipv4, z.localEndpoint?.ipv6].filter((ip): ip is string => ip !== undefined && ip !== '');
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
  const addresses = options.addresses ?? new LocalAddressBook();
  for (const z of spans) {
    const ips = localIps(z);
    if (ips.length > 0) addresses.learn(z.localEndpoint?.serviceName ?? '', ips.join(','));
  }
  for (let i = 0; i < spans.length; i++) {
    const z = spans[i]!;
    const start = z.timestamp ?? earliestAnnotation(z);
    if (start === undefined) {
      rejections.add(`span ${z.id} of trace ${z.traceId}`, 'it has neither a timestamp nor an annotation to take one from');
      continue;
    }
    const timeProblem = spanTimeProblem(start * 1000n, (start + (z.duration ?? 0n)) * 1000n);
    if (timeProblem !== undefined) {
      rejections.add(`span ${z.id} of trace ${z.traceId}`, timeProblem);
      continue;
    }
    const tags = new Map(z.tags);
    const resource = takeResource(z, tags, addresses);
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
  if (z.kind === 'PRODUCER' || z.kind === 'CONSUMER') addMessagingAttributes(attributes);
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
    name: z.name === '' ? namelessSpanName(z, attributes) : z.name,
    kind: z.kind === undefined ? SpanKind.INTERNAL : KIND[z.kind],
    startTimeUnixNano,
    endTimeUnixNano: startTimeUnixNano + (z.duration ?? 0n) * 1000n,
    attributes,
    droppedAttributesCount: 0,
    events: z.annotations.length === 0 ? NO_EVENTS : z.annotations.map((a): SpanEvent => ({ timeUnixNano: a.timestamp * 1000n, name: a.value, attributes: {}, droppedAttributesCount: 0 })),
    droppedEventsCount: 0,
    links: NO_LINKS,
    droppedLinksCount: 0,
    status,
  };
}

/** Brave's messaging tags (kafka-clients, spring-rabbit, jms), in the order they name the destination. */
const BRAVE_DESTINATION_TAGS: readonly (readonly [tag: string, system: string])[] = [
  ['kafka.topic', 'kafka'], ['rabbit.exchange', 'rabbitmq'], ['jms.queue', 'jms'], ['jms.topic', 'jms'], ['rabbit.queue', 'rabbitmq'], ['rabbit.routing_key', 'rabbitmq'],
];

function attributeString(attributes: Attributes, key: string): string {
  const v = attributes[key];
  return v === undefined ? '' : String(v);
}

/** The OTel messaging attributes the MQ translation reads, from Zipkin's vocabulary. */
function addMessagingAttributes(attributes: Attributes): void {
  if (attributeString(attributes, 'messaging.system') === '') {
    const system = BRAVE_DESTINATION_TAGS.find(([tag]) => attributes[tag] !== undefined)?.[1] || attributeString(attributes, 'peer.service').toLowerCase() || 'unknown';
    setAttribute(attributes, 'messaging.system', system);
  }
  if (attributes['messaging.destination.name'] === undefined && attributes['messaging.destination'] === undefined) {
    for (const [tag] of BRAVE_DESTINATION_TAGS.slice(0, 5)) {
      const destination = attributeString(attributes, tag);
      if (destination !== '') {
        setAttribute(attributes, 'messaging.destination.name', destination);
        break;
      }
    }
  }
  const routingKey = attributeString(attributes, 'rabbit.routing_key');
  if (routingKey !== '') setIfAbsent(attributes, 'messaging.rabbitmq.destination.routing_key', routingKey);
}

/** A name for a span sent without one (see the module comment). */
function namelessSpanName(z: ZipkinSpan, attributes: Attributes): string {
  const method = attributeString(attributes, 'http.method').toUpperCase();
  if (method !== '') {
    let path = attributeString(attributes, 'http.path');
    if (path === '') {
      try {
        path = new URL(attributeString(attributes, 'http.url')).pathname;
      } catch {
        path = '';
      }
    }
    return path === '' ? method : `${method} ${path.replace(/[?#].*$/, '')}`;
  }
  if (z.kind === undefined) return 'unknown';
  const kind = z.kind.toLowerCase();
  const remote = z.remoteEndpoint?.serviceName || attributeString(attributes, 'peer.service');
  return (z.kind === 'CLIENT' || z.kind === 'PRODUCER') && remote ? `${kind} ${remote}` : kind;
}

function earliestAnnotation(z: ZipkinSpan): bigint | undefined {
  let min: bigint | undefined;
  for (const a of z.annotations) if (min === undefined || a.timestamp < min) min = a.timestamp;
  return min;
}

/** Resource attributes: service.name from the local endpoint, plus resource-looking tags (removed from `tags`). */
function takeResource(z: ZipkinSpan, tags: Map<string, string>, addresses: LocalAddressBook): Attributes {
  const resource: Attributes = {};
  for (const [key, value] of tags) {
    if (!RESOURCE_TAG_PREFIXES.some((p) => key.startsWith(p))) continue;
    setAttribute(resource, key, value);
    tags.delete(key);
  }
  const serviceName = z.localEndpoint?.serviceName;
  if (serviceName !== undefined) setAttribute(resource, 'service.name', serviceName);
  // The process's address is the only instance identity Zipkin has. The port is left out: tracers
  // set it on some spans only (v1 server annotations carry the listening port, client ones do not;
  // Brave only when configured), and one process must not become two instances.
  let ips = localIps(z);
  if (ips.length === 0) ips = addresses.lookup(serviceName ?? '')?.split(',') ?? [];
  if (ips.length > 0 && resource['host.ip'] === undefined) setAttribute(resource, 'host.ip', ips.length === 1 ? ips[0]! : ips);
  return resource;
}

/** Groups spans of one local service (and identical resource tags, normally none) together. */
function resourceKey(resource: Attributes): string {
  const keys = Object.keys(resource);
  if (keys.length === 0) return '';
  if (keys.length === 1 && keys[0] === 'service.name') return `s:${String(resource['service.name'])}`;
  // Length-prefixed, so no key or value can run into the next; built per span, so no JSON.stringify.
  let key = 'r:';
  for (const k of keys.sort()) {
    const v = String(resource[k]);
    key += `${k.length}:${k}${v.length}:${v}`;
  }
  return key;
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
  return code === StatusCode.UNSET ? UNSET_STATUS : { code, message };
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
