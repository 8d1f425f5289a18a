// A tiny HTTP service instrumented the way an application would be: the OpenTelemetry Node SDK
// with @opentelemetry/instrumentation-http, exporting over the OTLP exporter named in
// OTLP_EXPORTER (grpc | http-json | http-proto). CommonJS so the http module is patched on require.
//
// env: SERVICE_NAME, OTLP_EXPORTER, OTLP_ENDPOINT, DOWNSTREAM (URL to call for every request, optional)
// Prints "listening <port>" on stdout; exits on SIGTERM after flushing spans.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

function makeExporter() {
  const kind = process.env.OTLP_EXPORTER;
  const url = process.env.OTLP_ENDPOINT;
  if (kind === 'grpc') {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter({ url });
  }
  if (kind === 'http-json') {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter({ url });
  }
  if (kind === 'http-proto') {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
    return new OTLPTraceExporter({ url });
  }
  throw new Error(`unknown OTLP_EXPORTER ${kind}`);
}

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    'service.name': process.env.SERVICE_NAME,
    'service.instance.id': `${process.env.SERVICE_NAME}-${process.pid}`,
    'host.name': require('os').hostname(),
    'process.pid': process.pid,
    'telemetry.sdk.language': 'nodejs',
  }),
  spanProcessors: [new BatchSpanProcessor(makeExporter(), { scheduledDelayMillis: 100 })],
});
provider.register();
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

const http = require('http');
const downstream = process.env.DOWNSTREAM;

const server = http.createServer((req, res) => {
  const fail = req.url.includes('fail');
  if (!downstream) {
    req.resume();
    res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain' }).end(fail ? 'payment declined' : 'paid');
    return;
  }
  const target = new URL(req.url, downstream);
  const call = http.request(target, { method: 'POST' }, (up) => {
    up.resume();
    up.on('end', () => res.writeHead(up.statusCode >= 500 ? 502 : 200).end('done'));
  });
  call.on('error', () => res.writeHead(502).end('downstream failed'));
  call.end('{}');
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.on('SIGTERM', async () => {
  server.close();
  await provider.forceFlush().catch(() => {});
  await provider.shutdown().catch(() => {});
  process.exit(0);
});
