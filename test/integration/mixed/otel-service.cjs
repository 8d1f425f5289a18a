// Service A of the mixed trace: an HTTP service instrumented as an application would be, with the
// OpenTelemetry Node SDK and @opentelemetry/instrumentation-http, exporting OTLP/HTTP protobuf. Its
// global propagator is a CompositePropagator of W3C Trace Context and B3 in multi-header mode, so
// every outgoing call carries both `traceparent` and X-B3-TraceId/X-B3-SpanId/X-B3-Sampled: the
// callee can be OpenTelemetry-instrumented or a B3-only Zipkin tracer. Its own process, because
// instrumentation-http patches the `http` module for the whole process. CommonJS so `http` is
// patched on require.
//
// env: SERVICE_NAME, OTLP_ENDPOINT (…/v1/traces), DOWNSTREAM (URL to call for every request)
// Prints "listening <port>" on stdout; exits on SIGTERM after flushing spans.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { CompositePropagator, W3CTraceContextPropagator } = require('@opentelemetry/core');
const { B3Propagator, B3InjectEncoding } = require('@opentelemetry/propagator-b3');

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    'service.name': process.env.SERVICE_NAME,
    'service.instance.id': `${process.env.SERVICE_NAME}-${process.pid}`,
    'telemetry.sdk.language': 'nodejs',
  }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_ENDPOINT }), { scheduledDelayMillis: 100 })],
});
provider.register({
  propagator: new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER })],
  }),
});
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

const http = require('http');
const downstream = process.env.DOWNSTREAM;

const server = http.createServer((req, res) => {
  req.resume();
  const call = http.request(new URL('/orders', downstream), { method: 'GET' }, (up) => {
    up.resume();
    up.on('end', () => res.writeHead(up.statusCode === 200 ? 200 : 502).end('done'));
  });
  call.on('error', () => res.writeHead(502).end('downstream failed'));
  call.end();
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
