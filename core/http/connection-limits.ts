/**
 * The `connections:` block of every HTTP receiver: how many connections a listener keeps and how
 * long a slow or idle one may hold a slot. Without these, a few thousand idle connections exhaust
 * the process's file descriptors (every port, /healthz included, then refuses new clients), and a
 * request body trickled in a byte at a time holds its connection for Node's 300 s default.
 */
import type http from 'node:http';
import { z } from 'zod';
import { duration } from '../config/units.ts';

export const httpConnectionsSchema = z
  .strictObject({
    max: z
      .number().int().min(1).max(1_000_000).default(4_096)
      .describe('Connections this listener keeps open at once; further ones are closed as they arrive. Keep it below the open-file limit (ulimit -n) shared by every listener.'),
    header_timeout: duration({ min: '100ms', max: '10m' })
      .prefault('10s')
      .describe('Longest a client may take to send a request\'s headers.'),
    request_timeout: duration({ min: '1s', max: '1h' })
      .prefault('60s')
      .describe('Longest a client may take to send a whole request (headers and body); a slower one is answered 408 and closed.'),
    idle_timeout: duration({ min: '100ms', max: '1h' })
      .prefault('60s')
      .describe('How long a keep-alive connection may sit idle between requests before it is closed.'),
  })
  .prefault({})
  .describe('Connection limits of this HTTP listener.');

export type HttpConnectionLimits = z.output<typeof httpConnectionsSchema>;

/**
 * Node checks the header and request timeouts on a timer (30 s by default), so a timeout is only as
 * precise as that interval: check at least every second, and twice within the shortest timeout.
 */
export function checkingIntervalMs(limits: HttpConnectionLimits): number {
  return Math.max(50, Math.min(1_000, Math.floor(Math.min(limits.header_timeout, limits.request_timeout) / 2)));
}

/** Applies `limits` to a Node HTTP server (created with `checkingIntervalMs(limits)`) before it listens. */
export function applyConnectionLimits(server: http.Server, limits: HttpConnectionLimits): void {
  server.maxConnections = limits.max;
  server.headersTimeout = limits.header_timeout;
  server.requestTimeout = limits.request_timeout;
  server.keepAliveTimeout = limits.idle_timeout;
}
