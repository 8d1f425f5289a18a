/**
 * zipkin-transport-http's HttpLogger posts its queue on a timer (tests create it with a long
 * `httpInterval`); `flushHttpLogger` posts it now and resolves on the collector's answer.
 */
import type { HttpLogger } from 'zipkin-transport-http';

/** Posts the logger's queued spans now; resolves on its `success` event (the 202), rejects on `error`. */
export function flushHttpLogger(logger: HttpLogger): Promise<void> {
  const l = logger as unknown as { queue: string[]; fetchImplementation: unknown; processQueue(fetch: unknown): void } & NodeJS.EventEmitter;
  if (l.queue.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onSuccess = (): void => {
      l.off('error', onError);
      resolve();
    };
    const onError = (err: Error): void => {
      l.off('success', onSuccess);
      reject(err);
    };
    l.once('success', onSuccess);
    l.once('error', onError);
    l.processQueue(l.fetchImplementation);
  });
}
