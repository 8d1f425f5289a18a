/**
 * The `w3c` receiver's YAML. Port 9412 sits next to Zipkin's 9411, the other "spans as JSON over
 * plain HTTP" API, and is no default of the OpenTelemetry Collector's receivers, Jaeger, Zipkin or
 * SkyWalking (see README.md for the reasoning and the known clashes).
 */
import { z } from 'zod';
import { listenerAuthSchema } from '../../core/auth/bearer-tokens.ts';
import { listenerTlsSchema } from '../../core/tls/server-tls.ts';
import { httpConnectionsSchema } from '../../core/http/connection-limits.ts';
import { endpoint, size } from '../../core/config/units.ts';

export const W3C_DEFAULT_PATH = '/v1/w3c/spans';

export const w3cConfigSchema = z
  .strictObject({
    endpoint: endpoint('the W3C span listener')
      .default('localhost:9412')
      .describe('Address the HTTP server listens on ("host:port"; port 0 picks a free port).'),
    path: z
      .string()
      .regex(/^\/[^\s?#]*$/, { message: 'expected an absolute URL path such as "/v1/w3c/spans". Fix: start it with "/" and leave out the query.' })
      .default(W3C_DEFAULT_PATH)
      .describe('The URL path that accepts POSTed spans.'),
    max_request_body_size: size({ min: '1KiB', max: '1GiB' })
      .prefault('1MiB')
      .describe('Largest request body accepted, counted on the wire and again after gzip/deflate decompression. Larger bodies are answered 413.'),
    connections: httpConnectionsSchema,
    tls: listenerTlsSchema,
    auth: listenerAuthSchema,
  })
  .describe('Receives spans from producers that only have W3C trace context: POST JSON spans with traceparent/tracestate/baggage headers.');

/** The validated `w3c` receiver config (sizes in bytes). */
export type W3cConfig = z.output<typeof w3cConfigSchema>;
