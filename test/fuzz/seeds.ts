/**
 * Valid inputs the fuzzer starts from, made by the real clients wherever a JavaScript one exists:
 * the OpenTelemetry OTLP exporters (protobuf and JSON) and Zipkin exporter, zipkin-js (JSON v1 and
 * v2) and jaeger-client (Thrift binary over HTTP and over UDP), each sending to a capture server
 * that keeps the bytes. Formats no JavaScript client writes (Zipkin proto3 and Thrift, Jaeger Thrift
 * compact and gRPC protobuf, W3C span bodies) come from the test suite's writers.
 */
import { createSocket } from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import zipkin from 'zipkin';
import { HttpLogger } from 'zipkin-transport-http';
import { initTracer, quietLogger } from '../../receivers/jaeger/testdata/jaeger-client.ts';
import { encodePostSpansRequest } from '../../receivers/jaeger/testdata/post-spans-writer.ts';
import { encodeEmitBatchCompact } from '../../receivers/jaeger/testdata/thrift-compact-writer.ts';
import { encodeListOfSpans, idBytes } from '../../receivers/zipkin/testdata/zipkin-proto.ts';
import { encodeThriftSpans } from '../../receivers/zipkin/testdata/thrift-binary-writer.ts';
import { flushHttpLogger } from '../support/zipkin-http-logger.ts';

export interface Seeds {
  otlpProtobuf: Buffer[];
  otlpJson: Buffer[];
  zipkinV2: Buffer[];
  zipkinV1: Buffer[];
  zipkinProto3: Buffer[];
  zipkinThrift: Buffer[];
  jaegerThriftHttp: Buffer[];
  jaegerCompact: Buffer[];
  jaegerBinaryUdp: Buffer[];
  jaegerGrpc: Buffer[];
  w3cBody: Buffer[];
}

function sdkSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'fuzz-seed', 'service.instance.id': 'seed-1', 'host.name': 'h' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('fuzz-seeds', '1.0.0');
  const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'url.path': '/checkout', 'http.response.status_code': 200, 'net.tags': ['a', 'b'] } });
  root.addEvent('exception', { 'exception.type': 'Error', 'exception.message': 'boom' });
  const child = tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'mysql', 'db.statement': 'SELECT 1', 'server.address': 'db', 'server.port': 3306 }, links: [{ context: root.spanContext() }] }, undefined);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
  child.end();
  root.end();
  return memory.getFinishedSpans();
}

/** A server that keeps every request body by path, answering as each protocol's server would. */
async function captureServer(): Promise<{ url: string; bodies: Map<string, Buffer[]>; close(): Promise<void> }> {
  const bodies = new Map<string, Buffer[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = `${req.url} ${req.headers['content-type'] ?? ''}`.split(';')[0]!;
      bodies.set(key, [...(bodies.get(key) ?? []), Buffer.concat(chunks)]);
      res.writeHead(req.url === '/v1/traces' ? 200 : 202, { 'Content-Type': req.headers['content-type'] ?? 'text/plain' }).end(req.url === '/v1/traces' && req.headers['content-type'] === 'application/json' ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, bodies, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function exportWith(exporter: { export(spans: ReadableSpan[], cb: (r: { code: number; error?: Error }) => void): void; shutdown(): Promise<void> }): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    exporter.export(sdkSpans(), (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error('export failed')))),
  ).finally(() => exporter.shutdown());
}

async function zipkinJs(url: string, encoder: 'JSON_V1' | 'JSON_V2'): Promise<void> {
  const { Tracer, BatchRecorder, ExplicitContext, Annotation, InetAddress, jsonEncoder } = zipkin;
  const path = encoder === 'JSON_V2' ? '/api/v2/spans' : '/api/v1/spans';
  const logger = new HttpLogger({ endpoint: `${url}${path}`, httpInterval: 3_600_000, ...(encoder === 'JSON_V2' ? { jsonEncoder: jsonEncoder.JSON_V2 } : {}) });
  const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: 'fuzz-zipkin' });
  tracer.setId(tracer.createRootId());
  tracer.recordServiceName('fuzz-zipkin');
  tracer.recordRpc('GET /cart');
  tracer.recordAnnotation(new Annotation.ServerRecv());
  tracer.recordBinary('http.path', '/cart');
  tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: 'db', host: new InetAddress('10.0.0.9'), port: 5432 }));
  tracer.recordAnnotation(new Annotation.ServerSend());
  await new Promise((resolve) => setTimeout(resolve, 20));
  await flushHttpLogger(logger);
}

async function jaegerClient(url: string): Promise<Buffer[]> {
  // Over HTTP (collectorEndpoint) to the capture server, and over UDP (its agent sender) to a socket.
  const udp = createSocket('udp4');
  const packets: Buffer[] = [];
  udp.on('message', (m) => packets.push(m));
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const udpPort = udp.address().port;
  for (const reporter of [{ collectorEndpoint: `${url}/api/traces` }, { agentHost: '127.0.0.1', agentPort: udpPort }]) {
    const tracer = initTracer({ serviceName: 'fuzz-jaeger', sampler: { type: 'const', param: 1 }, reporter: { ...reporter, flushIntervalMs: 3_600_000 } }, { logger: quietLogger });
    const span = tracer.startSpan('GET /jaeger');
    span.setTag('http.status_code', 200);
    span.setTag('span.kind', 'server');
    span.log({ event: 'error', message: 'boom' });
    span.finish();
    await new Promise<void>((resolve) => tracer.close(() => resolve()));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  udp.close();
  return packets;
}

export async function makeSeeds(): Promise<Seeds> {
  const capture = await captureServer();
  try {
    await exportWith(new OtlpProtoExporter({ url: `${capture.url}/v1/traces` }));
    await exportWith(new OtlpJsonExporter({ url: `${capture.url}/v1/traces` }));
    await exportWith(new ZipkinExporter({ url: `${capture.url}/api/v2/spans`, serviceName: 'fuzz-otel-zipkin' }));
    await zipkinJs(capture.url, 'JSON_V2');
    await zipkinJs(capture.url, 'JSON_V1');
    const udpPackets = await jaegerClient(capture.url);
    const got = (key: string): Buffer[] => {
      const list = capture.bodies.get(key) ?? [];
      if (list.length === 0) throw new Error(`fuzz seeds: no ${key} captured (got ${[...capture.bodies.keys()].join(', ')})`);
      return list;
    };
    const traceHex = '4bf92f3577b34da6a3ce929d0e0e4736';
    return {
      otlpProtobuf: got('/v1/traces application/x-protobuf'),
      otlpJson: got('/v1/traces application/json'),
      zipkinV2: got('/api/v2/spans application/json'),
      zipkinV1: got('/api/v1/spans application/json'),
      zipkinProto3: [
        encodeListOfSpans({
          spans: [{ trace_id: idBytes(traceHex), id: idBytes('00f067aa0ba902b7'), kind: 2, name: 'get /p', timestamp: 1_700_000_000_000_000, duration: 1500, local_endpoint: { service_name: 'proto-svc', ipv4: Buffer.from([10, 0, 0, 1]), port: 80 }, tags: { 'http.path': '/p' }, annotations: [{ timestamp: 1_700_000_000_000_100, value: 'wr' }] }],
        }),
      ],
      zipkinThrift: [
        encodeThriftSpans([{ traceId: 0x4bf92f3577b34da6n, id: 0x00f067aa0ba902b7n, name: 'get', timestamp: 1_700_000_000_000_000n, duration: 1500n, annotations: [{ timestamp: 1_700_000_000_000_000n, value: 'sr', host: { ipv4: 0x0a000001, port: 80, serviceName: 'thrift-svc' } }], binaryAnnotations: [] }]),
      ],
      jaegerThriftHttp: got('/api/traces application/x-thrift'),
      jaegerBinaryUdp: udpPackets,
      jaegerCompact: [
        encodeEmitBatchCompact({
          process: { serviceName: 'compact-svc', tags: [{ key: 'hostname', vType: 0, vStr: 'h' }] },
          spans: [{ traceIdLow: 0x1234n, traceIdHigh: 0x5678n, spanId: 0x9abcn, parentSpanId: 0n, operationName: 'GET /c', references: [], flags: 1, startTime: 1_700_000_000_000_000n, duration: 1500n, tags: [{ key: 'span.kind', vType: 0, vStr: 'server' }], logs: [] }],
        }),
      ],
      jaegerGrpc: [
        encodePostSpansRequest({
          process: { serviceName: 'grpc-svc', tags: [{ key: 'hostname', vType: 0, vStr: 'h' }] },
          spans: [{ traceId: traceHex, spanId: '00f067aa0ba902b7', operationName: 'GET /g', references: [], flags: 1, startTimeNs: 1_700_000_000_000_000_000n, durationNs: 1_500_000n, tags: [{ key: 'span.kind', vType: 0, vStr: 'server' }] }],
        }),
      ],
      w3cBody: [
        Buffer.from(JSON.stringify({ name: 'GET /cart', kind: 'server', service: 'edge-proxy', instance: 'edge-1', start: '2026-05-01T10:00:00.120Z', end: '2026-05-01T10:00:00.250Z', attributes: { 'http.request.method': 'GET', 'url.path': '/cart', 'http.response.status_code': 200 } })),
      ],
    };
  } finally {
    await capture.close();
  }
}
