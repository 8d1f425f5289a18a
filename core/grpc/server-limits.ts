/**
 * The `connections:` block of every gRPC receiver: how long a connection may stay idle or open,
 * and how dead peers are found. gRPC clients reconnect by themselves after a server's GOAWAY, so
 * closing idle connections costs a sender nothing and gives back a file descriptor.
 */
import type { ServerOptions } from '@grpc/grpc-js';
import { z } from 'zod';
import { duration } from '../config/units.ts';

export const grpcConnectionsSchema = z
  .strictObject({
    max_connection_idle: duration({ min: '1s', max: '24h' })
      .prefault('5m')
      .describe('A connection with no call for this long is closed (GOAWAY); its client reconnects when it next sends.'),
    max_connection_age: duration({ min: '1s', max: '30d' })
      .optional()
      .describe('Close every connection after this long, so clients behind a layer-4 load balancer spread again over new replicas. Unset: connections live as long as they are used.'),
    max_connection_age_grace: duration({ min: '0s', max: '1h' })
      .prefault('30s')
      .describe('After max_connection_age, how long calls in flight may still finish.'),
    keepalive_time: duration({ min: '10s', max: '24h' })
      .prefault('2h')
      .describe('Ping a connection that has been silent this long, to find peers that vanished without closing it.'),
    keepalive_timeout: duration({ min: '1s', max: '10m' })
      .prefault('20s')
      .describe('Close the connection when a ping is not answered within this.'),
  })
  .prefault({})
  .describe('Connection lifetimes of this gRPC listener.');

export type GrpcConnectionLimits = z.output<typeof grpcConnectionsSchema>;

/** grpc-js server options for `limits`. */
export function grpcServerOptions(limits: GrpcConnectionLimits): ServerOptions {
  return {
    'grpc.max_connection_idle_ms': limits.max_connection_idle,
    ...(limits.max_connection_age === undefined
      ? {}
      : { 'grpc.max_connection_age_ms': limits.max_connection_age, 'grpc.max_connection_age_grace_ms': limits.max_connection_age_grace }),
    'grpc.keepalive_time_ms': limits.keepalive_time,
    'grpc.keepalive_timeout_ms': limits.keepalive_timeout,
  };
}
