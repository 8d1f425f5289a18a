/**
 * A component's logger that also notes what it logs at error level as the component's last error
 * (Metrics.recordLastError, shown on the status page), so every component gets a "last error"
 * without each one reporting it separately. Works at any log level: a collector running with
 * `log_level: warn` or `silent` still shows its errors on the page.
 */
import type { Logger } from './logger.ts';

/** The text of a pino call: its message, and the message of the error it carries, if any. */
function describe(args: unknown[]): string {
  const [first, second] = args;
  const message = typeof first === 'string' ? first : typeof second === 'string' ? second : '';
  let error: unknown;
  if (first instanceof Error) error = first;
  else if (first !== null && typeof first === 'object') error = (first as { error?: unknown; err?: unknown }).error ?? (first as { err?: unknown }).err;
  const detail = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  return detail && !message.includes(detail) ? `${message} ${detail}`.trim() : message || detail || 'error';
}

export function recordingErrors(logger: Logger, record: (message: string) => void): Logger {
  return new Proxy(logger, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property === 'error' || property === 'fatal') {
        return (...args: unknown[]) => {
          try {
            record(describe(args));
          } catch {
            // Noting the error must never stop it from being logged.
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
