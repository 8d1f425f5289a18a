// A tiny HTTP service instrumented the way an application using baggage would be: the OpenTelemetry
// Node SDK with @opentelemetry/instrumentation-http, W3C trace context + W3C baggage propagation,
// and @opentelemetry/baggage-span-processor copying every baggage entry onto each span it starts
// (under the entry's own key). Exports over OTLP/HTTP JSON. CommonJS so http is patched on require.
//
// env: SERVICE_NAME, OTLP_ENDPOINT, DOWNSTREAM (URL to call for every request, optional),
//      BAGGAGE (JSON object of entries this service adds before calling DOWNSTREAM, optional)
// Prints "listening <port>" on stdout; exits on SIGTERM after flushing spans.
'use strict';
const { context, propagation } = require('@opentelemetry/api');
const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = require('@opentelemetry/core');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { BaggageSpanProcessor, ALLOW_ALL_BAGGAGE_KEYS } = require('@opentelemetry/baggage-span-processor');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    'service.name': process.env.SERVICE_NAME,
    'service.instance.id': `${process.env.SERVICE_NAME}-${process.pid}`,
  }),
  spanProcessors: [
    new BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS),
    // The export timer starts with the first finished span, so with 500 ms a request's client span
    // and the server span that ends a moment later leave in one export: the entry span a child's
    // baggage belongs to is then in the same batch (see baggage_filter's README, no_entry_span).
    new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_ENDPOINT }), { scheduledDelayMillis: 500 }),
  ],
});
provider.register({
  propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
});
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

const http = require('http');
const downstream = process.env.DOWNSTREAM;
const added = process.env.BAGGAGE ? JSON.parse(process.env.BAGGAGE) : {};

const server = http.createServer((req, res) => {
  req.resume();
  if (!downstream) {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  // Add this service's entries to whatever baggage came in, and call downstream with it.
  let baggage = propagation.getBaggage(context.active()) ?? propagation.createBaggage();
  for (const [key, value] of Object.entries(added)) baggage = baggage.setEntry(key, { value });
  context.with(propagation.setBaggage(context.active(), baggage), () => {
    const call = http.request(new URL(req.url, downstream), { method: 'POST' }, (up) => {
      up.resume();
      up.on('end', () => res.writeHead(up.statusCode >= 500 ? 502 : 200).end('done'));
    });
    call.on('error', () => res.writeHead(502).end('downstream failed'));
    call.end('{}');
  });
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
