/**
 * The `otlp` receiver's YAML. Both transports are on by default on the OTLP ports; writing `null`
 * for one switches it off, as the Collector's otlp receiver does with an absent protocol.
 */
import { z } from 'zod';
import { listenerAuthSchema } from '../../core/auth/bearer-tokens.ts';
import { listenerTlsSchema } from '../../core/tls/server-tls.ts';
import { grpcConnectionsSchema } from '../../core/grpc/server-limits.ts';
import { httpConnectionsSchema } from '../../core/http/connection-limits.ts';
import { duration, endpoint, size, tlsClientSchema } from '../../core/config/units.ts';
import { resolverSchema } from '../../core/routing/config.ts';

const grpcSchema = z
  .strictObject({
    endpoint: endpoint('the OTLP/gRPC listener')
      .default('localhost:4317')
      .describe('Address the OTLP/gRPC server listens on ("host:port"; port 0 picks a free port).'),
    max_recv_msg_size: size({ min: '1KiB', max: '1GiB' })
      .prefault('4MiB')
      .describe(
        'Largest request message accepted, after gzip decompression. Larger requests are answered RESOURCE_EXHAUSTED.',
      ),
    max_concurrent_streams: z
      .number().int().min(1).max(100_000).default(8)
      .describe(
        'Export calls one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS, as the Collector\'s max_concurrent_streams). ' +
          'Further calls wait in the client, not in skybridge\'s memory: under overload this bounds the request bytes held before admission can refuse them.',
      ),
    connections: grpcConnectionsSchema,
    tls: listenerTlsSchema,
    auth: listenerAuthSchema,
  })
  .describe('OTLP over gRPC (service opentelemetry.proto.collector.trace.v1.TraceService). null disables it.');

const httpSchema = z
  .strictObject({
    endpoint: endpoint('the OTLP/HTTP listener')
      .default('localhost:4318')
      .describe('Address the OTLP/HTTP server listens on ("host:port"; port 0 picks a free port).'),
    max_request_body_size: size({ min: '1KiB', max: '1GiB' })
      .prefault('4MiB')
      .describe(
        'Largest request body accepted, counted after gzip/deflate decompression (and on the wire). Larger bodies are answered 413.',
      ),
    connections: httpConnectionsSchema,
    tls: listenerTlsSchema,
    auth: listenerAuthSchema,
    path: z
      .string()
      .regex(/^\/[^\s?#]*$/, { message: 'expected an absolute URL path such as "/v1/traces". Fix: start it with "/" and leave out the query.' })
      .default('/v1/traces')
      .describe('URL path that accepts POSTed ExportTraceServiceRequest bodies (protobuf or JSON).'),
  })
  .describe('OTLP over HTTP (protobuf and JSON bodies). null disables it.');

const handoverSchema = z
  .strictObject({
    resolver: resolverSchema,
    self: endpoint('this gateway').describe('This gateway as it appears in the resolver\'s answers ("podIP:4317"; in Kubernetes "${POD_IP}:4317" from the downward API).'),
    grace: duration({ min: '100ms', max: '1h' })
      .prefault('15s')
      .describe('After a change of the gateway set: for this long, spans of traces this gateway does not hold go to their previous owner; for as long again, only those of traces the previous owner still holds. Set it above the agents\' resolver interval plus the assembly max_wait.'),
    timeout: duration({ min: '10ms', max: '1m' }).prefault('5s').describe('Deadline of one handover call; when it fails, the spans stay here.'),
    tls: tlsClientSchema.prefault({}),
    token: z
      .string()
      .default('')
      .describe('Bearer token for the other gateways\' receivers (their auth: block); write it as a ${ENV_VAR} reference. Empty: none.'),
  })
  .describe('On a gateway behind loadbalancing agents: hands spans of traces in flight to the gateway that owned them before the gateway set changed, so a scale event does not split them (receivers/otlp/README.md). Off when absent.');

export const otlpConfigSchema = z
  .strictObject({
    grpc: grpcSchema.nullable().prefault({}),
    http: httpSchema.nullable().prefault({}),
    handover: handoverSchema.optional(),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.grpc === null && cfg.http === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['grpc'],
        message:
          'grpc and http are both null, so the receiver would listen nowhere. Fix: enable at least one transport, e.g. remove "grpc: null" or write "grpc: {}".',
      });
    }
  })
  .describe('Receives spans over OTLP/gRPC and OTLP/HTTP.');

/** The validated `otlp` receiver config (sizes in bytes). A `null` transport is disabled. */
export type OtlpConfig = z.output<typeof otlpConfigSchema>;
