/**
 * The `zipkin` receiver's YAML, with the OpenTelemetry Collector's zipkin receiver defaults
 * (contrib `receiver/zipkinreceiver`): the Zipkin port 9411 on all interfaces, string tags kept as
 * strings.
 */
import { z } from 'zod';
import { listenerAuthSchema } from '../../core/auth/bearer-tokens.ts';
import { listenerTlsSchema } from '../../core/tls/server-tls.ts';
import { httpConnectionsSchema } from '../../core/http/connection-limits.ts';
import { endpoint, size } from '../../core/config/units.ts';

export const zipkinConfigSchema = z
  .strictObject({
    endpoint: endpoint('the Zipkin HTTP listener')
      .default('localhost:9411')
      .describe('Address the Zipkin HTTP server listens on ("host:port"; port 0 picks a free port).'),
    max_request_body_size: size({ min: '1KiB', max: '1GiB' })
      .prefault('4MiB')
      .describe('Largest request body accepted, counted on the wire and again after gzip/deflate decompression. Larger bodies are answered 413.'),
    connections: httpConnectionsSchema,
    tls: listenerTlsSchema,
    auth: listenerAuthSchema,
    parse_string_tags: z
      .boolean()
      .default(false)
      .describe('Turn tag values that read as integers, floats or booleans ("200", "1.5", "true") into typed attributes instead of strings.'),
  })
  .describe('Receives Zipkin spans: POST /api/v2/spans (JSON, proto3) and /api/v1/spans (JSON, Thrift), gzip allowed.');

/** The validated `zipkin` receiver config (sizes in bytes). */
export type ZipkinConfig = z.output<typeof zipkinConfigSchema>;
