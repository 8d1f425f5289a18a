/**
 * Deterministic OTLP load for the benchmark: batches of whole 3-service checkout traces shaped the
 * way OpenTelemetry JS instrumentations emit them (http, express, pg, ioredis), with current semconv
 * attribute names, about ten attributes per span, and the span `flags` OTel JS 2.x sets (0x101 for
 * a local or no parent, 0x301 under a remote parent). The same seed gives the same batches, except
 * for timestamps, which follow `startTimeMs`.
 *
 *   frontend SERVER GET /api/checkout
 *   ├─ INTERNAL express middleware ×2, request handler
 *   ├─ CLIENT redis GET session
 *   └─ CLIENT POST orders ──▶ orders SERVER POST /orders
 *                             ├─ INTERNAL validate order, pg-pool.connect
 *                             ├─ CLIENT pg SELECT products ×items, INSERT orders, INSERT order_items ×items
 *                             └─ CLIENT POST payments ──▶ payments SERVER POST /payments/charge
 *                                                         ├─ INTERNAL fraud check, pg-pool.connect
 *                                                         ├─ CLIENT redis SET idempotency key
 *                                                         ├─ CLIENT pg INSERT charges, UPDATE ledger
 *                                                         └─ CLIENT POST psp.example (an external peer)
 *
 * A trace has 18 + 3×items spans (21–48 for 1–10 items). A batch holds whole traces, grouped by
 * service instance, so every batch carries several resources.
 */
import type { Attributes, InstrumentationScope, Resource, ResourceSpans, ScopeSpans, Span, SpanBatch } from '../core/model/span-batch.ts';
import { SpanKind } from '../core/model/span-batch.ts';

/** One generated request: the batch and what the benchmark needs to follow its traces. */
export interface GeneratedRequest {
  batch: SpanBatch;
  /** Trace ids in the batch, in generation order. */
  traceIds: string[];
  /** Span count of each trace, same order as `traceIds`. */
  spansPerTrace: number[];
  spanCount: number;
}

export interface TraceGeneratorOptions {
  seed: number;
  /** Spans per request: a batch is filled with whole traces until it holds at least `minSpans`, never more than `maxSpans`. */
  minSpans: number;
  maxSpans: number;
  /** Where span times start (ms since the epoch); each trace starts a little after the previous one. */
  startTimeMs: number;
}

/** Spans one trace has with `items` order lines (see the module comment). */
const spansForItems = (items: number): number => 18 + 3 * items;
const MIN_ITEMS = 1;
const MAX_ITEMS = 10;
export const MIN_TRACE_SPANS = spansForItems(MIN_ITEMS);
export const MAX_TRACE_SPANS = spansForItems(MAX_ITEMS);

const OTEL_FLAGS_LOCAL_PARENT = 0x101; // sampled | CONTEXT_HAS_IS_REMOTE
const OTEL_FLAGS_REMOTE_PARENT = 0x301; // sampled | CONTEXT_HAS_IS_REMOTE | CONTEXT_IS_REMOTE
const MS = 1_000_000n;
const US = 1_000n;

/** mulberry32: a tiny seeded PRNG; quality is ample for ids and shapes (and the fuzzer's cases). */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  uint32(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + (this.uint32() % (max - min + 1));
  }
  chance(p: number): boolean {
    return this.uint32() / 4294967296 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.uint32() % items.length]!;
  }
  hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes; i += 4) s += this.uint32().toString(16).padStart(8, '0');
    return s.slice(0, bytes * 2);
  }
}

interface Instance {
  service: string;
  resource: Resource;
  address: string;
  port: number;
  ip: string;
}

const SDK_ATTRIBUTES: Attributes = {
  'telemetry.sdk.name': 'opentelemetry',
  'telemetry.sdk.language': 'nodejs',
  'telemetry.sdk.version': '2.12.1',
  'process.runtime.name': 'nodejs',
  'process.runtime.version': '20.19.4',
};

function makeInstances(rnd: Random, service: string, count: number, port: number): Instance[] {
  const out: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const podSuffix = rnd.hex(3);
    const ip = `10.42.${rnd.int(0, 255)}.${rnd.int(1, 254)}`;
    out.push({
      service,
      address: service,
      port,
      ip,
      resource: {
        attributes: {
          'service.name': service,
          'service.namespace': 'shop',
          'service.version': '1.14.2',
          'service.instance.id': `${rnd.hex(4)}-${rnd.hex(2)}-${rnd.hex(2)}-${rnd.hex(2)}-${rnd.hex(6)}`,
          'host.name': `${service}-7c9d8f${podSuffix}`,
          'host.arch': 'amd64',
          'process.pid': rnd.int(1, 60),
          'process.executable.name': 'node',
          'deployment.environment.name': 'production',
          ...SDK_ATTRIBUTES,
        },
        droppedAttributesCount: 0,
      },
    });
  }
  return out;
}

const SCOPES = {
  http: { name: '@opentelemetry/instrumentation-http', version: '0.223.0' },
  express: { name: '@opentelemetry/instrumentation-express', version: '0.52.0' },
  pg: { name: '@opentelemetry/instrumentation-pg', version: '0.55.0' },
  redis: { name: '@opentelemetry/instrumentation-ioredis', version: '0.51.0' },
  app: { name: 'shop-app', version: '1.14.2' },
} as const;
type ScopeKey = keyof typeof SCOPES;

const USER_AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
];
const NODE_UA = 'node';

/** A span under construction, tagged with where it goes in the batch. */
interface Placed {
  instance: Instance;
  scope: ScopeKey;
  span: Span;
}

/** Builds one trace; times in nanoseconds from the trace's start. */
class TraceBuilder {
  readonly spans: Placed[] = [];
  readonly #rnd: Random;
  readonly traceId: string;
  readonly #t0: bigint;

  constructor(rnd: Random, t0: bigint) {
    this.#rnd = rnd;
    this.#t0 = t0;
    this.traceId = rnd.hex(16);
  }

  add(
    instance: Instance,
    scope: ScopeKey,
    parent: Span | undefined,
    kind: SpanKind,
    name: string,
    startNs: bigint,
    durationNs: bigint,
    attributes: Attributes,
    remoteParent = false,
  ): Span {
    const span: Span = {
      traceId: this.traceId,
      spanId: this.#rnd.hex(8),
      parentSpanId: parent?.spanId ?? '',
      traceState: '',
      flags: remoteParent ? OTEL_FLAGS_REMOTE_PARENT : OTEL_FLAGS_LOCAL_PARENT,
      name,
      kind,
      startTimeUnixNano: this.#t0 + startNs,
      endTimeUnixNano: this.#t0 + startNs + durationNs,
      attributes,
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: 0, message: '' },
    };
    this.spans.push({ instance, scope, span });
    return span;
  }
}

export class TraceGenerator {
  readonly #rnd: Random;
  readonly #options: TraceGeneratorOptions;
  readonly #frontend: Instance[];
  readonly #orders: Instance[];
  readonly #payments: Instance[];
  #clockNs: bigint;

  constructor(options: TraceGeneratorOptions) {
    if (options.minSpans > options.maxSpans) throw new RangeError(`minSpans ${options.minSpans} is above maxSpans ${options.maxSpans}.`);
    if (options.maxSpans < MIN_TRACE_SPANS) throw new RangeError(`maxSpans must be at least ${MIN_TRACE_SPANS}, the smallest trace.`);
    this.#options = options;
    this.#rnd = new Random(options.seed);
    this.#frontend = makeInstances(this.#rnd, 'frontend', 3, 8080);
    this.#orders = makeInstances(this.#rnd, 'orders', 2, 8081);
    this.#payments = makeInstances(this.#rnd, 'payments', 2, 8082);
    this.#clockNs = BigInt(options.startTimeMs) * MS;
  }

  /** The next request: whole traces, grouped by instance and instrumentation scope. */
  nextRequest(): GeneratedRequest {
    const rnd = this.#rnd;
    const target = rnd.int(this.#options.minSpans, this.#options.maxSpans);
    const traces: TraceBuilder[] = [];
    let spanCount = 0;
    while (spanCount < target) {
      // Keep within maxSpans: shrink the order so the last trace fits, or stop if none can.
      const room = this.#options.maxSpans - spanCount;
      if (room < MIN_TRACE_SPANS) break;
      const maxItems = Math.min(MAX_ITEMS, Math.floor((room - 18) / 3));
      const trace = this.#trace(rnd.int(MIN_ITEMS, maxItems));
      traces.push(trace);
      spanCount += trace.spans.length;
    }
    return {
      batch: group(traces.flatMap((t) => t.spans)),
      traceIds: traces.map((t) => t.traceId),
      spansPerTrace: traces.map((t) => t.spans.length),
      spanCount,
    };
  }

  #trace(items: number): TraceBuilder {
    const rnd = this.#rnd;
    this.#clockNs += BigInt(rnd.int(50, 5_000)) * US;
    const t = new TraceBuilder(rnd, this.#clockNs);
    const fe = rnd.pick(this.#frontend);
    const od = rnd.pick(this.#orders);
    const pm = rnd.pick(this.#payments);
    const declined = rnd.chance(0.03);
    const userAgent = rnd.pick(USER_AGENTS);
    const orderId = rnd.int(100_000, 999_999);

    // Work out durations bottom-up, so every parent encloses its children.
    const paymentsNs = BigInt(rnd.int(15, 60)) * MS;
    const ordersNs = paymentsNs + BigInt(items * rnd.int(3, 5) + 10) * MS;
    const frontendNs = ordersNs + BigInt(rnd.int(5, 20)) * MS;

    // frontend
    const root = t.add(fe, 'http', undefined, SpanKind.SERVER, 'GET /api/checkout', 0n, frontendNs, {
      'http.request.method': 'GET',
      'url.scheme': 'https',
      'url.path': '/api/checkout',
      'url.query': `cart=${rnd.hex(4)}`,
      'http.route': '/api/checkout',
      'server.address': 'shop.example.com',
      'server.port': 443,
      'client.address': `203.0.113.${rnd.int(1, 254)}`,
      'user_agent.original': userAgent,
      'network.protocol.version': '1.1',
      'http.response.status_code': declined ? 402 : 200,
    });
    if (declined) root.status = { code: 2, message: '' };
    for (const [i, mw] of ['query', 'expressInit'].entries()) {
      t.add(fe, 'express', root, SpanKind.INTERNAL, `middleware - ${mw}`, BigInt(i * 40) * US, 30n * US, {
        'express.name': mw,
        'express.type': 'middleware',
        'http.route': '/api/checkout',
        'code.function.name': mw,
        'code.file.path': `/app/node_modules/express/lib/middleware/${mw}.js`,
        'code.line.number': 21 + i * 14,
        'thread.id': 1,
        'thread.name': 'main',
      });
    }
    const handler = t.add(fe, 'express', root, SpanKind.INTERNAL, 'request handler - /api/checkout', 100n * US, frontendNs - 200n * US, {
      'express.name': '/api/checkout',
      'express.type': 'request_handler',
      'http.route': '/api/checkout',
      'code.function.name': 'checkoutHandler',
      'code.file.path': '/app/src/routes/checkout.js',
      'code.line.number': 42,
      'thread.id': 1,
      'thread.name': 'main',
      'enduser.pseudo.id': rnd.hex(8),
    });
    t.add(fe, 'redis', handler, SpanKind.CLIENT, 'GET', 200n * US, BigInt(rnd.int(200, 900)) * US, {
      'db.system.name': 'redis',
      'db.operation.name': 'GET',
      'db.query.text': 'GET session:?',
      'db.namespace': '0',
      'server.address': 'redis-sessions',
      'server.port': 6379,
      'network.peer.address': '10.43.0.12',
      'network.peer.port': 6379,
      'thread.id': 1,
    });
    const toOrders = t.add(fe, 'http', handler, SpanKind.CLIENT, 'POST', 2n * MS, ordersNs + 2n * MS, {
      'http.request.method': 'POST',
      'url.full': `http://orders:${od.port}/orders`,
      'server.address': od.address,
      'server.port': od.port,
      'net.peer.name': od.address, // older semconv name, still sent by some instrumentations
      'network.peer.address': od.ip,
      'network.peer.port': od.port,
      'user_agent.original': NODE_UA,
      'http.response.status_code': declined ? 402 : 201,
      'thread.id': 1,
    });
    if (declined) toOrders.status = { code: 2, message: '' };

    // orders, under a remote parent
    const ordersRoot = t.add(
      od, 'http', toOrders, SpanKind.SERVER, 'POST /orders', 3n * MS, ordersNs, {
        'http.request.method': 'POST',
        'url.scheme': 'http',
        'url.path': '/orders',
        'http.route': '/orders',
        'server.address': od.address,
        'server.port': od.port,
        'client.address': fe.ip,
        'user_agent.original': NODE_UA,
        'network.protocol.version': '1.1',
        'http.response.status_code': declined ? 402 : 201,
      },
      true,
    );
    if (declined) ordersRoot.status = { code: 2, message: '' };
    let at = 3n * MS + 100n * US;
    t.add(od, 'app', ordersRoot, SpanKind.INTERNAL, 'validate order', at, 400n * US, {
      'code.function.name': 'validateOrder',
      'code.file.path': '/app/src/orders/validate.js',
      'code.line.number': 17,
      'thread.id': 1,
      'thread.name': 'main',
      'order.items': items,
      'order.id': orderId,
      'order.currency': 'EUR',
    });
    at += 500n * US;
    t.add(od, 'pg', ordersRoot, SpanKind.INTERNAL, 'pg-pool.connect', at, 150n * US, {
      'db.system.name': 'postgresql',
      'db.namespace': 'shop',
      'server.address': 'pg-primary',
      'server.port': 5432,
      'db.postgresql.idle.timeout.millis': 10_000,
      'db.postgresql.max.client': 20,
      'network.peer.address': '10.43.1.5',
      'network.peer.port': 5432,
      'thread.id': 1,
    });
    at += 200n * US;
    const pgAttributes = (operation: string, table: string, text: string): Attributes => ({
      'db.system.name': 'postgresql',
      'db.namespace': 'shop',
      'db.operation.name': operation,
      'db.collection.name': table,
      'db.query.text': text,
      'server.address': 'pg-primary',
      'server.port': 5432,
      'network.peer.address': '10.43.1.5',
      'network.peer.port': 5432,
      'thread.id': 1,
    });
    for (let i = 0; i < items; i++) {
      const d = BigInt(rnd.int(300, 1_500)) * US;
      t.add(od, 'pg', ordersRoot, SpanKind.CLIENT, 'SELECT shop.products', at, d, pgAttributes('SELECT', 'products', 'SELECT id, price, stock FROM products WHERE id = $1'));
      at += d + 50n * US;
    }
    t.add(od, 'pg', ordersRoot, SpanKind.CLIENT, 'INSERT shop.orders', at, 900n * US, pgAttributes('INSERT', 'orders', 'INSERT INTO orders (customer_id, total, status) VALUES ($1, $2, $3) RETURNING id'));
    at += 1n * MS;
    for (let i = 0; i < items; i++) {
      const d = BigInt(rnd.int(300, 900)) * US;
      t.add(od, 'pg', ordersRoot, SpanKind.CLIENT, 'INSERT shop.order_items', at, d, pgAttributes('INSERT', 'order_items', 'INSERT INTO order_items (order_id, product_id, qty) VALUES ($1, $2, $3)'));
      at += d + 50n * US;
    }
    const toPayments = t.add(od, 'http', ordersRoot, SpanKind.CLIENT, 'POST', at, paymentsNs + 2n * MS, {
      'http.request.method': 'POST',
      'url.full': `http://payments:${pm.port}/payments/charge`,
      'server.address': pm.address,
      'server.port': pm.port,
      'net.peer.name': pm.address,
      'network.peer.address': pm.ip,
      'network.peer.port': pm.port,
      'user_agent.original': NODE_UA,
      'http.response.status_code': declined ? 402 : 200,
      'thread.id': 1,
    });
    if (declined) toPayments.status = { code: 2, message: '' };
    // Per-item order-line spans of a checkout ("reserve stock"), the third span per item.
    let reserveAt = at + paymentsNs + 2n * MS;
    for (let i = 0; i < items; i++) {
      t.add(od, 'app', ordersRoot, SpanKind.INTERNAL, 'reserve stock', reserveAt, 200n * US, {
        'code.function.name': 'reserveStock',
        'code.file.path': '/app/src/orders/stock.js',
        'code.line.number': 88,
        'thread.id': 1,
        'thread.name': 'main',
        'order.id': orderId,
        'order.line': i,
        'product.id': rnd.int(1, 5_000),
        'product.quantity': rnd.int(1, 3),
      });
      reserveAt += 250n * US;
    }

    // payments, under a remote parent
    const pAt = at + 1n * MS;
    const paymentsRoot = t.add(
      pm, 'http', toPayments, SpanKind.SERVER, 'POST /payments/charge', pAt, paymentsNs, {
        'http.request.method': 'POST',
        'url.scheme': 'http',
        'url.path': '/payments/charge',
        'http.route': '/payments/charge',
        'server.address': pm.address,
        'server.port': pm.port,
        'client.address': od.ip,
        'user_agent.original': NODE_UA,
        'network.protocol.version': '1.1',
        'http.response.status_code': declined ? 402 : 200,
      },
      true,
    );
    let q = pAt + 100n * US;
    t.add(pm, 'app', paymentsRoot, SpanKind.INTERNAL, 'fraud check', q, 2n * MS, {
      'code.function.name': 'scoreFraudRisk',
      'code.file.path': '/app/src/fraud.js',
      'code.line.number': 12,
      'thread.id': 1,
      'thread.name': 'main',
      'fraud.score': Math.round(rnd.uint32() / 42_949_672.96) / 100,
      'fraud.model': 'gbm-2026-05',
      'fraud.rules.matched': rnd.int(0, 3),
    });
    q += 2n * MS + 100n * US;
    t.add(pm, 'redis', paymentsRoot, SpanKind.CLIENT, 'SET', q, 400n * US, {
      'db.system.name': 'redis',
      'db.operation.name': 'SET',
      'db.query.text': 'SET idem:? ? NX EX ?',
      'db.namespace': '1',
      'server.address': 'redis-payments',
      'server.port': 6379,
      'network.peer.address': '10.43.0.13',
      'network.peer.port': 6379,
      'thread.id': 1,
    });
    q += 500n * US;
    t.add(pm, 'pg', paymentsRoot, SpanKind.INTERNAL, 'pg-pool.connect', q, 150n * US, {
      'db.system.name': 'postgresql',
      'db.namespace': 'payments',
      'server.address': 'pg-payments',
      'server.port': 5432,
      'db.postgresql.idle.timeout.millis': 10_000,
      'db.postgresql.max.client': 10,
      'network.peer.address': '10.43.1.6',
      'network.peer.port': 5432,
      'thread.id': 1,
    });
    q += 200n * US;
    const psp = t.add(pm, 'http', paymentsRoot, SpanKind.CLIENT, 'POST', q, paymentsNs - 8n * MS, {
      'http.request.method': 'POST',
      'url.full': 'https://api.psp.example/v1/charges',
      'server.address': 'api.psp.example',
      'server.port': 443,
      'network.peer.address': '198.51.100.20',
      'network.peer.port': 443,
      'network.protocol.version': '1.1',
      'user_agent.original': NODE_UA,
      'http.response.status_code': declined ? 402 : 200,
      'thread.id': 1,
    });
    if (declined) {
      psp.status = { code: 2, message: '' };
      paymentsRoot.status = { code: 2, message: 'card declined' };
      paymentsRoot.events.push({
        timeUnixNano: psp.endTimeUnixNano,
        name: 'exception',
        attributes: {
          'exception.type': 'CardDeclinedError',
          'exception.message': 'card declined: insufficient funds',
          'exception.stacktrace': 'CardDeclinedError: card declined: insufficient funds\n    at charge (/app/src/charge.js:77:11)\n    at async handler (/app/src/routes/charge.js:21:5)',
        },
        droppedAttributesCount: 0,
      });
    }
    q += paymentsNs - 8n * MS + 100n * US;
    for (const [table, op] of [['charges', 'INSERT'], ['ledger', 'UPDATE']] as const) {
      t.add(pm, 'pg', paymentsRoot, SpanKind.CLIENT, `${op} payments.${table}`, q, 800n * US, {
        'db.system.name': 'postgresql',
        'db.namespace': 'payments',
        'db.operation.name': op,
        'db.collection.name': table,
        'db.query.text': op === 'INSERT' ? 'INSERT INTO charges (order_id, amount, psp_ref) VALUES ($1, $2, $3)' : 'UPDATE ledger SET balance = balance + $1 WHERE account = $2',
        'server.address': 'pg-payments',
        'server.port': 5432,
        'network.peer.address': '10.43.1.6',
        'network.peer.port': 5432,
        'thread.id': 1,
      });
      q += 900n * US;
    }
    return t;
  }
}

/** Groups spans into ResourceSpans per instance and ScopeSpans per instrumentation scope. */
function group(placed: Placed[]): SpanBatch {
  const byInstance = new Map<Instance, Map<ScopeKey, Span[]>>();
  for (const p of placed) {
    let scopes = byInstance.get(p.instance);
    if (!scopes) byInstance.set(p.instance, (scopes = new Map()));
    let spans = scopes.get(p.scope);
    if (!spans) scopes.set(p.scope, (spans = []));
    spans.push(p.span);
  }
  const resourceSpans: ResourceSpans[] = [];
  for (const [instance, scopes] of byInstance) {
    const scopeSpans: ScopeSpans[] = [];
    for (const [key, spans] of scopes) {
      const scope: InstrumentationScope = { ...SCOPES[key], attributes: {}, droppedAttributesCount: 0 };
      scopeSpans.push({ scope, spans, schemaUrl: '' });
    }
    resourceSpans.push({ resource: instance.resource, scopeSpans, schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  }
  return { resourceSpans };
}
