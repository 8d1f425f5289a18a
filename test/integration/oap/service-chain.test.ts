/**
 * A real service chain through skybridge into the REAL SkyWalking OAP 10.1.0 (scripts/oap.sh, H2 in
 * memory), three times, each input protocol with service names of its own. Everything asserted is
 * the OAP's own GraphQL answer (test/support/oap-graphql.ts), never skybridge's output:
 *
 * 1. OTLP/gRPC: the golden app (test/integration/golden/app/service.cjs), three processes
 *    instrumented by the OpenTelemetry Node SDK (http, ioredis, amqplib):
 *      frontend GET /checkout → orders POST /orders → Redis SET, RabbitMQ publish, payments POST /pay
 *      payments consumes the RabbitMQ queue; with FAILING_PATH=1, GET /fail → orders POST /fail → 500
 * 2. Zipkin JSON v2: three in-process HTTP services traced by the `zipkin` library (HttpServer /
 *    HttpClient instrumentation, B3 headers, shared server spans, a local span), reported by
 *    zipkin-transport-http: zipkin-frontend → zipkin-orders → zipkin-payments.
 * 3. Jaeger Thrift over HTTP: the same chain traced by jaeger-client tracers (uber-trace-id
 *    headers, OpenTracing tags, a local span): jaeger-frontend → jaeger-orders → jaeger-payments.
 *
 * Per input: services (layer GENERAL, normal) and instances; endpoints `METHOD:/route`; the global
 * topology (HTTP edges with both detect points, Redis and RabbitMQ as virtual nodes, the MQ hop as
 * producer → broker node → consumer); endpoint dependencies (caller and callees of the middle
 * endpoint: what the OAP's own OTLP/Zipkin receivers cannot give, as they never make segments);
 * traces (span types, layers, components, peers, tags, CrossProcess refs to the parent Exit span,
 * error flags); and metrics from MQE after the persistence period.
 *
 * One OAP and one skybridge process serve the whole file.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import zipkin from 'zipkin';
import { HttpLogger } from 'zipkin-transport-http';
import { initTracer, opentracing, quietLogger, type JaegerTracer, type OpenTracingSpan } from '../../../receivers/jaeger/testdata/jaeger-client.ts';
import { startChildService, type ChildService } from '../../support/child-service.ts';
import { pollOap, startOap, type RealOap } from '../../support/oap.ts';
import {
  describeCalls,
  durationSince,
  endpointDependencies,
  endpointIdOf,
  execExpression,
  findEndpoints,
  globalTopology,
  listInstances,
  listServices,
  metricSum,
  mqeNumbers,
  namedCalls,
  queryBasicTraces,
  queryTrace,
  serviceIdOf,
  tagsOf,
  type BasicTrace,
  type Duration,
  type MqeEntity,
  type OapSpan,
  type OapService,
  type TopologyNode,
} from '../../support/oap-graphql.ts';
import { freePort, SkybridgeProcess } from '../../support/skybridge-process.ts';
import { flushHttpLogger } from '../../support/zipkin-http-logger.ts';

const APP = fileURLToPath(new URL('../golden/app/service.cjs', import.meta.url));
const REDIS = '127.0.0.1:6379';
const AMQP = '127.0.0.1:5672';
const EXCHANGE = `service-chain.${process.pid}`;
const ROUTING_KEY = 'order.created';
const CHECKOUTS = 3;
/** The OAP answers 2–4 s after the segments arrive; generous for a loaded 2-core machine. */
const POLL = { timeoutMs: 60_000, intervalMs: 1_000 };

const startedAt = Date.now();
const window = (): Duration => durationSince(startedAt);

let oap: RealOap;

// ---- helpers over the OAP's answers ---------------------------------------------------------------

/** Polls until every named service is listed in layer GENERAL; returns them by name. */
async function servicesByName(names: readonly string[]): Promise<Map<string, OapService>> {
  return pollOap(
    oap,
    `services ${names.join(', ')} in layer GENERAL`,
    async () => {
      const byName = new Map((await listServices(oap, 'GENERAL')).map((s) => [s.name, s]));
      const missing = names.filter((n) => !byName.has(n));
      assert.deepEqual(missing, [], `not listed yet; listed: ${[...byName.keys()].join(', ')}`);
      return byName;
    },
    POLL,
  );
}

/** A node as the topology names it: its service name. */
const nodeName = (n: TopologyNode): string => n.name;

/** Sum of a metric over the test's window, polled until it equals `want` (a metric is written every 2 s). */
async function metricReaches(expression: string, entity: MqeEntity, want: number | ['>', number]): Promise<number> {
  const ok = typeof want === 'number' ? (v: number) => v === want : (v: number) => v > want[1];
  return pollOap(
    oap,
    `${expression} of ${entity.serviceName}${entity.endpointName ? `/${entity.endpointName}` : ''}${entity.destServiceName ? ` → ${entity.destServiceName}${entity.destEndpointName ? `/${entity.destEndpointName}` : ''}` : ''}`,
    async () => {
      const v = await metricSum(oap, expression, entity, window());
      assert.ok(ok(v), `${expression} = ${v}, want ${typeof want === 'number' ? want : want.join(' ')}`);
      return v;
    },
    POLL,
  );
}

/** The first-level view of a span, for deepEqual over a whole segment. */
function spanLine(s: OapSpan): string {
  return `${s.type} ${s.layer} ${s.component} ${s.endpointName}${s.peer ? ` → ${s.peer}` : ''}${s.isError ? ' ERROR' : ''}`;
}

/**
 * A segment as lines: span 0 first, then the others sorted. Not by span id: skybridge numbers spans
 * by start time, and SDKs that start spans on a millisecond clock (the OTel JS SDK takes Date.now(),
 * jaeger-client too) give siblings started in the same millisecond in either order.
 */
function segmentView(list: OapSpan[]): string[] {
  return [spanLine(list[0]!), ...list.slice(1).map(spanLine).sort()];
}

/** The spans of a trace grouped into segments, keyed by `service endpoint-of-span-0`. */
function segmentsOf(spans: OapSpan[]): Map<string, OapSpan[]> {
  const bySegment = new Map<string, OapSpan[]>();
  for (const s of spans) {
    let list = bySegment.get(s.segmentId);
    if (!list) bySegment.set(s.segmentId, (list = []));
    list.push(s);
  }
  const out = new Map<string, OapSpan[]>();
  for (const list of bySegment.values()) {
    list.sort((a, b) => a.spanId - b.spanId);
    const key = `${list[0]!.serviceCode} ${list[0]!.endpointName}`;
    assert.equal(out.has(key), false, `two segments ${key}`);
    out.set(key, list);
  }
  return out;
}

/** The span of a segment with this type and name. */
function spanNamed(list: OapSpan[], type: OapSpan['type'], name: string): OapSpan {
  const span = list.find((s) => s.type === type && s.endpointName === name);
  assert.ok(span, `${type} ${name} in ${list.map(spanLine).join('; ')}`);
  return span;
}
const exitNamed = (list: OapSpan[], name: string): OapSpan => spanNamed(list, 'Exit', name);

/** Asserts `child`'s span 0 refers (CrossProcess) to the Exit span `parentExit`. */
function assertRefTo(child: OapSpan, parentExit: OapSpan): void {
  assert.equal(child.spanId, 0);
  assert.equal(child.type, 'Entry');
  assert.equal(parentExit.type, 'Exit');
  assert.deepEqual(child.refs, [{ traceId: parentExit.traceId, parentSegmentId: parentExit.segmentId, parentSpanId: parentExit.spanId, type: 'CROSS_PROCESS' }]);
}

/** Polls until the trace has `count` spans. */
async function traceSpans(traceId: string, count: number): Promise<OapSpan[]> {
  return pollOap(
    oap,
    `queryTrace ${traceId} with ${count} spans`,
    async () => {
      const spans = await queryTrace(oap, traceId);
      assert.equal(spans.length, count, `spans so far: ${spans.map((s) => `${s.serviceCode} ${spanLine(s)}`).join('; ')}`);
      return spans;
    },
    POLL,
  );
}

/** Polls until the service's basic traces are exactly `endpoints` (one root segment each, any order). */
async function rootTraces(service: string, endpoints: string[]): Promise<BasicTrace[]> {
  return pollOap(
    oap,
    `traces of ${service}: ${endpoints.join(', ')}`,
    async () => {
      const traces = await queryBasicTraces(oap, { serviceId: serviceIdOf(service), duration: window() });
      assert.deepEqual(traces.flatMap((t) => t.endpointNames).sort(), [...endpoints].sort());
      return traces;
    },
    POLL,
  );
}

/**
 * The assertions every input shares, on a frontend → orders → payments chain over HTTP: the three
 * services (normal, GENERAL) and their endpoints, the HTTP edges with both detect points, and the
 * endpoint dependencies of orders' endpoint.
 */
async function assertHttpChain(names: { frontend: string; orders: string; payments: string }, endpoints: { frontend: string; orders: string; payments: string }) {
  const services = await servicesByName([names.frontend, names.orders, names.payments]);
  for (const name of Object.values(names)) {
    const s = services.get(name)!;
    assert.deepEqual(s.layers, ['GENERAL'], `${name} layers`);
    assert.equal(s.normal, true, `${name} is an instrumented service`);
    assert.equal(s.id, serviceIdOf(name));
  }
  // The edges: HTTP both ways seen (the caller's Exit, CLIENT; the callee's Entry ref, SERVER).
  const calls = await pollOap(
    oap,
    `HTTP edges ${names.frontend} → ${names.orders} → ${names.payments}`,
    async () => {
      const topo = await globalTopology(oap, window());
      const named = namedCalls(topo, nodeName);
      const edge = (from: string, to: string) => named.find((c) => c.source === from && c.target === to);
      for (const [from, to] of [[names.frontend, names.orders], [names.orders, names.payments]] as const) {
        assert.deepEqual(edge(from, to)?.detectPoints, ['CLIENT', 'SERVER'], `${from} → ${to}; drawn: ${describeCalls(named).join('; ')}`);
      }
      assert.ok(edge('User', names.frontend), `User → ${names.frontend}`);
      return { topo, named };
    },
    POLL,
  );
  const endpointTopology = await pollOap(
    oap,
    `endpoint dependencies of ${names.orders}/${endpoints.orders}`,
    async () => {
      const deps = await endpointDependencies(oap, endpointIdOf(serviceIdOf(names.orders), endpoints.orders), window());
      const named = namedCalls(deps, (n) => `${n.serviceName}/${n.name}`);
      const lines = describeCalls(named);
      assert.ok(lines.includes(`${names.frontend}/${endpoints.frontend} → ${names.orders}/${endpoints.orders} [SERVER]`), lines.join('; '));
      assert.ok(lines.includes(`${names.orders}/${endpoints.orders} → ${names.payments}/${endpoints.payments} [SERVER]`), lines.join('; '));
      return { deps, lines };
    },
    POLL,
  );
  return { services, calls, endpointTopology };
}

// ---- the chain for the Zipkin and Jaeger inputs (in-process HTTP services) -------------------------

interface ChainTracing {
  /** Runs `work` as the server span of `req` (continuing the caller's context from its headers). */
  serve(req: http.IncomingMessage, work: (ctx: unknown) => Promise<number>): Promise<number>;
  /** A synchronous local span under `ctx`. */
  local(ctx: unknown, name: string, work: () => void): void;
  /** POST `url` under `ctx` with the tracer's context headers; resolves the status. */
  call(ctx: unknown, url: string): Promise<number>;
  /** Reports every finished span and waits for the receiver's answer. */
  flush(): Promise<void>;
}

interface InProcessChain {
  frontendUrl: string;
  ports: { frontend: number; orders: number; payments: number };
  flush(): Promise<void>;
  close(): Promise<void>;
}

async function post(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
  await res.arrayBuffer();
  return res.status;
}

/**
 * frontend GET /checkout → orders POST /orders (local span `compute-total`) → payments POST /pay;
 * frontend GET /fail → orders POST /fail → 500, frontend 502. Payments first, each needs the next one's port.
 */
async function startInProcessChain(names: { frontend: string; orders: string; payments: string }, tracing: (service: string, port: () => number) => ChainTracing): Promise<InProcessChain> {
  const servers: http.Server[] = [];
  const tracings: ChainTracing[] = [];
  const start = async (service: string, route: (req: http.IncomingMessage, t: ChainTracing, ctx: unknown) => Promise<number>): Promise<number> => {
    let port = 0;
    const t = tracing(service, () => port);
    tracings.push(t);
    const server = http.createServer((req, res) => {
      req.resume();
      t.serve(req, (ctx) => route(req, t, ctx)).then(
        (status) => res.writeHead(status).end(String(status)),
        (err: Error) => res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    port = (server.address() as AddressInfo).port;
    return port;
  };
  const payments = await start(names.payments, async (req) => (req.method === 'POST' && req.url === '/pay' ? 200 : 404));
  const orders = await start(names.orders, async (req, t, ctx) => {
    if (req.method === 'POST' && req.url === '/fail') return 500;
    if (req.method !== 'POST' || req.url !== '/orders') return 404;
    t.local(ctx, 'compute-total', () => void JSON.stringify({ items: [1, 2, 3] }));
    return (await t.call(ctx, `http://127.0.0.1:${payments}/pay`)) === 200 ? 200 : 502;
  });
  const frontend = await start(names.frontend, async (req, t, ctx) => {
    if (req.method === 'GET' && req.url === '/fail') return (await t.call(ctx, `http://127.0.0.1:${orders}/fail`)) === 200 ? 200 : 502;
    if (req.method !== 'GET' || req.url !== '/checkout') return 404;
    return (await t.call(ctx, `http://127.0.0.1:${orders}/orders`)) === 200 ? 200 : 502;
  });
  return {
    frontendUrl: `http://127.0.0.1:${frontend}`,
    ports: { frontend, orders, payments },
    // Deepest first, as spans finish in a real system.
    flush: async () => {
      for (const t of tracings) await t.flush();
    },
    close: async () => {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

/** The `zipkin` library: HttpServer/HttpClient instrumentation, B3 headers, JSON v2 over HTTP. */
function zipkinTracing(collectorUrl: string) {
  const { Tracer, BatchRecorder, ExplicitContext, Instrumentation, Annotation, InetAddress, option, jsonEncoder } = zipkin;
  return (service: string, port: () => number): ChainTracing => {
    const logger = new HttpLogger({ endpoint: `${collectorUrl}/api/v2/spans`, jsonEncoder: jsonEncoder.JSON_V2, httpInterval: 3_600_000 });
    const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: service, traceId128Bit: true });
    return {
      async serve(req, work) {
        const readHeader = <T>(name: string): zipkin.option.IOption<T> => {
          const v = req.headers[name.toLowerCase()];
          return (typeof v === 'string' ? new option.Some(v) : option.None) as unknown as zipkin.option.IOption<T>;
        };
        const server = new Instrumentation.HttpServer({ tracer, port: port(), host: '127.0.0.1' });
        const id = tracer.scoped(() => server.recordRequest(req.method ?? 'GET', `http://127.0.0.1:${port()}${req.url}`, readHeader));
        const status = await work(id);
        tracer.scoped(() => server.recordResponse(id, String(status)));
        return status;
      },
      local(ctx, name, work) {
        tracer.scoped(() => {
          tracer.setId(ctx as zipkin.TraceId);
          tracer.local(name, work);
        });
      },
      async call(ctx, url) {
        const target = new URL(url);
        const client = new Instrumentation.HttpClient({ tracer, remoteServiceName: 'downstream' });
        let clientId = ctx as zipkin.TraceId;
        const request = tracer.scoped(() => {
          tracer.setId(ctx as zipkin.TraceId);
          const withHeaders = client.recordRequest({ headers: {} as Record<string, string> }, url, 'POST');
          clientId = tracer.id;
          // The address it connected to, as socket-aware instrumentation (Brave, most clients) records it.
          tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: 'downstream', host: new InetAddress(target.hostname), port: Number(target.port) }));
          return withHeaders;
        });
        const status = await post(url, request.headers as Record<string, string>);
        tracer.scoped(() => client.recordResponse(clientId, String(status)));
        return status;
      },
      flush: () => flushHttpLogger(logger),
    };
  };
}

/** jaeger-client tracers: uber-trace-id headers, OpenTracing tags, Thrift over HTTP to /api/traces. */
function jaegerTracing(collectorEndpoint: string) {
  const { Tags, FORMAT_HTTP_HEADERS } = opentracing;
  return (service: string, port: () => number): ChainTracing => {
    const tracer: JaegerTracer = initTracer(
      { serviceName: service, sampler: { type: 'const', param: 1 }, reporter: { collectorEndpoint, flushIntervalMs: 3_600_000 } },
      { logger: quietLogger, traceId128bit: true },
    );
    return {
      async serve(req, work) {
        const parent = tracer.extract(FORMAT_HTTP_HEADERS, req.headers) ?? undefined;
        const span = tracer.startSpan(`${req.method} ${req.url}`, {
          childOf: parent,
          tags: { [Tags.SPAN_KIND]: Tags.SPAN_KIND_RPC_SERVER, [Tags.HTTP_METHOD]: req.method, [Tags.HTTP_URL]: `http://127.0.0.1:${port()}${req.url}` },
        });
        const status = await work(span);
        span.setTag(Tags.HTTP_STATUS_CODE, status);
        if (status >= 500) span.setTag(Tags.ERROR, true);
        span.finish();
        return status;
      },
      local(ctx, name, work) {
        const span = tracer.startSpan(name, { childOf: ctx as OpenTracingSpan });
        work();
        span.finish();
      },
      async call(ctx, url) {
        const target = new URL(url);
        const span = tracer.startSpan(`POST ${target.pathname}`, {
          childOf: ctx as OpenTracingSpan,
          tags: {
            [Tags.SPAN_KIND]: Tags.SPAN_KIND_RPC_CLIENT,
            [Tags.HTTP_METHOD]: 'POST',
            [Tags.HTTP_URL]: url,
            [Tags.PEER_HOST_IPV4]: target.hostname,
            [Tags.PEER_PORT]: Number(target.port),
          },
        });
        const headers: Record<string, string> = {};
        tracer.inject(span, FORMAT_HTTP_HEADERS, headers);
        const status = await post(url, headers);
        span.setTag(Tags.HTTP_STATUS_CODE, status);
        if (status >= 500) span.setTag(Tags.ERROR, true);
        span.finish();
        return status;
      },
      // close() flushes the RemoteReporter; its HTTPSender posts the batch before calling back.
      flush: () => new Promise<void>((resolve) => tracer.close(resolve)),
    };
  };
}

// ---- the file's OAP, skybridge and the golden app -------------------------------------------------

describe('service chains → skybridge → real SkyWalking OAP 10.1.0', { timeout: 220_000 }, () => {
  let skybridge: SkybridgeProcess | undefined;
  const children: ChildService[] = [];
  const chains: InProcessChain[] = [];
  const ports = { otlpGrpc: 0, zipkin: 0, jaegerHttp: 0 };
  const golden = { frontend: 0, orders: 0, payments: 0, pids: {} as Record<string, number> };

  /** payments, then orders, then frontend (each needs the next one's port); OTLP to skybridge's port. */
  async function startGoldenApp(): Promise<void> {
    const env = {
      INSTRUMENTATION: 'otel',
      OTLP_ENDPOINT: `http://127.0.0.1:${ports.otlpGrpc}`,
      REDIS_HOST: REDIS.split(':')[0]!,
      REDIS_PORT: REDIS.split(':')[1]!,
      AMQP_URL: `amqp://guest:guest@${AMQP}`,
      EXCHANGE,
      FAILING_PATH: '1',
    };
    const start = async (name: 'frontend' | 'orders' | 'payments', downstream?: number) => {
      const child = await startChildService(APP, { ...env, SERVICE_NAME: name, ...(downstream ? { DOWNSTREAM: `http://127.0.0.1:${downstream}` } : {}) }, 30_000);
      children.push(child);
      golden[name] = child.port;
      golden.pids[name] = child.process.pid!;
      return child.port;
    };
    await start('frontend', await start('orders', await start('payments')));
  }

  before(async () => {
    [ports.otlpGrpc, ports.zipkin, ports.jaegerHttp] = await Promise.all([freePort(), freePort(), freePort()]);
    // The app only exports on requests: it can start while the OAP does.
    const app = startGoldenApp();
    app.catch(() => {}); // awaited below; a failure while the OAP starts must not go unhandled
    oap = await startOap();
    skybridge = await SkybridgeProcess.start(
      'service-chain',
      `
receivers:
  otlp: { grpc: { endpoint: "127.0.0.1:${ports.otlpGrpc}" }, http: null }
  zipkin: { endpoint: "127.0.0.1:${ports.zipkin}" }
  jaeger: { protocols: { thrift_http: { endpoint: "127.0.0.1:${ports.jaegerHttp}" } } }
exporters:
  skywalking:
    endpoint: "${oap.grpcAddress}"
    assembly: { quiet_period: 300ms, max_wait: 3s }
pipelines:
  traces: { receivers: [otlp, zipkin, jaeger], exporters: [skywalking] }
`,
    );
    await app;
  });

  after(async () => {
    // SIGTERM lets each app process flush; SIGKILL whatever has not exited 5 s later.
    await Promise.allSettled(
      children.map((c) => {
        const kill = setTimeout(() => c.process.kill('SIGKILL'), 5_000);
        return c.stop().finally(() => clearTimeout(kill));
      }),
    );
    await Promise.allSettled(chains.map((c) => c.close()));
    await skybridge?.stop();
    await oap?.stop();
  });

  // ---- 1. OTLP ---------------------------------------------------------------------------------

  describe('1. OTLP/gRPC from the OpenTelemetry SDK (golden app: http, ioredis, amqplib)', () => {
    const consumer = `RabbitMQ/${EXCHANGE}/${ROUTING_KEY}/Consumer`;
    const producer = `RabbitMQ/${EXCHANGE}/${ROUTING_KEY}/Producer`;
    const allRoots = [...Array<string>(CHECKOUTS).fill('GET:/checkout'), 'GET:/fail'];

    before(async () => {
      for (let i = 0; i < CHECKOUTS; i++) {
        const res = await fetch(`http://127.0.0.1:${golden.frontend}/checkout`);
        assert.equal(res.status, 200, `checkout ${i + 1}: ${await res.text()}`);
      }
      const res = await fetch(`http://127.0.0.1:${golden.frontend}/fail`);
      assert.equal(res.status, 502, await res.text());
    });

    it('lists frontend, orders, payments (GENERAL, normal) with their `<service>-<pid>` instances', async () => {
      const services = await servicesByName(['frontend', 'orders', 'payments']);
      for (const name of ['frontend', 'orders', 'payments'] as const) {
        const s = services.get(name)!;
        assert.deepEqual(s.layers, ['GENERAL']);
        assert.equal(s.normal, true);
        const instances = await pollOap(oap, `instances of ${name}`, async () => {
          const list = await listInstances(oap, s.id, window());
          assert.equal(list.length, 1, JSON.stringify(list));
          return list;
        }, POLL);
        assert.equal(instances[0]!.name, `${name}-${golden.pids[name]}`);
        assert.equal(instances[0]!.language, 'NODEJS', 'from telemetry.sdk.language');
        const attrs = Object.fromEntries(instances[0]!.attributes.map((a) => [a.name, a.value]));
        assert.equal(attrs['Process No.'], String(golden.pids[name]));
      }
      // The conjectured peers: not normal services, in their virtual layers.
      await pollOap(oap, 'Redis and RabbitMQ as virtual services', async () => {
        const cache = await listServices(oap, 'VIRTUAL_CACHE');
        assert.deepEqual(cache.map((s) => [s.name, s.normal, s.id]), [[REDIS, false, serviceIdOf(REDIS, false)]]);
        const mq = await listServices(oap, 'VIRTUAL_MQ');
        assert.deepEqual(mq.map((s) => [s.name, s.normal, s.id]), [[AMQP, false, serviceIdOf(AMQP, false)]]);
        return true;
      }, POLL);
    });

    it('lists the endpoints as METHOD:/route (and the RabbitMQ consumer by exchange and routing key)', async () => {
      const expected: Record<string, string[]> = {
        frontend: ['GET:/checkout', 'GET:/fail'],
        orders: ['POST:/fail', 'POST:/orders'],
        payments: ['POST:/pay', consumer],
      };
      for (const [service, names] of Object.entries(expected)) {
        await pollOap(oap, `endpoints of ${service}`, async () => {
          const endpoints = await findEndpoints(oap, serviceIdOf(service));
          assert.deepEqual(endpoints.map((e) => e.name).sort(), [...names].sort());
          for (const e of endpoints) assert.equal(e.id, endpointIdOf(serviceIdOf(service), e.name));
          return endpoints;
        }, POLL);
      }
      // The virtual MQ service's endpoint: exchange/routing key from the mq.topic / mq.queue tags.
      await pollOap(oap, 'the virtual MQ endpoint', async () => {
        const endpoints = await findEndpoints(oap, serviceIdOf(AMQP, false));
        assert.deepEqual(endpoints.map((e) => e.name), [`${EXCHANGE}/${ROUTING_KEY}`]);
        return endpoints;
      }, POLL);
    });

    it('draws HTTP edges, Redis and RabbitMQ as virtual nodes, and the MQ hop as orders → broker → payments', async () => {
      await assertHttpChain({ frontend: 'frontend', orders: 'orders', payments: 'payments' }, { frontend: 'GET:/checkout', orders: 'POST:/orders', payments: 'POST:/pay' });
      // Exactly these calls, each with the components the OAP read from both ends.
      const topo = await pollOap(oap, 'the whole golden topology', async () => {
        const topo = await globalTopology(oap, window());
        // This input's part of the graph (the other inputs' services have names of their own).
        const ours = new Set(['User', 'frontend', 'orders', 'payments', REDIS, AMQP]);
        const named = namedCalls(topo, nodeName).filter((c) => ours.has(c.source) && ours.has(c.target));
        const summary = named.map((c) => `${c.source} → ${c.target} [${c.detectPoints}] ${c.sourceComponents}|${c.targetComponents}`).sort();
        assert.deepEqual(summary, [
          `${AMQP} → payments [SERVER] |rabbitmq-consumer`,
          'User → frontend [SERVER] |http',
          'frontend → orders [CLIENT,SERVER] HttpClient|http',
          `orders → ${AMQP} [CLIENT] rabbitmq-producer|`,
          `orders → ${REDIS} [CLIENT] Redis|`,
          'orders → payments [CLIENT,SERVER] HttpClient|http',
        ]);
        return { ...topo, nodes: topo.nodes.filter((n) => ours.has(n.name)) };
      }, POLL);
      const nodes = Object.fromEntries(topo.nodes.map((n) => [n.name, n]));
      assert.deepEqual(Object.keys(nodes).sort(), [REDIS, AMQP, 'User', 'frontend', 'orders', 'payments'].sort());
      assert.deepEqual([nodes[REDIS]!.type, nodes[REDIS]!.isReal, nodes[REDIS]!.layers], ['Redis', false, ['VIRTUAL_CACHE']]);
      assert.deepEqual([nodes[AMQP]!.type, nodes[AMQP]!.isReal, nodes[AMQP]!.layers], ['RabbitMQ', false, ['VIRTUAL_MQ']]);
      assert.deepEqual([nodes.User!.type, nodes.User!.isReal], ['USER', false]);
      for (const name of ['frontend', 'orders', 'payments']) assert.deepEqual([nodes[name]!.isReal, nodes[name]!.layers], [true, ['GENERAL']]);
      // The node type is its highest-priority server component: payments serves HTTP (49, priority
      // 45) and consumes RabbitMQ (53, priority 50).
      assert.deepEqual([nodes.frontend!.type, nodes.orders!.type, nodes.payments!.type], ['http', 'http', 'rabbitmq-consumer']);
    });

    it('gives orders\' POST:/orders its caller GET:/checkout and its callees POST:/pay and the RabbitMQ consumer (endpoint dependencies)', async () => {
      await assertHttpChain({ frontend: 'frontend', orders: 'orders', payments: 'payments' }, { frontend: 'GET:/checkout', orders: 'POST:/orders', payments: 'POST:/pay' });
      const endpointName = (n: { serviceName: string; name: string }) => `${n.serviceName}/${n.name}`;
      await pollOap(oap, 'endpoint dependencies of orders/POST:/orders, the MQ consumer included', async () => {
        const deps = await endpointDependencies(oap, endpointIdOf(serviceIdOf('orders'), 'POST:/orders'), window());
        assert.deepEqual(describeCalls(namedCalls(deps, endpointName)), [
          'frontend/GET:/checkout → orders/POST:/orders [SERVER]',
          'orders/POST:/orders → payments/POST:/pay [SERVER]',
          `orders/POST:/orders → payments/${consumer} [SERVER]`,
        ].sort());
        assert.ok(deps.nodes.every((n) => n.isReal), 'every endpoint is a real one');
        return deps;
      }, POLL);
      // The consumer's endpoint is called by the producing endpoint, across the broker.
      const consumed = await endpointDependencies(oap, endpointIdOf(serviceIdOf('payments'), consumer), window());
      assert.deepEqual(describeCalls(namedCalls(consumed, endpointName)), [`orders/POST:/orders → payments/${consumer} [SERVER]`]);
      // frontend's entry endpoint is called by User (no ref: the test called it).
      const fe = await endpointDependencies(oap, endpointIdOf(serviceIdOf('frontend'), 'GET:/checkout'), window());
      assert.deepEqual(describeCalls(namedCalls(fe, endpointName)), [
        'User/User → frontend/GET:/checkout [SERVER]',
        'frontend/GET:/checkout → orders/POST:/orders [SERVER]',
      ]);
    });

    it('returns each checkout trace: Entry/Exit spans, layers Http/Cache/MQ, components, peers, tags and CrossProcess refs', async () => {
      const traces = await rootTraces('frontend', allRoots);
      const checkoutTraceIds = traces.filter((t) => t.endpointNames[0] === 'GET:/checkout').map((t) => t.traceIds[0]!);
      for (const t of traces) assert.equal(t.traceIds.length, 1);
      assert.equal(new Set(checkoutTraceIds).size, CHECKOUTS, 'one trace per request');

      for (const traceId of checkoutTraceIds) {
        // frontend 2 + orders 4 + payments' consumer 1 + payments' HTTP 1
        const spans = await traceSpans(traceId, 8);
        const segments = segmentsOf(spans);
        const view = Object.fromEntries([...segments].map(([k, list]) => [k, segmentView(list)]));
        const port = (name: 'frontend' | 'orders' | 'payments') => `127.0.0.1:${golden[name]}`;
        assert.deepEqual(view, {
          'frontend GET:/checkout': ['Entry Http http GET:/checkout', `Exit Http HttpClient /orders → ${port('orders')}`],
          'orders POST:/orders': [
            'Entry Http http POST:/orders',
            `Exit Cache Redis redis/set → ${REDIS}`,
            `Exit Http HttpClient /pay → ${port('payments')}`,
            `Exit MQ rabbitmq-producer ${producer} → ${AMQP}`,
          ],
          // The consumer Entry keeps the broker as peer (the OAP's MQ consume metrics read it).
          [`payments ${consumer}`]: [`Entry MQ rabbitmq-consumer ${consumer} → ${AMQP}`],
          'payments POST:/pay': ['Entry Http http POST:/pay'],
        });
        const fe = segments.get('frontend GET:/checkout')!;
        const ord = segments.get('orders POST:/orders')!;
        const mq = segments.get(`payments ${consumer}`)![0]!;
        const pay = segments.get('payments POST:/pay')![0]!;
        for (const s of spans) {
          assert.equal(s.traceId, traceId);
          const service = s.serviceCode as 'frontend' | 'orders' | 'payments';
          assert.equal(s.serviceInstanceName, `${service}-${golden.pids[service]}`);
          assert.ok(s.endTime >= s.startTime && s.startTime >= startedAt, `${spanLine(s)} times`);
        }
        for (const list of [fe, ord]) for (const s of list.slice(1)) assert.equal(s.parentSpanId, 0, `${spanLine(s)} is a child of the Entry`);
        assert.deepEqual(fe[0]!.refs, [], 'frontend is the root');

        // Refs: each callee's Entry points at the caller's Exit span, across processes.
        assertRefTo(ord[0]!, exitNamed(fe, '/orders'));
        assertRefTo(pay, exitNamed(ord, '/pay'));
        assertRefTo(mq, exitNamed(ord, producer));

        // Tags the OAP keeps and shows.
        const feEntry = tagsOf(fe[0]!);
        assert.equal(feEntry['http.method'], 'GET');
        assert.equal(feEntry['http.status_code'], '200');
        assert.equal(feEntry.url, `http://${port('frontend')}/checkout`);
        const feExit = tagsOf(fe[1]!);
        assert.deepEqual([feExit['http.method'], feExit['http.status_code'], feExit.url], ['POST', '200', `http://${port('orders')}/orders`]);
        const redis = tagsOf(exitNamed(ord, 'redis/set'));
        assert.equal(redis['cache.type'], 'redis');
        assert.equal(redis['cache.cmd'], 'set');
        assert.equal(redis['cache.op'], 'write');
        assert.match(redis['cache.key']!, new RegExp(`^order-${golden.pids.orders}-\\d+$`));
        assert.match(redis['db.statement']!, /^set order-\d+-\d+/);
        for (const s of [exitNamed(ord, producer), mq]) {
          const mqTags = tagsOf(s);
          assert.deepEqual([mqTags['mq.broker'], mqTags['mq.topic'], mqTags['mq.queue']], [AMQP, EXCHANGE, ROUTING_KEY], spanLine(s));
        }
        assert.deepEqual([tagsOf(pay)['http.method'], tagsOf(pay)['http.status_code']], ['POST', '200']);
        assert.ok(spans.every((s) => s.isError === false), 'no error in a checkout');
      }
    });

    it('marks the failing request as an error in both services (queryBasicTraces ERROR, queryTrace isError)', async () => {
      const failTraceId = (await rootTraces('frontend', allRoots)).find((t) => t.endpointNames[0] === 'GET:/fail')!.traceIds[0]!;
      const errors = await pollOap(oap, 'error traces of the /fail request', async () => {
        const list = await queryBasicTraces(oap, { traceId: failTraceId, duration: window(), state: 'ERROR' });
        assert.equal(list.length, 2, JSON.stringify(list));
        return list;
      }, POLL);
      assert.deepEqual(errors.map((t) => [t.endpointNames, t.isError]).sort(), [[['GET:/fail'], true], [['POST:/fail'], true]]);
      // And the checkouts are not among the errors.
      const frontendErrors = await queryBasicTraces(oap, { serviceId: serviceIdOf('frontend'), duration: window(), state: 'ERROR' });
      assert.deepEqual(frontendErrors.map((t) => t.traceIds[0]), [failTraceId]);

      const spans = await traceSpans(failTraceId, 3);
      const segments = segmentsOf(spans);
      const view = Object.fromEntries([...segments].map(([k, list]) => [k, segmentView(list)]));
      assert.deepEqual(view, {
        'frontend GET:/fail': ['Entry Http http GET:/fail ERROR', `Exit Http HttpClient /fail → 127.0.0.1:${golden.orders} ERROR`],
        'orders POST:/fail': ['Entry Http http POST:/fail ERROR'],
      });
      const fe = segments.get('frontend GET:/fail')!;
      assertRefTo(segments.get('orders POST:/fail')![0]!, fe[1]!);
      assert.equal(tagsOf(fe[0]!)['http.status_code'], '502');
      assert.equal(tagsOf(fe[1]!)['http.status_code'], '500');
    });

    it('counts the calls in endpoint, service, relation and virtual cache/MQ metrics (MQE)', async () => {
      const svc = (serviceName: string, endpointName?: string): MqeEntity => ({ scope: endpointName ? 'Endpoint' : 'Service', serviceName, normal: true, ...(endpointName ? { endpointName } : {}) });
      await metricReaches('endpoint_cpm', svc('frontend', 'GET:/checkout'), CHECKOUTS);
      await metricReaches('endpoint_cpm', svc('orders', 'POST:/orders'), CHECKOUTS);
      await metricReaches('endpoint_cpm', svc('payments', 'POST:/pay'), CHECKOUTS);
      await metricReaches('endpoint_cpm', svc('payments', consumer), CHECKOUTS);
      await metricReaches('endpoint_resp_time', svc('frontend', 'GET:/checkout'), ['>', 0]);
      // payments: 3 HTTP requests + 3 messages; frontend: 3 checkouts + 1 failure.
      await metricReaches('service_cpm', svc('payments'), 2 * CHECKOUTS);
      await metricReaches('service_cpm', svc('frontend'), CHECKOUTS + 1);
      // SLA in 1/100 % per minute: the checkouts all succeeded, the failure did not.
      for (const [endpoint, sla] of [['GET:/checkout', 10000], ['GET:/fail', 0]] as const) {
        await pollOap(oap, `endpoint_sla of frontend/${endpoint}`, async () => {
          const values = mqeNumbers(await execExpression(oap, 'endpoint_sla', svc('frontend', endpoint), window()));
          assert.ok(values.length > 0 && values.every((v) => v === sla), `endpoint_sla per minute ${JSON.stringify(values)}, want ${sla}`);
          return values;
        }, POLL);
      }
      await metricReaches(
        'service_relation_server_cpm',
        { scope: 'ServiceRelation', serviceName: 'frontend', normal: true, destServiceName: 'orders', destNormal: true },
        CHECKOUTS + 1,
      );
      await metricReaches(
        'endpoint_relation_cpm',
        { scope: 'EndpointRelation', serviceName: 'orders', normal: true, endpointName: 'POST:/orders', destServiceName: 'payments', destNormal: true, destEndpointName: 'POST:/pay' },
        CHECKOUTS,
      );
      // The virtual peers' own metrics: the Redis SETs, and messages produced and consumed.
      await metricReaches('cache_access_cpm', { scope: 'Service', serviceName: REDIS, normal: false }, CHECKOUTS);
      await metricReaches('mq_service_produce_cpm', { scope: 'Service', serviceName: AMQP, normal: false }, CHECKOUTS);
      await metricReaches('mq_service_consume_cpm', { scope: 'Service', serviceName: AMQP, normal: false }, CHECKOUTS);
    });
  });

  // ---- 2. Zipkin and 3. Jaeger -------------------------------------------------------------------

  const inputs = [
    {
      title: '2. Zipkin JSON v2 from the `zipkin` library (HttpServer/HttpClient, B3, shared spans)',
      prefix: 'zipkin',
      // Zipkin spans name no process, only an address: the instance is the localEndpoint IP (the
      // zipkin library records it on server spans; the receiver lends it to the others).
      instance: (name: string) => name === '127.0.0.1',
      instanceShape: '127.0.0.1',
      tracing: () => zipkinTracing(`http://127.0.0.1:${ports.zipkin}`),
    },
    {
      title: '3. Jaeger Thrift over HTTP from jaeger-client (uber-trace-id, OpenTracing tags)',
      prefix: 'jaeger',
      // jaeger-client's process tags carry `client-uuid` and `hostname`: the instance is
      // `<client-uuid>@<hostname>` (cut to 70), one per tracer.
      instance: (name: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(name.slice(0, 36)) && name === `${name.slice(0, 36)}@${hostname()}`.slice(0, 70),
      instanceShape: `<client-uuid>@${hostname()}`,
      tracing: () => jaegerTracing(`http://127.0.0.1:${ports.jaegerHttp}/api/traces`),
    },
  ];

  for (const input of inputs) {
    describe(input.title, () => {
      const names = { frontend: `${input.prefix}-frontend`, orders: `${input.prefix}-orders`, payments: `${input.prefix}-payments` };
      const endpoints = { frontend: 'GET:/checkout', orders: 'POST:/orders', payments: 'POST:/pay' };
      let chain: InProcessChain;
      const allRoots = [...Array<string>(CHECKOUTS).fill('GET:/checkout'), 'GET:/fail'];

      before(async () => {
        chain = await startInProcessChain(names, input.tracing());
        chains.push(chain);
        for (let i = 0; i < CHECKOUTS; i++) {
          const res = await fetch(`${chain.frontendUrl}/checkout`);
          assert.equal(res.status, 200, await res.text());
        }
        const res = await fetch(`${chain.frontendUrl}/fail`);
        assert.equal(res.status, 502, await res.text());
        await chain.flush();
      });

      it('lists the three services with their endpoints, draws the HTTP edges and the endpoint dependencies', async () => {
        const { calls, endpointTopology } = await assertHttpChain(names, endpoints);
        // Only HTTP calls between this input's services, and User at the front.
        const mine = calls.named.filter((c) => Object.values(names).includes(c.target));
        assert.deepEqual(describeCalls(mine), [
          `User → ${names.frontend} [SERVER]`,
          `${names.frontend} → ${names.orders} [CLIENT,SERVER]`,
          `${names.orders} → ${names.payments} [CLIENT,SERVER]`,
        ]);
        for (const c of mine.filter((x) => x.source !== 'User')) assert.deepEqual([c.sourceComponents, c.targetComponents], [['HttpClient'], ['http']]);
        assert.deepEqual(endpointTopology.lines, [
          `${names.frontend}/GET:/checkout → ${names.orders}/POST:/orders [SERVER]`,
          `${names.orders}/POST:/orders → ${names.payments}/POST:/pay [SERVER]`,
        ]);
        const expected: Record<string, string[]> = {
          [names.frontend]: ['GET:/checkout', 'GET:/fail'],
          [names.orders]: ['POST:/fail', 'POST:/orders'],
          [names.payments]: ['POST:/pay'],
        };
        for (const [service, list] of Object.entries(expected)) {
          await pollOap(oap, `endpoints of ${service}`, async () => {
            const found = (await findEndpoints(oap, serviceIdOf(service))).map((e) => e.name).sort();
            assert.deepEqual(found, list);
            return found;
          }, POLL);
        }
        for (const service of Object.values(names)) {
          await pollOap(oap, `instances of ${service}`, async () => {
            const instances = await listInstances(oap, serviceIdOf(service), window());
            assert.equal(instances.length, 1, `${service} has one instance: ${JSON.stringify(instances.map((i) => i.name))}`);
            assert.ok(input.instance(instances[0]!.name), `${service}'s instance ${instances[0]!.name}, want ${input.instanceShape}`);
            return instances;
          }, POLL);
        }
      });

      it('returns a checkout trace: Entry, Local and Exit spans with peers, tags and CrossProcess refs', async () => {
        const traces = await rootTraces(names.frontend, allRoots);
        const checkoutTraceId = traces.find((t) => t.endpointNames[0] === 'GET:/checkout')!.traceIds[0]!;
        const spans = await traceSpans(checkoutTraceId, 6);
        const segments = segmentsOf(spans);
        const view = Object.fromEntries([...segments].map(([k, list]) => [k, segmentView(list)]));
        const { orders, payments } = chain.ports;
        assert.deepEqual(view, {
          [`${names.frontend} GET:/checkout`]: ['Entry Http http GET:/checkout', `Exit Http HttpClient /orders → 127.0.0.1:${orders}`],
          [`${names.orders} POST:/orders`]: ['Entry Http http POST:/orders', `Exit Http HttpClient /pay → 127.0.0.1:${payments}`, 'Local Unknown Unknown compute-total'],
          [`${names.payments} POST:/pay`]: ['Entry Http http POST:/pay'],
        });
        const fe = segments.get(`${names.frontend} GET:/checkout`)!;
        const ord = segments.get(`${names.orders} POST:/orders`)!;
        const pay = segments.get(`${names.payments} POST:/pay`)!;
        assert.deepEqual(fe[0]!.refs, []);
        assertRefTo(ord[0]!, fe[1]!);
        assertRefTo(pay[0]!, exitNamed(ord, '/pay'));
        assert.equal(spanNamed(ord, 'Local', 'compute-total').parentSpanId, 0);
        assert.deepEqual(ord.slice(1).map((s) => s.parentSpanId), [0, 0]);
        assert.deepEqual([tagsOf(ord[0]!)['http.method'], tagsOf(ord[0]!)['http.status_code']], ['POST', '200']);
        assert.deepEqual([tagsOf(fe[1]!)['http.method'], tagsOf(fe[1]!)['http.status_code']], ['POST', '200']);
      });

      it('marks the failing request as an error', async () => {
        const traces = await rootTraces(names.frontend, allRoots);
        const failTraceId = traces.find((t) => t.endpointNames[0] === 'GET:/fail')!.traceIds[0]!;
        const spans = await traceSpans(failTraceId, 3);
        const view = Object.fromEntries([...segmentsOf(spans)].map(([k, list]) => [k, segmentView(list)]));
        assert.deepEqual(view, {
          [`${names.frontend} GET:/fail`]: ['Entry Http http GET:/fail ERROR', `Exit Http HttpClient /fail → 127.0.0.1:${chain.ports.orders} ERROR`],
          [`${names.orders} POST:/fail`]: ['Entry Http http POST:/fail ERROR'],
        });
      });

      it('counts the calls in endpoint and relation metrics (MQE)', async () => {
        await metricReaches('endpoint_cpm', { scope: 'Endpoint', serviceName: names.orders, normal: true, endpointName: 'POST:/orders' }, CHECKOUTS);
        await metricReaches(
          'endpoint_relation_cpm',
          { scope: 'EndpointRelation', serviceName: names.frontend, normal: true, endpointName: 'GET:/checkout', destServiceName: names.orders, destNormal: true, destEndpointName: 'POST:/orders' },
          CHECKOUTS,
        );
        await metricReaches('service_cpm', { scope: 'Service', serviceName: names.frontend, normal: true }, CHECKOUTS + 1);
      });
    });
  }

  it('logged no error or warning while analysing what skybridge sent', () => {
    // The startup thread ([main]) warns about the GraphQL schema; anything at WARN or ERROR from
    // the receivers, analyzers or persistence would be about our data.
    const problems = readFileSync(oap.logFile, 'utf8')
      .split('\n')
      .filter((line) => /^\S+ (WARN|ERROR) /.test(line) && !line.includes(' [main] '));
    assert.deepEqual(problems, []);
  });
});
