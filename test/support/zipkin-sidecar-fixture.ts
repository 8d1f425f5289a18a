/**
 * Zipkin v2 spans shaped like Envoy sidecars in an Istio mesh report them (Envoy's Zipkin tracer with
 * `shared_span_context`, Istio's tags), for the bookinfo call graph:
 *
 *   istio-ingressgateway ─▶ productpage ─▶ details
 *                                       └▶ reviews ─▶ ratings
 *
 * What makes this shape hard (../shared/seeds; docs/translation.md, "Joined and reused span ids"):
 * - The applications do not report spans; each forwards the B3 headers it received. So every
 *   outbound CLIENT span of a sidecar names the *inbound* span id as its parent, and the inbound
 *   SERVER span of the next sidecar joins the caller's CLIENT span id (`shared: true`).
 * - The gateway's span is a CLIENT span and the trace's root.
 * - Each sidecar reports a span when it finishes, so outbound spans are posted before the inbound
 *   span they belong to, in separate requests.
 * - Local endpoints carry the pod IP; ratings' application adds one span of its own without a local
 *   endpoint (as Zipkin v1-era tracers do), under the inbound span id.
 * - reviews calls ratings twice with the same headers (the sidecar retried after a 503), so two
 *   ratings spans join one client span id, on two pods.
 *
 * Per trace: 9 spans from sidecars plus 1 application span. What a correct translation gives per
 * trace: 6 segments (gateway, productpage, details, reviews, two ratings pods), 5 CrossProcess refs,
 * 4 service edges, no self-loop.
 */
import { randomBytes } from 'node:crypto';

export interface ZipkinV2Span {
  traceId: string;
  id: string;
  parentId?: string;
  kind?: 'CLIENT' | 'SERVER';
  name: string;
  timestamp: number;
  duration: number;
  localEndpoint?: { serviceName: string; ipv4?: string; port?: number };
  remoteEndpoint?: { serviceName?: string; ipv4?: string; port?: number };
  shared?: boolean;
  tags?: Record<string, string>;
}

export const BOOKINFO_EDGES = [
  'istio-ingressgateway → productpage.default',
  'productpage.default → details.default',
  'productpage.default → reviews.default',
  'reviews.default → ratings.default',
] as const;

/** The processes of one trace as `service@instance`, sorted: one segment each. */
export const BOOKINFO_PROCESSES = [
  'details.default@10.244.0.13',
  'istio-ingressgateway@10.244.0.5',
  'productpage.default@10.244.0.12',
  'ratings.default@10.244.0.15',
  'ratings.default@10.244.0.16',
  'reviews.default@10.244.0.14',
] as const;

const POD_IPS = {
  gateway: '10.244.0.5',
  productpage: '10.244.0.12',
  details: '10.244.0.13',
  reviews: '10.244.0.14',
  ratings: '10.244.0.15',
  ratingsRetry: '10.244.0.16',
} as const;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** Istio's tags on a sidecar span; `cluster` is the upstream cluster Envoy routed to. */
function istioTags(service: string, ip: string, method: string, url: string, status: number, cluster: string): Record<string, string> {
  return {
    component: 'proxy',
    node_id: `sidecar~${ip}~${service}-v1-6b746f74dc-9stvs.default~default.svc.cluster.local`,
    zone: 'us-east1-b',
    'guid:x-request-id': '5d1d1f3e-7a7b-9c9e-a7a1-3b0c6f0d2a11',
    'http.url': url,
    'http.method': method,
    downstream_cluster: '-',
    user_agent: 'python-requests/2.31.0',
    'http.protocol': 'HTTP/1.1',
    'peer.address': ip,
    request_size: '0',
    response_size: '295',
    upstream_cluster: cluster,
    'upstream_cluster.name': cluster,
    'http.status_code': String(status),
    response_flags: status === 503 ? 'UF' : '-',
    'istio.canonical_revision': 'v1',
    'istio.canonical_service': service,
    'istio.mesh_id': 'cluster.local',
    'istio.namespace': 'default',
  };
}

/**
 * One bookinfo request; returns the POST bodies in the order the sidecars would send them (each
 * sidecar's spans as they finish). `t0` is the trace's start in epoch microseconds.
 */
export function bookinfoTrace(t0: number): { traceId: string; posts: ZipkinV2Span[][] } {
  const traceId = hex(16);
  const ids = { gw: hex(8), pdDetails: hex(8), pdReviews: hex(8), rvRatings: hex(8), app: hex(8) };
  const at = (ms: number) => t0 + ms * 1000;
  const local = (service: string, ip: string) => ({ serviceName: `${service}.default`, ipv4: ip });
  const host = (service: string) => `${service}.default.svc.cluster.local:9080`;

  const gateway: ZipkinV2Span = {
    traceId, id: ids.gw, kind: 'CLIENT', name: `${host('productpage')}/productpage`, timestamp: at(0), duration: 95_000,
    localEndpoint: { serviceName: 'istio-ingressgateway', ipv4: POD_IPS.gateway },
    tags: istioTags('istio-ingressgateway', POD_IPS.gateway, 'GET', 'http://bookinfo.example.com/productpage', 200, `outbound|9080||${host('productpage').replace(':9080', '')}`),
  };
  // Inbound spans are the caller's span reported again (same id and parent, `shared`); outbound
  // spans name the inbound (= caller's) id as their parent.
  const inbound = (service: keyof typeof POD_IPS, name: string, joined: string, parent: string | undefined, start: number, ms: number, status = 200): ZipkinV2Span => ({
    traceId, id: joined, ...(parent ? { parentId: parent } : {}), kind: 'SERVER', shared: true, name: `${host(name)}/*`, timestamp: at(start), duration: ms * 1000,
    localEndpoint: local(name, POD_IPS[service]),
    tags: istioTags(name, POD_IPS[service], 'GET', `http://${name}:9080/${name}`, status, 'inbound|9080||'),
  });
  const outbound = (from: keyof typeof POD_IPS, fromName: string, to: string, id: string, parent: string, start: number, ms: number, status = 200): ZipkinV2Span => ({
    traceId, id, parentId: parent, kind: 'CLIENT', name: `${host(to)}/*`, timestamp: at(start), duration: ms * 1000,
    localEndpoint: local(fromName, POD_IPS[from]),
    tags: istioTags(fromName, POD_IPS[from], 'GET', `http://${to}:9080/${to}`, status, `outbound|9080||${to}.default.svc.cluster.local`),
  });

  const productpageIn = inbound('productpage', 'productpage', ids.gw, undefined, 2, 90);
  const toDetails = outbound('productpage', 'productpage', 'details', ids.pdDetails, ids.gw, 5, 10);
  const detailsIn = inbound('details', 'details', ids.pdDetails, ids.gw, 6, 8);
  const toReviews = outbound('productpage', 'productpage', 'reviews', ids.pdReviews, ids.gw, 20, 70);
  const reviewsIn = inbound('reviews', 'reviews', ids.pdReviews, ids.gw, 21, 68);
  // reviews' sidecar retried its call to ratings after a 503: the same headers to two pods.
  const toRatings = outbound('reviews', 'reviews', 'ratings', ids.rvRatings, ids.pdReviews, 25, 60);
  const ratingsFailed = inbound('ratings', 'ratings', ids.rvRatings, ids.pdReviews, 26, 4, 503);
  const ratingsRetried = inbound('ratingsRetry', 'ratings', ids.rvRatings, ids.pdReviews, 40, 40);
  // ratings' application: one span of its own, no local endpoint, under the id it was called with.
  const ratingsApp: ZipkinV2Span = { traceId, id: ids.app, parentId: ids.rvRatings, name: 'mongodb find ratings', timestamp: at(45), duration: 20_000, tags: { 'db.type': 'mongo' } };

  return {
    traceId,
    posts: [
      [detailsIn],
      [toDetails],
      [ratingsFailed],
      [ratingsApp],
      [ratingsRetried],
      [toRatings],
      [reviewsIn],
      [toReviews],
      [productpageIn],
      [gateway],
    ],
  };
}
