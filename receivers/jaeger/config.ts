/**
 * The `jaeger` receiver's YAML: a `protocols` block like the Collector's jaeger receiver, with all
 * four protocols on by default on Jaeger's own ports. Writing `null` for one switches it off.
 */
import { z } from 'zod';
import { listenerAuthSchema } from '../../core/auth/bearer-tokens.ts';
import { listenerTlsSchema } from '../../core/tls/server-tls.ts';
import { grpcConnectionsSchema } from '../../core/grpc/server-limits.ts';
import { httpConnectionsSchema } from '../../core/http/connection-limits.ts';
import { endpoint, size } from '../../core/config/units.ts';

function udpSchema(what: string, defaultEndpoint: string) {
  return z
    .strictObject({
      endpoint: endpoint(`the Jaeger ${what} UDP listener`)
        .default(defaultEndpoint)
        .describe(`UDP address to listen on for Agent.emitBatch in ${what} ("host:port"; port 0 picks a free port).`),
      max_packet_size: size({ min: '1KiB', max: '65535B' })
        .prefault('65000B')
        .describe('Largest datagram accepted; Jaeger clients keep their packets under 65000 bytes. Larger ones are counted and dropped.'),
      queue_size: z
        .number().int().min(1).max(1_000_000).default(1000)
        .describe(
          'Packets handed to the pipeline and not yet accepted by it. UDP has no backpressure, so packets beyond this are counted as queue_full drops.',
        ),
    })
    .describe(`Jaeger Thrift ${what} over UDP (jaeger-agent's Agent.emitBatch). null disables it.`);
}

const thriftHttpSchema = z
  .strictObject({
    endpoint: endpoint('the Jaeger Thrift HTTP listener')
      .default('localhost:14268')
      .describe('Address the HTTP server listens on for POST /api/traces ("host:port"; port 0 picks a free port).'),
    max_request_body_size: size({ min: '1KiB', max: '1GiB' })
      .prefault('4MiB')
      .describe('Largest request body accepted, counted on the wire and again after gzip/deflate decompression. Larger bodies are answered 413.'),
    connections: httpConnectionsSchema,
    tls: listenerTlsSchema,
    auth: listenerAuthSchema,
  })
  .describe('jaeger.Batch in Thrift binary over HTTP (the Jaeger collector\'s POST /api/traces). null disables it.');

const grpcSchema = z
  .strictObject({
    endpoint: endpoint('the Jaeger gRPC listener')
      .default('localhost:14250')
      .describe('Address the gRPC server listens on ("host:port"; port 0 picks a free port).'),
    max_recv_msg_size: size({ min: '1KiB', max: '1GiB' })
      .prefault('4MiB')
      .describe('Largest PostSpansRequest accepted, after decompression. Larger requests are answered RESOURCE_EXHAUSTED.'),
    connections: grpcConnectionsSchema,
    tls: listenerTlsSchema,
    auth: listenerAuthSchema,
  })
  .describe('jaeger.api_v2.CollectorService/PostSpans over gRPC. null disables it.');

const protocolsSchema = z
  .strictObject({
    thrift_compact: udpSchema('Thrift compact', 'localhost:6831').nullable().prefault({}),
    thrift_binary: udpSchema('Thrift binary', 'localhost:6832').nullable().prefault({}),
    thrift_http: thriftHttpSchema.nullable().prefault({}),
    grpc: grpcSchema.nullable().prefault({}),
  })
  .superRefine((p, ctx) => {
    if (p.thrift_compact === null && p.thrift_binary === null && p.thrift_http === null && p.grpc === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['grpc'],
        message: 'every protocol is null, so the receiver would listen nowhere. Fix: enable at least one, e.g. write "grpc: {}".',
      });
    }
  })
  .prefault({})
  .describe('The Jaeger protocols to serve; each is on by default on its usual port.');

/** The `jaeger` receiver's config schema: types, defaults, bounds and user docs in one place. */
export const jaegerConfigSchema = z
  .strictObject({ protocols: protocolsSchema })
  .describe('Receives spans from Jaeger clients and agents: Thrift over UDP and HTTP, and gRPC api_v2.');

/** The validated `jaeger` receiver config (sizes in bytes). A `null` protocol is disabled. */
export type JaegerConfig = z.output<typeof jaegerConfigSchema>;
/** One UDP protocol block (`thrift_compact` or `thrift_binary`), when enabled. */
export type JaegerUdpConfig = NonNullable<JaegerConfig['protocols']['thrift_compact']>;
/** The `thrift_http` block, when enabled. */
export type JaegerThriftHttpConfig = NonNullable<JaegerConfig['protocols']['thrift_http']>;
/** The `grpc` block, when enabled. */
export type JaegerGrpcConfig = NonNullable<JaegerConfig['protocols']['grpc']>;
