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
  // Zipkin instrumentations (zipkin-js) record the method only as the span name, next to
  // `http.path` / `http.url`.
  if (!method && (attrs['http.path'] !== undefined || attrs['http.url'] !== undefined) && HTTP_METHODS.has(ctx.span.name.toUpperCase())) {
    method = ctx.span.name.toUpperCase();
  }
  if (!method) return undefined;
  const status = Number(firstOf(attrs, STATUS)) || 0;
  const url = parseUrl(firstOf(attrs, URL_FULL));
  const route = text(attrs, 'http.route') || text(attrs, 'url.template');
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
  tags.push({ key: 'http.method', value: method });
  if (status) tags.push({ key: 'http.status_code', value: String(status) });
  const name = route || templatePath(path);
  return {
    // The agents name Entry spans `METHOD:/route` and Exit spans by the path alone.
    operationName: name ? (clientSide ? name : `${method}:${name}`) : undefined,
    peer,
    calledAddress,
    layer: SpanLayer.Http,
    componentId,
    isError,
    tags,
    consumed: CONSUMED,
  };
};
