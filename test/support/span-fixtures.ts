/** Builders for internal-model spans, shaped like what @opentelemetry/instrumentation-http produces. */
import type { Attributes, ResourceSpans, Span, SpanBatch } from '../../core/model/span-batch.ts';
import { SpanKind, StatusCode } from '../../core/model/span-batch.ts';

let counter = 0;
export function hexId(bytes: number, seed?: number): string {
  const n = seed ?? ++counter;
  return n.toString(16).padStart(bytes * 2, '0').slice(-bytes * 2).replace(/^0/, '1');
}

export function span(p: Partial<Span> & Pick<Span, 'traceId' | 'spanId' | 'name' | 'kind'>): Span {
  return {
    parentSpanId: '',
    traceState: '',
    flags: 0x101,
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_000_050_000_000n,
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: StatusCode.UNSET, message: '' },
    ...p,
  };
}

export function resourceSpans(service: string, spans: Span[], extra: Attributes = {}): ResourceSpans {
  return {
    resource: { attributes: { 'service.name': service, 'service.instance.id': `${service}-1`, ...extra }, droppedAttributesCount: 0 },
    schemaUrl: '',
    scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.223.0', attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', spans }],
  };
}

export interface ThreeServiceTrace {
  traceId: string;
  batches: { frontend: ResourceSpans; orders: ResourceSpans; payments: ResourceSpans };
  ids: Record<'feServer' | 'feClient' | 'ordServer' | 'ordInternal' | 'ordClient' | 'payServer', string>;
}

/**
 * frontend SERVER GET /checkout → CLIENT → orders SERVER POST /orders → INTERNAL validate →
 * CLIENT → payments SERVER POST /pay. Times nest like a real request.
 */
export function threeServiceTrace(opts: { paymentsStatus?: number; t0?: bigint } = {}): ThreeServiceTrace {
  const traceId = hexId(16);
  const ids = {
    feServer: hexId(8), feClient: hexId(8), ordServer: hexId(8), ordInternal: hexId(8), ordClient: hexId(8), payServer: hexId(8),
  };
  const t0 = opts.t0 ?? 1_700_000_000_000_000_000n;
  const ms = (n: number) => t0 + BigInt(n) * 1_000_000n;
  const payStatus = opts.paymentsStatus ?? 200;
  const failed = payStatus >= 500;
  const err = { code: StatusCode.ERROR, message: '' };
  const ok = { code: StatusCode.UNSET, message: '' };
  const frontend = resourceSpans('frontend', [
    span({ traceId, spanId: ids.feClient, parentSpanId: ids.feServer, name: 'POST', kind: SpanKind.CLIENT, startTimeUnixNano: ms(2), endTimeUnixNano: ms(40),
      attributes: { 'http.method': 'POST', 'http.url': 'http://127.0.0.1:3001/orders', 'net.peer.name': '127.0.0.1', 'net.peer.port': 3001, 'http.status_code': failed ? 502 : 201 },
      status: failed ? err : ok }),
    span({ traceId, spanId: ids.feServer, name: 'GET', kind: SpanKind.SERVER, flags: 0x101, startTimeUnixNano: ms(0), endTimeUnixNano: ms(45),
      attributes: { 'http.method': 'GET', 'http.target': '/checkout?cart=42', 'http.route': '/checkout', 'net.host.name': '127.0.0.1', 'net.host.port': 3000, 'http.status_code': failed ? 502 : 200 },
      status: failed ? err : ok }),
  ]);
  const orders = resourceSpans('orders', [
    span({ traceId, spanId: ids.ordServer, parentSpanId: ids.feClient, name: 'POST', kind: SpanKind.SERVER, flags: 0x301, startTimeUnixNano: ms(5), endTimeUnixNano: ms(38),
      attributes: { 'http.method': 'POST', 'http.target': '/orders', 'net.host.name': '127.0.0.1', 'net.host.port': 3001, 'http.status_code': failed ? 502 : 201 },
      status: failed ? err : ok }),
    span({ traceId, spanId: ids.ordInternal, parentSpanId: ids.ordServer, name: 'validate', kind: SpanKind.INTERNAL, startTimeUnixNano: ms(6), endTimeUnixNano: ms(8) }),
    span({ traceId, spanId: ids.ordClient, parentSpanId: ids.ordServer, name: 'POST', kind: SpanKind.CLIENT, startTimeUnixNano: ms(10), endTimeUnixNano: ms(30),
      attributes: { 'http.request.method': 'POST', 'url.full': 'http://localhost:3002/pay', 'server.address': 'localhost', 'server.port': 3002, 'http.response.status_code': payStatus },
      status: failed ? err : ok }),
  ]);
  const payments = resourceSpans('payments', [
    span({ traceId, spanId: ids.payServer, parentSpanId: ids.ordClient, name: 'POST /pay', kind: SpanKind.SERVER, flags: 0x301, startTimeUnixNano: ms(12), endTimeUnixNano: ms(28),
      attributes: { 'http.request.method': 'POST', 'url.path': '/pay', 'http.route': '/pay', 'server.address': 'localhost', 'server.port': 3002, 'http.response.status_code': payStatus },
      status: failed ? err : ok }),
  ]);
  return { traceId, ids, batches: { frontend, orders, payments } };
}

export function batchOf(...rs: ResourceSpans[]): SpanBatch {
  return { resourceSpans: rs };
}
