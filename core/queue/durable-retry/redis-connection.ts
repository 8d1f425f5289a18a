/**
 * Redis connections and key names for the durable retry queue. BullMQ waits for a connection
 * without limit (a `queue.add` against a Redis that is down never settles), so every call skybridge
 * makes through it is bounded by `withTimeout` and checked against the connection's state first.
 */
import { Redis } from 'ioredis';

/** One job, by name, in every queue: a batch of encoded items. */
export const JOB_NAME = 'batch';

/** The BullMQ queue name for an exporter: its id (`skywalking`, `skywalking/edge`). */
export function queueNameFor(exporterId: string): string {
  return exporterId;
}

/** skybridge's own counter of payload bytes held in the queue (pending and dead-lettered). */
export function bytesKeyFor(prefix: string, queueName: string): string {
  return `${prefix}:${queueName}:skybridge:bytes`;
}

/** The URL without its password, for logs and CLI output. */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

/**
 * `commands`: queue operations and counters; fails fast while disconnected (no offline queue), so
 * a caller can keep its batch in memory instead of waiting. `worker`: BullMQ's blocking job fetch,
 * which must retry forever (`maxRetriesPerRequest: null`, as BullMQ requires for workers).
 */
export function connectRedis(url: string, role: 'commands' | 'worker', connectionName: string): Redis {
  return new Redis(url, {
    connectionName,
    // Reconnect forever, at most every 2 s: Redis restarts are an outage to ride out, not an error.
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    lazyConnect: false,
  });
}

/** Resolves true once `redis` is ready, or false after `timeoutMs`. Never rejects. */
export function waitReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = (): void => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on('ready', onReady);
  });
}

export class RedisTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`Redis did not answer ${what} within ${ms} ms.`);
    this.name = 'RedisTimeoutError';
  }
}

/** `promise`, or a RedisTimeoutError after `ms`. The timer does not keep the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Close a connection politely, then for sure. */
export async function closeRedis(redis: Redis, timeoutMs = 1000): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await withTimeout(redis.quit(), timeoutMs, 'QUIT');
  } catch {
    // Falls through to disconnect.
  }
  redis.disconnect();
}
