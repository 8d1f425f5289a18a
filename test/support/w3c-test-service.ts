/**
 * The service the W3C trace-context test harness (w3c/trace-context test/test.py) drives, built the
 * way an application would be: the OpenTelemetry Node SDK with @opentelemetry/instrumentation-http,
 * propagating W3C trace context and baggage plus skybridge's SkyWalking propagator.
 *
 *   POST /test   body: [{"url": "...", "arguments": [...]}, ...]
 *
 * For each element it POSTs `arguments` as JSON to `url`, in order, as a participant in the trace
 * of the incoming request (same trace id, a new parent id for every call, tracestate carried on),
 * then answers 200. Spans go over OTLP/HTTP (protobuf) to OTEL_EXPORTER_OTLP_ENDPOINT (the
 * exporter's own default, http://localhost:4318, when unset) as OTEL_SERVICE_NAME.
 *
 * env: PORT (default 5000; 0 picks a free one), HOST (default 127.0.0.1), OTEL_SERVICE_NAME,
 * OTEL_EXPORTER_OTLP_ENDPOINT. Prints "listening <port>" once ready; flushes spans on SIGTERM.
 * Run it with `npm run w3c-test-service`, then `python test.py http://127.0.0.1:5000/test` with
 * SPEC_LEVEL=2 in the harness's test folder.
 *
 * Every span is sampled (AlwaysOnSampler): the harness sends unsampled parents too and still
 * expects a participant; RandomTraceIdFlagProcessor keeps Level 2's random-trace-id flag.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import type * as NodeHttp from 'node:http';
import { CompositePropagator, W3CBaggagePropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { RandomTraceIdFlagProcessor, SkyWalkingPropagator, SkyWalkingSpanProcessor, W3CTraceContextPropagator } from 'skybridge/propagator';

const serviceName = process.env.OTEL_SERVICE_NAME || 'w3c-test-service';
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    'service.name': serviceName,
    'service.instance.id': `${serviceName}-${process.pid}`,
    'host.name': os.hostname(),
    'process.pid': process.pid,
    'telemetry.sdk.language': 'nodejs',
  }),
  sampler: new AlwaysOnSampler(),
  spanProcessors: [new SkyWalkingSpanProcessor(), new RandomTraceIdFlagProcessor(), new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 100 })],
});
provider.register({
  propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator(), new SkyWalkingPropagator()] }),
});
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

// instrumentation-http patches `http` when it is required; an ESM import of it would not be patched.
const http = createRequire(import.meta.url)('http') as typeof NodeHttp;

interface Call {
  url: string;
  arguments: unknown;
}

function readJson(req: NodeHttp.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : []);
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function postJson(url: string, body: unknown): Promise<number> {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body ?? []);
    const call = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    // The harness records what arrived; a callback that fails is its finding, not ours to throw.
    call.on('error', () => resolve(0));
    call.end(payload);
  });
}

const server = http.createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/test') {
    req.resume();
    res.writeHead(404).end();
    return;
  }
  let calls: unknown;
  try {
    calls = await readJson(req);
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('expected a JSON array of {url, arguments}');
    return;
  }
  const results: number[] = [];
  for (const c of Array.isArray(calls) ? (calls as Call[]) : []) {
    if (c && typeof c.url === 'string') results.push(await postJson(c.url, c.arguments));
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
});

server.listen(Number(process.env.PORT ?? 5000), process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});

process.on('SIGTERM', async () => {
  server.close();
  await provider.forceFlush().catch(() => {});
  await provider.shutdown().catch(() => {});
  process.exit(0);
});
