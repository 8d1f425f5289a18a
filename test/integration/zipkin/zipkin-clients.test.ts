/**
 * Real Zipkin senders through skybridge to the stand-in OAP. Three in-process HTTP services
 * (frontend → orders → payments) call each other over real HTTP with propagated context, once
 * instrumented with the `zipkin` library (Tracer + HttpServer/HttpClient instrumentation, B3
 * headers, reported by zipkin-transport-http's HttpLogger as JSON v2 and as JSON v1, its default),
 * and once with the OpenTelemetry SDK (sdk-trace-base v2) and @opentelemetry/exporter-zipkin.
 *
 * zipkin-js joins the caller's span on the server side (B3 single-host spans, `shared`), so the
 * first two runs also prove the shared-span split end to end: without it, orders' and payments'
 * Entry spans would clash with the callers' Exit span ids. The OAP's reading of what skybridge wrote
 * comes from skywalking-backend-js's generated stubs, never from our protos.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import zipkin from 'zipkin';
import { HttpLogger } from 'zipkin-transport-http';
import type { ZipkinReceiver } from '../../../receivers/zipkin/receiver.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment, type DecodedSpan } from '../../support/oap-rules.ts';
import { flushHttpLogger } from '../../support/zipkin-http-logger.ts';

const ENTRY = 0;
const EXIT = 1;
const CROSS_PROCESS = 0;
const SERVICES = ['frontend', 'orders', 'payments'] as const;
type ServiceName = (typeof SERVICES)[number];

/** One of the three services: an HTTP server that calls `downstream` (if any) for every request. */
interface TracedService {
  readonly name: ServiceName;
  readonly port: number;
  /** Send every finished span to the collector and wait for its answer. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Instrumentation {
  /** Handles one request; `callDownstream` performs the outgoing call with the given extra headers. */
  handle(req: http.IncomingMessage, callDownstream: ((headers: Record<string, string>) => Promise<number>) | undefined): Promise<void>;
  flush(): Promise<void>;
}

async function startService(name: ServiceName, downstream: TracedService | undefined, instrument: (port: () => number) => Instrumentation): Promise<TracedService> {
  let port = 0;
  const inst = instrument(() => port);
  const server = http.createServer((req, res) => {
    req.resume();
    const call = downstream === undefined ? undefined : (headers: Record<string, string>) => get(`http://127.0.0.1:${downstream.port}/${downstream.name}`, headers);
    inst.handle(req, call).then(
      () => res.writeHead(200).end('ok'),
      () => res.writeHead(500).end('failed'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    flush: () => inst.flush(),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

/** Starts payments, orders, frontend (each calling the next) with one instrumentation per service. */
async function startThreeServices(instrument: (name: ServiceName) => (port: () => number) => Instrumentation): Promise<TracedService[]> {
  const payments = await startService('payments', undefined, instrument('payments'));
  const orders = await startService('orders', payments, instrument('orders'));
  const frontend = await startService('frontend', orders, instrument('frontend'));
  return [frontend, orders, payments];
}

// ---- zipkin-js: Tracer, HttpServer/HttpClient instrumentation, HttpLogger --------------------------

function zipkinJs(collectorUrl: string, encoder: 'JSON_V2' | 'JSON_V1') {
  const { Tracer, BatchRecorder, ExplicitContext, Instrumentation: ZInstrumentation, Annotation, InetAddress, option, jsonEncoder } = zipkin;
  return (name: ServiceName) => (port: () => number): Instrumentation => {
    const path = encoder === 'JSON_V2' ? '/api/v2/spans' : '/api/v1/spans';
    // The default encoder is JSON_V1; pass it only for v2, as an application would.
    const logger = new HttpLogger({ endpoint: `${collectorUrl}${path}`, httpInterval: 3_600_000, ...(encoder === 'JSON_V2' ? { jsonEncoder: jsonEncoder.JSON_V2 } : {}) });
    const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: name });
    const readHeaderOf = (req: http.IncomingMessage) => <T>(header: string): zipkin.option.IOption<T> => {
      const v = req.headers[header.toLowerCase()];
      return (typeof v === 'string' ? new option.Some(v) : option.None) as unknown as zipkin.option.IOption<T>;
    };
    return {
      async handle(req, callDownstream) {
        const server = new ZInstrumentation.HttpServer({ tracer, port: port(), host: '127.0.0.1' });
        const serverId = tracer.scoped(() => server.recordRequest(req.method ?? 'GET', `http://127.0.0.1:${port()}${req.url}`, readHeaderOf(req)));
        if (callDownstream !== undefined) {
          const client = new ZInstrumentation.HttpClient({ tracer, remoteServiceName: downstreamOf(name) });
          let clientId = serverId;
          const request = tracer.scoped(() => {
            tracer.setId(serverId);
            const withHeaders = client.recordRequest({ headers: {} as Record<string, string> }, downstreamUrl(name), 'GET');
            clientId = tracer.id;
            // Instrumentation that knows the socket (Brave, most HTTP clients) records the server
            // address it connected to; zipkin-js's generic HttpClient records only the service name.
            tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: downstreamOf(name)!, host: new InetAddress('127.0.0.1'), port: downstreamPort(name) }));
            return withHeaders;
          });
          const status = await callDownstream(request.headers as Record<string, string>);
          tracer.scoped(() => client.recordResponse(clientId, String(status)));
        }
        tracer.scoped(() => server.recordResponse(serverId, '200'));
      },
      flush: () => flushHttpLogger(logger),
    };
  };
}

// ---- OpenTelemetry SDK + exporter-zipkin, W3C context over real HTTP ------------------------------

function otelZipkin(collectorUrl: string) {
  const propagator = new W3CTraceContextPropagator();
  return (name: ServiceName) => (port: () => number): Instrumentation => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': name, 'service.instance.id': `${name}-1`, 'telemetry.sdk.language': 'nodejs' }),
      spanProcessors: [new SimpleSpanProcessor(new ZipkinExporter({ url: `${collectorUrl}/api/v2/spans` }))],
    });
    const tracer = provider.getTracer('zipkin-clients-test', '1.0.0');
    return {
      async handle(req, callDownstream) {
        const parent: Context = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
        const server = tracer.startSpan(`GET /${name}`, {
          kind: SpanKind.SERVER,
          attributes: { 'http.request.method': 'GET', 'url.path': req.url ?? '/', 'http.route': `/${name}`, 'server.address': '127.0.0.1', 'server.port': port(), 'url.scheme': 'http' },
        }, parent);
        if (callDownstream !== undefined) {
          const client = tracer.startSpan('GET', {
            kind: SpanKind.CLIENT,
            attributes: { 'http.request.method': 'GET', 'url.full': downstreamUrl(name), 'server.address': '127.0.0.1', 'server.port': downstreamPort(name) },
          }, trace.setSpan(ROOT_CONTEXT, server));
          const headers: Record<string, string> = {};
          propagator.inject(trace.setSpan(ROOT_CONTEXT, client), headers, defaultTextMapSetter);
          const status = await callDownstream(headers);
          client.setAttribute('http.response.status_code', status);
          client.end();
        }
        server.setAttribute('http.response.status_code', 200);
        server.setStatus({ code: SpanStatusCode.UNSET });
        server.end();
      },
      flush: () => provider.forceFlush(),
    };
  };
}

// ---- the three services' wiring --------------------------------------------------------------------

const ports = new Map<ServiceName, number>();
const downstreamOf = (name: ServiceName): ServiceName | undefined => (name === 'frontend' ? 'orders' : name === 'orders' ? 'payments' : undefined);
const downstreamPort = (name: ServiceName): number => ports.get(downstreamOf(name)!)!;
const downstreamUrl = (name: ServiceName): string => `http://127.0.0.1:${downstreamPort(name)}/${downstreamOf(name)}`;

function segmentsByService(segments: DecodedSegment[]): Record<ServiceName, DecodedSegment> {
  const out = {} as Record<ServiceName, DecodedSegment>;
  for (const s of segments) {
    assert.ok((SERVICES as readonly string[]).includes(s.service), `unexpected service ${s.service}`);
    assert.equal(out[s.service as ServiceName], undefined, `two segments for ${s.service}`);
    out[s.service as ServiceName] = s;
  }
  return out;
}

const entryOf = (s: DecodedSegment): DecodedSpan => s.spansList.find((sp) => sp.spanid === 0)!;
const exitOf = (s: DecodedSegment): DecodedSpan => {
  const exits = s.spansList.filter((sp) => sp.spantype === EXIT);
  assert.equal(exits.length, 1, `${s.service} has one Exit span`);
  return exits[0]!;
};

/** The checks every run must pass: three segments of one trace, linked Entry ← Exit by CrossProcess refs. */
function assertThreeLinkedSegments(segments: DecodedSegment[]): void {
  assertOapRules(segments);
  assert.equal(segments.length, 3, 'one segment per service');
  assert.equal(new Set(segments.map((s) => s.traceid)).size, 1, 'one trace id');
  const { frontend, orders, payments } = segmentsByService(segments);

  const feEntry = entryOf(frontend);
  assert.equal(feEntry.spantype, ENTRY);
  assert.deepEqual(feEntry.refsList, [], 'frontend Entry has no ref');

  for (const [child, parent] of [[orders, frontend], [payments, orders]] as const) {
    const entry = entryOf(child);
    const parentExit = exitOf(parent);
    assert.equal(entry.spantype, ENTRY, `${child.service} span 0 is an Entry`);
    assert.equal(entry.refsList.length, 1, `${child.service} Entry has one ref`);
    const ref = entry.refsList[0]!;
    assert.equal(ref.reftype, CROSS_PROCESS);
    assert.equal(ref.traceid, parent.traceid);
    assert.equal(ref.parenttracesegmentid, parent.tracesegmentid);
    assert.equal(ref.parentspanid, parentExit.spanid);
    assert.equal(ref.parentservice, parent.service);
    assert.equal(ref.parentserviceinstance, parent.serviceinstance);
    assert.equal(ref.parentendpoint, entryOf(parent).operationname);
    assert.equal(ref.networkaddressusedatpeer, parentExit.peer);
    assert.equal(parentExit.peer, `127.0.0.1:${ports.get(child.service as ServiceName)}`);
  }
  assert.equal(payments.spansList.filter((s) => s.spantype === EXIT).length, 0, 'payments calls nobody');
}

const runs = [
  // zipkin-js puts the address on server spans only (LocalAddr); the receiver lends it to the
  // process's other spans, so each service is one instance named after its localEndpoint IP.
  { title: 'zipkin library, HttpLogger JSON_V2', instrument: (url: string) => zipkinJs(url, 'JSON_V2'), instance: (_: string) => '127.0.0.1' },
  { title: 'zipkin library, HttpLogger JSON_V1 (its default)', instrument: (url: string) => zipkinJs(url, 'JSON_V1'), instance: (_: string) => '127.0.0.1' },
  { title: 'OpenTelemetry SDK with @opentelemetry/exporter-zipkin', instrument: (url: string) => otelZipkin(url), instance: (service: string) => `${service}-1` },
];

for (const run of runs) {
  describe(`${run.title} → zipkin receiver → skywalking exporter → OAP`, () => {
    let harness: Harness;
    let services: TracedService[] = [];

    before(async () => {
      harness = await startHarness({ receiversYaml: '  zipkin: { endpoint: "127.0.0.1:0" }', receiverIds: ['zipkin'], quietPeriod: '200ms' });
      const receiver = harness.collector.service.component<ZipkinReceiver>('zipkin')!;
      services = await startThreeServices(run.instrument(`http://127.0.0.1:${receiver.port}`));
      for (const s of services) ports.set(s.name, s.port);
    });

    after(async () => {
      await Promise.all(services.map((s) => s.close()));
      await harness.stop();
    });

    it('gives three segments of one trace, each Entry referring to its caller\'s Exit', async () => {
      assert.equal(await get(`http://127.0.0.1:${ports.get('frontend')}/frontend`), 200);
      // Deepest first, as spans finish in a real system; the root arrives last.
      for (const name of ['payments', 'orders', 'frontend'] as const) await services.find((s) => s.name === name)!.flush();
      await harness.oap.waitForSegments(3, 10_000);
      // A fourth segment would mean a span was put into a segment of its own (an id clash or a lost parent).
      await new Promise((resolve) => setTimeout(resolve, 500));
      assertThreeLinkedSegments(harness.oap.segments as DecodedSegment[]);
      for (const seg of harness.oap.segments as DecodedSegment[]) assert.equal(seg.serviceinstance, run.instance(seg.service), `${seg.service}'s instance`);
      assert.equal(harness.oap.undecodable.length, 0);
    });
  });
}
