/**
 * The `telemetry:` block: the collector's own metrics/health page and log level.
 */
import { z } from 'zod';
import { listenerTlsSchema, type TlsServerConfig } from '../tls/server-tls.ts';
import { traceViewConfigSchema, type TraceViewConfig } from '../telemetry/trace-view/config.ts';
import { endpoint } from './units.ts';

/** Settings for the collector itself, not for any component. */
export interface TelemetryConfig {
  /** Where the metrics and health page listens; default "localhost:8888"; `null` disables it. */
  endpoint: string | null;
  /** pino level of the collector's logs; default `info`. */
  log_level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** TLS on the page (core/tls/server-tls.ts); plaintext when absent. */
  tls?: TlsServerConfig | null;
  /** The trace view at /traces and `skybridge tap` (core/telemetry/trace-view/config.ts). */
  trace_view: TraceViewConfig;
}

export const telemetryConfigSchema = z
  .strictObject({
    endpoint: endpoint("the collector's own metrics and health page")
      .nullable()
      .default('localhost:8888')
      .describe('host:port of the metrics (/metrics) and health page; null turns it off.'),
    log_level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default('info')
      .describe('Lowest level of log lines written to stderr.'),
    tls: listenerTlsSchema,
    trace_view: traceViewConfigSchema,
  })
  .prefault({})
  .describe("The collector's own telemetry.") satisfies z.ZodType<TelemetryConfig, unknown>;
