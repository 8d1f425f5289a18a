/** HTTP server and client spans → layer Http, `METHOD:/route` names, url / http.method / http.status_code tags. */
import { SpanLayer } from '../segment-object.ts';
import { firstOf, hostPort, parseUrl, peerFromUrl, clientPeer, text } from './attribute-lookup.ts';
import { Component } from './component-ids.ts';
import type { FamilyTranslator } from './translation.ts';

const METHOD = ['http.request.method', 'http.method'] as const;
const STATUS = ['http.response.status_code', 'http.status_code'] as const;
const URL_FULL = ['url.full', 'http.url'] as const;
const HOST_ADDRESS = ['server.address', 'net.host.name', 'http.host'] as const;
const HOST_PORT = ['server.port', 'net.host.port'] as const;
const CONSUMED = [...METHOD, ...STATUS, ...URL_FULL, 'http.route', 'url.path', 'url.query', 'url.scheme', 'http.target', 'http.scheme', 'url.template', 'http.path'];

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/**
 * Zipkin's own HTTP tag names (Brave, zipkin-js, Envoy: zipkin-api `thrift/zipkinCore.thrift`),
 * which the zipkin receiver keeps as attributes. Any of them makes a span HTTP, method or not.
 */
const ZIPKIN_HTTP_KEYS = ['http.path', 'http.url', 'http.route', 'http.status_code'] as const;

/**
 * Method and route from a Zipkin span name: zipkin-js names spans by the method (`get`), Brave by
 * the method and, when known, the route (`get /users/{id}`, `GET /users/{id}`).
 */
function fromSpanName(name: string): { method: string; route: string } {
  const [first = '', second = ''] = name.trim().split(/\s+/, 3);
  const method = first.toUpperCase();
  if (!HTTP_METHODS.has(method)) return { method: '', route: '' };
  return { method, route: second.startsWith('/') ? second : '' };
}

function pathOnly(target: string): string {
  const q = target.search(/[?#]/);
  return q === -1 ? target : target.slice(0, q);
}

// A path segment that is an id rather than a resource name: numbers, UUIDs, long hex, or long
// tokens mixing digits and letters. Replacing them keeps endpoint cardinality bounded when the
// instrumentation gives no route template.
const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|(?=[^/]*\d)[A-Za-z0-9_-]{20,})$/i;

export function templatePath(path: string): string {
  if (!path) return path;
  return path
    .split('/')
    .map((seg) => (ID_SEGMENT.test(seg) ? '{id}' : seg))
    .join('/');
}

export const translateHttp: FamilyTranslator = (ctx) => {
  const { attrs, serverSide, clientSide } = ctx;
  let method = firstOf(attrs, METHOD).toUpperCase();
  // Zipkin instrumentations (zipkin-js, Brave) record the method, and Brave the route, only in the
  // span name, next to Zipkin's `http.*` tags.
  const zipkinStyle = ZIPKIN_HTTP_KEYS.some((k) => attrs[k] !== undefined);
  const named = zipkinStyle ? fromSpanName(ctx.span.name) : { method: '', route: '' };
  if (!method) method = named.method;
  if (!method && !zipkinStyle) return undefined;
  const status = Number(firstOf(attrs, STATUS)) || 0;
  const url = parseUrl(firstOf(attrs, URL_FULL));
  const route = text(attrs, 'http.route') || text(attrs, 'url.template') || named.route;
  // `http.path` is Zipkin's key (Brave, zipkin-js, Envoy), kept as an attribute by the zipkin receiver.
  const path = text(attrs, 'url.path') || pathOnly(text(attrs, 'http.target')) || pathOnly(text(attrs, 'http.path')) || url?.pathname || '';
  const tags = [];
  let peer: string | undefined;
  let calledAddress: string | undefined;
  let isError: boolean | undefined;
  let componentId: number | undefined;
  if (serverSide) {
    componentId = Component.Http;
    // OTel leaves 4xx unset on servers (the client erred); SkyWalking agents agree for 5xx.
    if (status >= 500) isError = true;
    calledAddress = hostPort(firstOf(attrs, HOST_ADDRESS), firstOf(attrs, HOST_PORT));
  } else if (clientSide) {
    componentId = Component.HttpClient;
    // Some clients (zipkin-js) record only the remote service's name; it beats losing the Exit.
    peer = clientPeer(attrs) || peerFromUrl(url) || text(attrs, 'peer.service');
    if (status >= 400) isError = true;
  }
  const fullUrl = url?.href ?? (serverSide && calledAddress ? `${firstOf(attrs, ['url.scheme', 'http.scheme']) || 'http'}://${calledAddress}${path}` : '');
  if (fullUrl) tags.push({ key: 'url', value: fullUrl });
  if (method) tags.push({ key: 'http.method', value: method });
  if (status) tags.push({ key: 'http.status_code', value: String(status) });
  const name = route || templatePath(path);
  return {
    // The agents name Entry spans `METHOD:/route` and Exit spans by the path alone.
    operationName: name ? (clientSide || !method ? name : `${method}:${name}`) : undefined,
    peer,
    calledAddress,
    layer: SpanLayer.Http,
    componentId,
    isError,
    tags,
    consumed: CONSUMED,
  };
};
