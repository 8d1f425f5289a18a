import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One structured line per event (never per span). Messages are capitalised sentences; the error
 * field is always `error`. Level from SKYBRIDGE_LOG_LEVEL (default info; tests set `silent`).
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? process.env.SKYBRIDGE_LOG_LEVEL ?? 'info';
  return pino(
    { level, base: { service: 'skybridge' }, errorKey: 'error', timestamp: pino.stdTimeFunctions.isoTime },
    // Logs go to stderr so stdout stays free for the debug exporter's segment lines.
    (opts.destination ?? process.stderr) as pino.DestinationStream,
  );
}
