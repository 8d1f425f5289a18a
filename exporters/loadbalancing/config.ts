import { z } from 'zod';
import { duration, tlsClientSchema } from '../../core/config/units.ts';
import { resolverSchema } from '../../core/routing/config.ts';

export const loadbalancingConfigSchema = z
  .strictObject({
    routing_key: z
      .enum(['traceID'])
      .default('traceID')
      .describe('What decides the gateway: traceID, so every span of a trace meets on one gateway, where its segments can be built.'),
    protocol: z
      .strictObject({
        otlp: z
          .strictObject({
            timeout: duration({ min: '10ms', max: '10m' }).prefault('10s').describe('Deadline of one Export call to a gateway.'),
            tls: tlsClientSchema.prefault({}),
            token: z
              .string()
              .default('')
              .describe('Bearer token for the gateways\' receivers (their auth: block), sent as `authorization: Bearer <token>` on every call; write it as a ${ENV_VAR} reference. Empty: none.'),
          })
          .prefault({}),
      })
      .prefault({})
      .describe('How spans go to a gateway: OTLP/gRPC TraceService/Export.'),
    resolver: resolverSchema,
    eject_after_failures: z
      .number().int().min(1).max(100).default(2)
      .describe('Consecutive failed calls (unreachable, deadline) after which a gateway leaves the ring; its traces go to the next gateway on the ring.'),
    probe_interval: duration({ min: '10ms', max: '10m' })
      .prefault('2s')
      .describe('How often a gateway taken out of the ring is tried again; it rejoins when it answers.'),
    sticky_traces: z
      .strictObject({
        ttl: duration({ min: '0ms', max: '1h' })
          .prefault('15s')
          .describe('After the ring changes, a trace this agent already sent keeps its gateway (while that gateway is in the ring) until no span of it was sent for this long. Set it above the gateways\' assembly.max_wait. 0 turns it off.'),
        max_traces: z.number().int().min(0).max(10_000_000).default(200_000).describe('Traces remembered; the oldest are forgotten first.'),
      })
      .prefault({})
      .describe('Keeps traces in flight on one gateway when gateways come and go.'),
  })
  .describe('Sends each trace\'s spans over OTLP/gRPC to the gateway that owns its trace id (consistent hashing), for the agent side of an agent → gateway deployment.');

export type LoadbalancingConfig = z.output<typeof loadbalancingConfigSchema>;
