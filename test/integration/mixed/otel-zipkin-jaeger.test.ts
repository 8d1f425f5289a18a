/**
 * A mixed trace: three services traced by three different libraries, each reporting to its own
 * skybridge receiver, come out as one connected set of SkyWalking segments.
 *
 *   test ──▶ A otel-frontend ──HTTP──▶ B zipkin-orders ──HTTP──▶ C jaeger-payments
 *            OpenTelemetry SDK          `zipkin` library           jaeger-client
 *            → OTLP/HTTP (otlp)         → JSON v2 (zipkin)         → Thrift HTTP (jaeger)
 *
 * Context crosses each hop in the headers both sides really speak:
 * - A → B: A's global propagator is W3C + B3 multi-header (@opentelemetry/propagator-b3 in a
 *   CompositePropagator), and instrumentation-http injects both `traceparent` and X-B3-*. B's
 *   zipkin HttpServer instrumentation reads the X-B3-* headers (it knows no `traceparent`) and, as
 *   zipkin-js does by default, joins A's client span (B3 shared span), which skybridge splits.
 * - B → C: zipkin's HttpClient instrumentation writes X-B3-*; jaeger-client reads them through
 *   its own ZipkinB3TextMapCodec, registered as the tracer's FORMAT_HTTP_HEADERS extractor.
 *
 * The trace id is A's 128-bit OpenTelemetry id all the way: B3 carries 32 hex digits, zipkin-js
 * keeps them as given, and jaeger-client splits them into traceIdHigh/traceIdLow.
 *
 * A runs in its own process (instrumentation-http patches `http` for the whole process); B and C
 * are real HTTP servers on loopback in this process, with tracers of their own. The OAP's reading
 * of what skybridge wrote comes from skywalking-backend-js's generated stubs.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Span as OpenTracingSpan, SpanContext as OpenTracingSpanContext, Tracer as OpenTracingTracer } from 'opentracing';
import zipkin from 'zipkin';
import { HttpLogger } from 'zipkin-transport-http';
import { startChildService, type ChildService } from '../../support/child-service.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment, type DecodedSpan } from '../../support/oap-rules.ts';
import { flushHttpLogger } from '../../support/zipkin-http-logger.ts';
import type { Component } from '../../../core/component.ts';

const require = createRequire(import.meta.url);

const ENTRY = 0;
const EXIT = 1;
const CROSS_PROCESS = 0;
const A = 'otel-frontend';
const B = 'zipkin-orders';
const C = 'jaeger-payments';
const SERVICE_A_APP = fileURLToPath(new URL('./otel-service.cjs', import.meta.url));

// ---- jaeger-client (CommonJS, no types of its own) ---------------------------------------------

type JaegerTracer = OpenTracingTracer & {
  close(callback?: () => void): void;
  registerInjector(format: string, injector: unknown): void;
  registerExtractor(format: string, extractor: unknown): void;
};
const jaegerClient = require('jaeger-client') as {
  initTracer(
    config: { serviceName: string; sampler: { type: 'const'; param: 1 }; reporter: { collectorEndpoint: string; flushIntervalMs: number } },
    options: { logger: { info(msg: string): void; error(msg: string): void }; traceId128bit: boolean },
  ): JaegerTracer;
  ZipkinB3TextMapCodec: new (options?: { urlEncoding?: boolean }) => unknown;
  opentracing: typeof import('opentracing');
};

// ---- the services -------------------------------------------------------------------------------

interface InProcessService {
  port: number;
  /** Headers of each request the service received, as node parsed them (lower-case names). */
  received: http.IncomingHttpHeaders[];
  /** Report every finished span to skybridge and wait for its answer. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** C: a jaeger-client tracer that speaks B3 on HTTP headers, reporting over its HTTP sender. */
async function startJaegerService(collectorEndpoint: string): Promise<InProcessService> {
  const { initTracer, ZipkinB3TextMapCodec, opentracing } = jaegerClient;
  const { Tags, FORMAT_HTTP_HEADERS } = opentracing;
  const tracer = initTracer(
    { serviceName: C, sampler: { type: 'const', param: 1 }, reporter: { collectorEndpoint, flushIntervalMs: 3_600_000 } },
    { logger: { info: () => {}, error: () => {} }, traceId128bit: true },
  );
  // jaeger-client's documented way to interoperate with Zipkin-instrumented callers.
  const b3 = new ZipkinB3TextMapCodec({ urlEncoding: true });
  tracer.registerInjector(FORMAT_HTTP_HEADERS, b3);
  tracer.registerExtractor(FORMAT_HTTP_HEADERS, b3);

  const received: http.IncomingHttpHeaders[] = [];
  let port = 0;
  const server = http.createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    const parent = tracer.extract(FORMAT_HTTP_HEADERS, req.headers) as OpenTracingSpanContext | null;
    const span: OpenTracingSpan = tracer.startSpan(`GET ${req.url}`, {
      childOf: parent ?? undefined,
      tags: {
        [Tags.SPAN_KIND]: Tags.SPAN_KIND_RPC_SERVER,
        [Tags.HTTP_METHOD]: req.method,
        [Tags.HTTP_URL]: `http://127.0.0.1:${port}${req.url}`,
        [Tags.COMPONENT]: 'http',
      },
    });
    span.setTag(Tags.HTTP_STATUS_CODE, 200);
    res.writeHead(200).end('paid');
    span.finish();
  });
  port = await listen(server);
  return {
    port,
    received,
    // close() flushes the RemoteReporter, and its HTTPSender posts the batch before calling back.
    flush: () => new Promise<void>((resolve) => tracer.close(resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** B: the `zipkin` library's HttpServer/HttpClient instrumentation, reporting JSON v2 over HTTP. */
async function startZipkinService(collectorUrl: string, downstreamPort: number): Promise<InProcessService> {
  const { Tracer, BatchRecorder, ExplicitContext, Instrumentation, Annotation, InetAddress, option, jsonEncoder } = zipkin;
  const logger = new HttpLogger({ endpoint: `${collectorUrl}/api/v2/spans`, jsonEncoder: jsonEncoder.JSON_V2, httpInterval: 3_600_000 });
  const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: B, traceId128Bit: true });
  const downstreamUrl = `http://127.0.0.1:${downstreamPort}/payments`;

  const received: http.IncomingHttpHeaders[] = [];
  let port = 0;
  const handle = async (req: http.IncomingMessage): Promise<void> => {
    const readHeader = <T>(name: string): zipkin.option.IOption<T> => {
      const v = req.headers[name.toLowerCase()];
      return (typeof v === 'string' ? new option.Some(v) : option.None) as unknown as zipkin.option.IOption<T>;
    };
    const server = new Instrumentation.HttpServer({ tracer, port, host: '127.0.0.1' });
    const serverId = tracer.scoped(() => server.recordRequest(req.method ?? 'GET', `http://127.0.0.1:${port}${req.url}`, readHeader));
    const client = new Instrumentation.HttpClient({ tracer, remoteServiceName: C });
    let clientId = serverId;
    const request = tracer.scoped(() => {
      tracer.setId(serverId);
      const withHeaders = client.recordRequest({ headers: {} as Record<string, string> }, downstreamUrl, 'GET');
      clientId = tracer.id;
      // The address it connected to, as socket-aware instrumentation (Brave, most clients) records it.
      tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: C, host: new InetAddress('127.0.0.1'), port: downstreamPort }));
      return withHeaders;
    });
    const res = await fetch(downstreamUrl, { headers: request.headers as Record<string, string> });
    await res.arrayBuffer();
    tracer.scoped(() => client.recordResponse(clientId, String(res.status)));
    tracer.scoped(() => server.recordResponse(serverId, '200'));
  };
  const server = http.createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    handle(req).then(
      () => res.writeHead(200).end('ordered'),
      () => res.writeHead(500).end('failed'),
    );
  });
  port = await listen(server);
  return {
    port,
    received,
    flush: () => flushHttpLogger(logger),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---- assertions ---------------------------------------------------------------------------------

const entryOf = (s: DecodedSegment): DecodedSpan => s.spansList.find((sp) => sp.spanid === 0)!;
function exitOf(s: DecodedSegment): DecodedSpan {
  const exits = s.spansList.filter((sp) => sp.spantype === EXIT);
  assert.equal(exits.length, 1, `${s.service} has one Exit span`);
  return exits[0]!;
}

function assertCalledBy(child: DecodedSegment, parent: DecodedSegment): void {
  const entry = entryOf(child);
  const parentExit = exitOf(parent);
  assert.equal(entry.spantype, ENTRY, `${child.service} span 0 is an Entry`);
  assert.equal(entry.refsList.length, 1, `${child.service} Entry has one ref`);
  const ref = entry.refsList[0]!;
  assert.equal(ref.reftype, CROSS_PROCESS, `${child.service} ref is CrossProcess`);
  assert.equal(ref.traceid, parent.traceid);
  assert.equal(ref.parenttracesegmentid, parent.tracesegmentid, `${child.service} ref points at ${parent.service}'s segment`);
  assert.equal(ref.parentspanid, parentExit.spanid, `${child.service} ref points at ${parent.service}'s Exit span`);
  assert.equal(ref.parentservice, parent.service);
  assert.equal(ref.parentserviceinstance, parent.serviceinstance);
  assert.equal(ref.parentendpoint, entryOf(parent).operationname);
  assert.equal(ref.networkaddressusedatpeer, parentExit.peer, `${child.service} networkAddressUsedAtPeer is ${parent.service}'s Exit peer`);
}

// ---- the test -----------------------------------------------------------------------------------

type OtlpReceiver = Component & { httpPort: number };
type ZipkinReceiver = Component & { port: number };
type JaegerReceiver = Component & { thriftHttpPort: number };

describe('mixed trace: OpenTelemetry → Zipkin → Jaeger through skybridge → OAP', () => {
  let harness: Harness;
  let serviceA: ChildService;
  let serviceB: InProcessService;
  let serviceC: InProcessService;

  before(async () => {
    harness = await startHarness({
      receiversYaml: [
        '  otlp:',
        '    grpc: { endpoint: "127.0.0.1:0" }',
        '    http: { endpoint: "127.0.0.1:0" }',
        '  zipkin: { endpoint: "127.0.0.1:0" }',
        '  jaeger:',
        '    protocols:',
        '      thrift_compact: { endpoint: "127.0.0.1:0" }',
        '      thrift_binary: { endpoint: "127.0.0.1:0" }',
        '      thrift_http: { endpoint: "127.0.0.1:0" }',
        '      grpc: { endpoint: "127.0.0.1:0" }',
      ].join('\n'),
      receiverIds: ['otlp', 'zipkin', 'jaeger'],
      quietPeriod: '300ms',
    });
    const { service } = harness.collector;
    const otlp = service.component<OtlpReceiver>('otlp')!;
    const zipkinReceiver = service.component<ZipkinReceiver>('zipkin')!;
    const jaegerReceiver = service.component<JaegerReceiver>('jaeger')!;

    serviceC = await startJaegerService(`http://127.0.0.1:${jaegerReceiver.thriftHttpPort}/api/traces`);
    serviceB = await startZipkinService(`http://127.0.0.1:${zipkinReceiver.port}`, serviceC.port);
    serviceA = await startChildService(SERVICE_A_APP, {
      SERVICE_NAME: A,
      OTLP_ENDPOINT: `http://127.0.0.1:${otlp.httpPort}/v1/traces`,
      DOWNSTREAM: `http://127.0.0.1:${serviceB.port}`,
    });
  });

  after(async () => {
    await serviceA?.stop();
    await Promise.all([serviceB?.close(), serviceC?.close()]);
    await harness?.stop();
  });

  it('bridges W3C/B3 across the three libraries and gives one connected set of segments', async () => {
    const res = await fetch(`http://127.0.0.1:${serviceA.port}/checkout`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);

    // What crossed each hop. A sends both formats with the same 128-bit ids; B only B3.
    const toB = serviceB.received[0]!;
    const traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(toB.traceparent));
    assert.ok(traceparent, `A sends a W3C traceparent (got ${toB.traceparent})`);
    const traceId = traceparent[1]!;
    assert.equal(toB['x-b3-traceid'], traceId, 'A sends X-B3-TraceId, the same 128-bit id');
    assert.equal(toB['x-b3-spanid'], traceparent[2], 'A sends X-B3-SpanId, its client span');
    assert.equal(toB['x-b3-sampled'], '1');
    const toC = serviceC.received[0]!;
    assert.equal(toC['x-b3-traceid'], traceId, 'B passes the 128-bit trace id on in B3');
    assert.equal(toC.traceparent, undefined, 'B speaks B3 only');

    // Deepest first, as spans finish in a real system; A's batch processor exports within 100 ms.
    await serviceC.flush();
    await serviceB.flush();
    await harness.oap.waitForSegments(3, 10_000);
    // A fourth segment would mean a span landed in a segment of its own (an id clash or a lost parent).
    await new Promise((resolve) => setTimeout(resolve, 800));

    const segments = harness.oap.segments as DecodedSegment[];
    assertOapRules(segments);
    assert.equal(harness.oap.undecodable.length, 0);
    assert.deepEqual(segments.map((s) => s.service).sort(), [A, C, B].sort(), 'exactly one segment per service');
    assert.equal(new Set(segments.map((s) => s.traceid)).size, 1, 'one shared trace id');
    const by = Object.fromEntries(segments.map((s) => [s.service, s])) as Record<string, DecodedSegment>;
    const [a, b, c] = [by[A]!, by[B]!, by[C]!];

    // skybridge uses the OTel trace id as the SkyWalking one: all 128 bits survived both B3 hops
    // (a 64-bit truncation anywhere would have split the trace by library).
    assert.equal(a.traceid, traceId, 'the SkyWalking trace id is A\'s 128-bit trace id');
    const aEntry = entryOf(a);
    assert.equal(aEntry.spantype, ENTRY);
    assert.deepEqual(aEntry.refsList, [], 'A is the root');
    assert.equal(exitOf(a).peer, `127.0.0.1:${serviceB.port}`, "A's Exit peer is B's address");
    assert.equal(exitOf(b).peer, `127.0.0.1:${serviceC.port}`, "B's Exit peer is C's address");
    assertCalledBy(b, a);
    assertCalledBy(c, b);
    assert.equal(c.spansList.filter((s) => s.spantype === EXIT).length, 0, 'C calls nobody');
  });
});
