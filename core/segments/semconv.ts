/**
 * OpenTelemetry semantic conventions → SkyWalking span vocabulary (operation name, peer, layer,
 * component id, tags, error flag, logs). Both the current attribute names and the pre-1.21 ones
 * are read, because SDKs in the field send either. Component ids are from the OAP's
 * component-libraries.yml (see shared docs skywalking-model.md §4).
 */
import type { Attributes, InstrumentationScope, Span } from '../model/span-batch.ts';
import { SpanKind, StatusCode } from '../model/span-batch.ts';
import { SpanLayer, type KeyStringValuePair, type SpanLog } from './segment-object.ts';
import { attributeText } from './service-identity.ts';

/** OAP default endpointNameMaxLength. */
export const ENDPOINT_NAME_MAX = 150;

export const ComponentId = {
  Unknown: 0,
  HttpClient: 2,
  Http: 49,
} as const;

export interface TranslatedSpan {
  operationName: string;
  /** Remote address for Exit spans (`host:port`); '' when unknown. */
  peer: string;
  layer: SpanLayer;
  componentId: number;
  isError: boolean;
  tags: KeyStringValuePair[];
  logs: SpanLog[];
  /**
   * For server spans: the address the caller used to reach this server, when the span says so.
   * Used as `networkAddressUsedAtPeer` only when the parent span is not an Exit with a peer.
   */
  calledAddress: string;
}

function text(attrs: Attributes, key: string): string {
  const v = attrs[key];
  return v === undefined ? '' : attributeText(v);
}

function firstOf(attrs: Attributes, keys: readonly string[]): string {
  for (const k of keys) {
    const v = attrs[k];
    if (v !== undefined && v !== '') return attributeText(v);
  }
  return '';
}

const HTTP_METHOD = ['http.request.method', 'http.method'] as const;
const HTTP_STATUS = ['http.response.status_code', 'http.status_code'] as const;
const URL_FULL = ['url.full', 'http.url'] as const;
const SERVER_ADDRESS = ['server.address', 'net.peer.name', 'net.sock.peer.name', 'network.peer.address', 'net.peer.ip', 'net.sock.peer.addr'] as const;
const SERVER_PORT = ['server.port', 'net.peer.port', 'network.peer.port', 'net.sock.peer.port'] as const;
const HOST_ADDRESS = ['server.address', 'net.host.name', 'http.host'] as const;
const HOST_PORT = ['server.port', 'net.host.port'] as const;

/** Attributes whose meaning is carried by SkyWalking fields; they are not repeated as tags. */
const CONSUMED = new Set<string>([
  ...HTTP_METHOD, ...HTTP_STATUS, ...URL_FULL, 'http.route', 'url.path', 'url.query', 'url.scheme', 'http.target', 'http.scheme',
]);

function hostPort(host: string, port: string): string {
  if (!host) return '';
  const h = host.includes(':') && !host.startsWith('[') && !/^[^:]+:\d+$/.test(host) ? `[${host}]` : host;
  if (/:\d+$/.test(h)) return h; // already host:port (http.host)
  return port ? `${h}:${port}` : h;
}

function parseUrl(full: string): URL | undefined {
  try {
    return full ? new URL(full) : undefined;
  } catch {
    return undefined;
  }
}

/** `host:port` a client reached, the way the Node agent writes it (default ports filled in). */
function peerFromUrl(url: URL | undefined): string {
  if (!url) return '';
  const port = url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
  return hostPort(url.hostname, port);
}

function pathOnly(target: string): string {
  const q = target.search(/[?#]/);
  return q === -1 ? target : target.slice(0, q);
}

function isHttp(attrs: Attributes): boolean {
  return HTTP_METHOD.some((k) => attrs[k] !== undefined);
}

function statusCode(attrs: Attributes): number {
  const s = Number(firstOf(attrs, HTTP_STATUS));
  return Number.isFinite(s) ? s : 0;
}

export function endpointName(name: string): string {
  return name.length > ENDPOINT_NAME_MAX ? name.slice(0, ENDPOINT_NAME_MAX) : name;
}

/** Span events → SkyWalking logs; exceptions use the keys SkyWalking agents write. */
function eventsToLogs(span: Span): SpanLog[] {
  const logs: SpanLog[] = [];
  for (const ev of span.events) {
    const data: KeyStringValuePair[] = [];
    if (ev.name === 'exception') {
      data.push({ key: 'event', value: 'error' });
      const kind = text(ev.attributes, 'exception.type');
      const message = text(ev.attributes, 'exception.message');
      const stack = text(ev.attributes, 'exception.stacktrace');
      if (kind) data.push({ key: 'error.kind', value: kind });
      if (message) data.push({ key: 'message', value: message });
      if (stack) data.push({ key: 'stack', value: stack });
    } else {
      data.push({ key: 'event', value: ev.name });
      for (const [k, v] of Object.entries(ev.attributes)) data.push({ key: k, value: attributeText(v) });
    }
    logs.push({ time: Number(ev.timeUnixNano / 1_000_000n), data });
  }
  return logs;
}

export function translateSpan(span: Span, _scope: InstrumentationScope): TranslatedSpan {
  const attrs = span.attributes;
  const tags: KeyStringValuePair[] = [];
  let operationName = span.name;
  let peer = '';
  let calledAddress = '';
  let layer: SpanLayer = SpanLayer.Unknown;
  let componentId: number = ComponentId.Unknown;
  let isError = span.status.code === StatusCode.ERROR;
  const server = span.kind === SpanKind.SERVER || span.kind === SpanKind.CONSUMER;
  const client = span.kind === SpanKind.CLIENT || span.kind === SpanKind.PRODUCER;

  if (isHttp(attrs)) {
    layer = SpanLayer.Http;
    const method = firstOf(attrs, HTTP_METHOD).toUpperCase();
    const status = statusCode(attrs);
    const url = parseUrl(firstOf(attrs, URL_FULL));
    const route = text(attrs, 'http.route');
    const path = text(attrs, 'url.path') || pathOnly(text(attrs, 'http.target')) || url?.pathname || '';
    // SkyWalking's endpoint form METHOD:/route; the route template keeps cardinality bounded.
    if (route || path) operationName = `${method}:${route || path}`;
    if (server) {
      componentId = ComponentId.Http;
      if (status >= 500) isError = true;
      calledAddress = hostPort(firstOf(attrs, HOST_ADDRESS), firstOf(attrs, HOST_PORT));
    } else if (client) {
      componentId = ComponentId.HttpClient;
      peer = hostPort(firstOf(attrs, SERVER_ADDRESS), firstOf(attrs, SERVER_PORT)) || peerFromUrl(url);
      // Agents mark a failed client call (4xx/5xx) as an error; OTel sets status ERROR for those too.
      if (status >= 400) isError = true;
    }
    const fullUrl = url?.href ?? (server && calledAddress ? `${firstOf(attrs, ['url.scheme', 'http.scheme']) || 'http'}://${calledAddress}${path}` : '');
    if (fullUrl) tags.push({ key: 'url', value: fullUrl });
    if (method) tags.push({ key: 'http.method', value: method });
    if (status) tags.push({ key: 'http.status_code', value: String(status) });
  } else if (client) {
    peer = hostPort(firstOf(attrs, SERVER_ADDRESS), firstOf(attrs, SERVER_PORT)) || text(attrs, 'peer.service');
  }

  for (const key in attrs) {
    if (CONSUMED.has(key)) continue;
    tags.push({ key, value: attributeText(attrs[key]) });
  }
  if (span.status.code === StatusCode.ERROR && span.status.message) {
    tags.push({ key: 'status.message', value: span.status.message });
  }

  return { operationName: endpointName(operationName), peer, layer, componentId, isError, tags, logs: eventsToLogs(span), calledAddress };
}
