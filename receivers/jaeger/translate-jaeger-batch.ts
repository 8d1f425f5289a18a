/**
 * Jaeger conventions → the internal (OTLP-shaped) model, the same for Thrift and proto input. The
 * mapping follows opentelemetry-collector-contrib pkg/translator/jaeger (README "OpenTelemetry to
 * Jaeger Transformation", read in reverse) and OpenTracing's semantic conventions for tags:
 *
 * - process serviceName → `service.name`; process tags → resource attributes, with `hostname` →
 *   `host.name` and `ip` → `host.ip`; the rest (`jaeger.version`, `client-uuid`) kept as they are.
 *   A `client-uuid` (one per tracer, i.e. per process) also gives `service.instance.id` =
 *   `<client-uuid>@<hostname>` (`@<ip>` without a hostname), like the Java agent's `uuid@hostname`,
 *   so that several processes on one host stay separate instances; an explicit
 *   `service.instance.id` process tag wins.
 * - parent: Thrift `parentSpanId`, else the first CHILD_OF reference in the same trace. Every other
 *   reference becomes a link with `jaeger.ref_type` = `child_of` / `follows_from`.
 * - tags: `span.kind` → kind; `otel.status_code`/`otel.status_description`, else `error` = true →
 *   status; `w3c.tracestate` → trace state; `sampler.type`/`sampler.param` (the client's sampler,
 *   not the span's) dropped; `peer.hostname`/`peer.ipv4`/`peer.ipv6`/`peer.port` → `server.*` on
 *   client and producer spans, `client.*` on server and consumer spans (there the peer is the
 *   caller), plus `network.peer.address` for an IP; everything else kept with its type.
 * - logs → events named by their `event` field, else "log".
 * - flags bit 1 (sampled) → W3C sampled flag. Jaeger does not say whether a parent is remote, so the
 *   OTLP is-remote bits stay unset and the segment builder decides from kinds and services.
 *
 * The JaegerBatch is consumed: its tag objects become the spans' attributes without copying.
 */
import { spanTimeProblem } from '../../core/model/span-times.ts';
import { setAttribute } from '../../core/model/attributes.ts';
import type {
  Attributes,
  ResourceSpans,
  Span,
  SpanBatch,
  SpanEvent,
  SpanKind,
  SpanLink,
  SpanStatus,
} from '../../core/model/span-batch.ts';
import { NO_EVENTS, NO_LINKS, SpanFlags, SpanKind as Kind, StatusCode, UNSET_STATUS, emptyScope } from '../../core/model/span-batch.ts';
import { RefType, type JaegerBatch, type JaegerProcess, type JaegerSpan, type JaegerSpanRef } from './jaeger-batch.ts';

/** The result of translating one batch. */
export interface TranslatedBatch {
  batch: SpanBatch;
  /** Spans in `batch`. */
  spanCount: number;
  /** Spans left out because their trace or span id is missing, of the wrong length, or all zeros. */
  invalidSpans: number;
}

/** Service name for spans whose process has none (the OTel SDKs' default). */
export const UNKNOWN_SERVICE = 'unknown_service';

const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';
const JAEGER_SAMPLED = 0x1;

const KINDS: Record<string, SpanKind> = {
  client: Kind.CLIENT,
  server: Kind.SERVER,
  producer: Kind.PRODUCER,
  consumer: Kind.CONSUMER,
  internal: Kind.INTERNAL,
};

const STATUS_CODES: Record<string, StatusCode> = { OK: StatusCode.OK, ERROR: StatusCode.ERROR, UNSET: StatusCode.UNSET };

/** Translates `jb` (see the module comment); spans with unusable ids or times (core/model/span-times.ts) are counted, not thrown on. */
export function translateJaegerBatch(jb: JaegerBatch): TranslatedBatch {
  const groups = new Map<JaegerProcess | undefined, Span[]>();
  let spanCount = 0;
  let invalidSpans = 0;
  for (const js of jb.spans) {
    if (!validTraceId(js.traceId) || !validSpanId(js.spanId) || spanTimeProblem(js.startTimeUnixNano, js.startTimeUnixNano + (js.durationNano > 0n ? js.durationNano : 0n)) !== undefined) {
      invalidSpans++;
      continue;
    }
    // model.proto: a span's own process takes priority over the batch's.
    const process = js.process ?? jb.process;
    let spans = groups.get(process);
    if (spans === undefined) groups.set(process, (spans = []));
    spans.push(translateSpan(js));
    spanCount++;
  }
  const resourceSpans: ResourceSpans[] = [];
  for (const [process, spans] of groups) {
    resourceSpans.push({
      resource: { attributes: resourceAttributes(process), droppedAttributesCount: 0 },
      scopeSpans: [{ scope: emptyScope(), spans, schemaUrl: '' }],
      schemaUrl: '',
    });
  }
  return { batch: { resourceSpans }, spanCount, invalidSpans };
}

function resourceAttributes(process: JaegerProcess | undefined): Attributes {
  const attrs: Attributes = {};
  if (process !== undefined) {
    for (const [key, value] of Object.entries(process.tags)) {
      if (key === 'hostname') attrs['host.name'] ??= value;
      // Java clients send the IPv4 address packed in an int (OpenTracing's peer.ipv4 convention).
      else if (key === 'ip') attrs['host.ip'] ??= typeof value === 'number' ? ipv4FromInt(value) : value;
      else setAttribute(attrs, key, value);
    }
    const uuid = attrs['client-uuid'];
    if (attrs['service.instance.id'] === undefined && uuid !== undefined && uuid !== '') {
      const host = attrs['host.name'] || attrs['host.ip'];
      attrs['service.instance.id'] = host ? `${String(uuid)}@${String(host)}` : String(uuid);
    }
  }
  attrs['service.name'] = process?.serviceName || UNKNOWN_SERVICE;
  return attrs;
}

function translateSpan(js: JaegerSpan): Span {
  const tags = js.tags;
  // Tags that become span fields are listed here and left out in one copy at the end, rather than
  // deleted one by one: `delete` turns the object into a slow dictionary, which for a held span costs
  // heap and GC work for the whole quiet period.
  const consumed: string[] = [];
  const kind = takeKind(tags, consumed);
  const status = takeStatus(tags, consumed);
  let traceState = '';
  const tracestate = tags['w3c.tracestate'];
  if (typeof tracestate === 'string') {
    traceState = tracestate;
    consumed.push('w3c.tracestate');
  }
  if (tags['sampler.type'] !== undefined) consumed.push('sampler.type');
  if (tags['sampler.param'] !== undefined) consumed.push('sampler.param');
  mapPeerTags(tags, kind, consumed);
  const attributes = consumed.length === 0 ? tags : without(tags, consumed);

  const { parentSpanId, links } = parentAndLinks(js);
  const duration = js.durationNano > 0n ? js.durationNano : 0n;
  return {
    traceId: js.traceId,
    spanId: js.spanId,
    parentSpanId,
    traceState,
    flags: js.flags & JAEGER_SAMPLED ? SpanFlags.SAMPLED : 0,
    name: js.operationName,
    kind,
    startTimeUnixNano: js.startTimeUnixNano,
    endTimeUnixNano: js.startTimeUnixNano + duration,
    attributes,
    droppedAttributesCount: 0,
    events: js.logs.length === 0 ? NO_EVENTS : js.logs.map(toEvent),
    droppedEventsCount: 0,
    links,
    droppedLinksCount: 0,
    status,
  };
}

/** `attrs` without the keys in `keys`, as a new object (sender-chosen keys: through setAttribute). */
function without(attrs: Attributes, keys: readonly string[]): Attributes {
  const out: Attributes = {};
  for (const key in attrs) if (!keys.includes(key)) setAttribute(out, key, attrs[key]!);
  return out;
}

function takeKind(attrs: Attributes, consumed: string[]): SpanKind {
  const tag = attrs['span.kind'];
  const kind = typeof tag === 'string' ? KINDS[tag.toLowerCase()] : undefined;
  if (kind === undefined) return Kind.INTERNAL; // Unknown values stay visible as the tag.
  consumed.push('span.kind');
  return kind;
}

function takeStatus(attrs: Attributes, consumed: string[]): SpanStatus {
  const code = attrs['otel.status_code'];
  const description = attrs['otel.status_description'];
  const message = typeof description === 'string' ? description : '';
  if (typeof code === 'string' && STATUS_CODES[code.toUpperCase()] !== undefined) {
    consumed.push('otel.status_code');
    if (description !== undefined) consumed.push('otel.status_description');
    // The `error` tag an OTel→Jaeger exporter adds alongside is redundant with the status.
    if (isTrue(attrs.error)) consumed.push('error');
    const status = STATUS_CODES[code.toUpperCase()]!;
    if (status === StatusCode.UNSET) return UNSET_STATUS;
    return { code: status, message: status === StatusCode.ERROR ? message : '' };
  }
  if (isTrue(attrs.error)) {
    consumed.push('error');
    if (message) consumed.push('otel.status_description');
    return { code: StatusCode.ERROR, message };
  }
  return UNSET_STATUS;
}

function isTrue(v: unknown): boolean {
  return v === true || (typeof v === 'string' && v.toLowerCase() === 'true');
}

/**
 * OpenTracing's peer.* name the other side of the call. On a client it is the server that was
 * called, which is what SkyWalking's Exit `peer` and the child's `networkAddressUsedAtPeer` need.
 */
function mapPeerTags(attrs: Attributes, kind: SpanKind, consumed: string[]): void {
  const side = kind === Kind.SERVER || kind === Kind.CONSUMER ? 'client' : 'server';
  const ipv4 = attrs['peer.ipv4'];
  const ip = typeof ipv4 === 'number' ? ipv4FromInt(ipv4) : typeof ipv4 === 'string' && ipv4 ? ipv4 : stringTag(attrs['peer.ipv6']);
  const host = stringTag(attrs['peer.hostname']) || ip;
  if (host && moveTo(attrs, `${side}.address`, host) && attrs['peer.hostname'] !== undefined) consumed.push('peer.hostname');
  if (ip && moveTo(attrs, 'network.peer.address', ip)) {
    if (attrs['peer.ipv4'] !== undefined) consumed.push('peer.ipv4');
    if (attrs['peer.ipv6'] !== undefined) consumed.push('peer.ipv6');
  }
  const port = portNumber(attrs['peer.port']);
  if (port !== undefined && moveTo(attrs, `${side}.port`, port)) consumed.push('peer.port');
}

/** Sets `key` unless the span already has it; returns whether the source tag may go. */
function moveTo(attrs: Attributes, key: string, value: string | number): boolean {
  if (attrs[key] !== undefined) return false;
  attrs[key] = value;
  return true;
}

function stringTag(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function portNumber(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 65535 ? n : undefined;
}

function ipv4FromInt(v: number): string {
  const u = v >>> 0;
  return `${u >>> 24}.${(u >>> 16) & 0xff}.${(u >>> 8) & 0xff}.${u & 0xff}`;
}

function parentAndLinks(js: JaegerSpan): { parentSpanId: string; links: SpanLink[] } {
  let parentSpanId = js.parentSpanId;
  let parentRef: JaegerSpanRef | undefined;
  if (!parentSpanId) {
    parentRef = js.references.find((r) => r.refType === RefType.CHILD_OF && r.traceId === js.traceId && validSpanId(r.spanId));
    if (parentRef) parentSpanId = parentRef.spanId;
  }
  const links: SpanLink[] = [];
  for (const ref of js.references) {
    if (ref === parentRef) continue;
    // Thrift senders repeat the parent as a CHILD_OF reference; that one is not a link.
    if (ref.refType === RefType.CHILD_OF && ref.spanId === parentSpanId && ref.traceId === js.traceId) continue;
    if (!validTraceId(ref.traceId) || !validSpanId(ref.spanId)) continue;
    links.push({
      traceId: ref.traceId,
      spanId: ref.spanId,
      traceState: '',
      attributes: { 'jaeger.ref_type': ref.refType === RefType.FOLLOWS_FROM ? 'follows_from' : 'child_of' },
      droppedAttributesCount: 0,
      flags: 0,
    });
  }
  return { parentSpanId, links: links.length === 0 ? NO_LINKS : links };
}

function toEvent(log: { timeUnixNano: bigint; fields: Attributes }): SpanEvent {
  const event = log.fields.event;
  let name = 'log';
  if (typeof event === 'string' && event) {
    name = event;
    delete log.fields.event;
  }
  return { timeUnixNano: log.timeUnixNano, name, attributes: log.fields, droppedAttributesCount: 0 };
}

function validTraceId(id: string): boolean {
  return id.length === 32 && id !== ZERO_TRACE_ID;
}

function validSpanId(id: string): boolean {
  return id.length === 16 && id !== ZERO_SPAN_ID;
}
