/**
 * The dead-letter queue, as the CLI sees it: the failed set of an exporter's retry queue. `replay`
 * sends each job itself (through the exporter's own `send`) and removes it only once the destination
 * took it, so a replay cut short duplicates at most the job in flight and never loses one. It works
 * whether or not a skybridge is running: running workers never touch failed jobs.
 */
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisRetryConfig } from './config.ts';
import type { RetryJobData, SendItems } from './durable-retry-queue.ts';
import { decodePayload, PAYLOAD_ENCODING } from './payload-codec.ts';
import { bytesKeyFor, closeRedis, connectRedis, queueNameFor, redactUrl, waitReady } from './redis-connection.ts';

export interface DeadLetterEntry {
  id: string;
  /** Why it was dead-lettered: `<status>: <detail>`, or `max_attempts: …`, `max_age: …`. */
  reason: string;
  /** Attempts made from Redis. */
  attempts: number;
  queuedAtMs: number;
  failedAtMs: number | undefined;
  items: number;
  spans: number;
  bytes: number;
}

export interface ReplayResult {
  /** Jobs delivered and removed. */
  replayed: number;
  items: number;
  spans: number;
  /** Jobs left in the dead-letter queue afterwards. */
  remaining: number;
  /** The attempt that stopped the replay, if one did. */
  failure?: { jobId: string; reason: string; message: string; permanent: boolean };
}

/** What the CLI needs from an exporter with durable retry (see ExporterFactory.deadLetters). */
export interface DeadLetterAccess {
  /** `<key_prefix>:<exporter id>` and the Redis URL without password, for output. */
  readonly description: string;
  /** Connects; rejects when Redis cannot be reached. */
  open(): Promise<void>;
  count(): Promise<number>;
  /** Oldest first. */
  list(limit: number): Promise<DeadLetterEntry[]>;
  /** Sends the oldest `limit` jobs, oldest first; stops at the first failure. */
  replay(limit: number): Promise<ReplayResult>;
  /** Deletes the oldest `limit` jobs without sending them; returns how many. */
  purge(limit: number): Promise<number>;
  close(): Promise<void>;
}

const CONNECT_WAIT_MS = 5_000;
/** Jobs fetched from Redis at a time by replay and purge. */
const PAGE_SIZE = 100;

export class DeadLetterQueue implements DeadLetterAccess {
  readonly #config: RedisRetryConfig;
  readonly #send: SendItems;
  readonly #queueName: string;
  readonly #bytesKey: string;
  readonly #client: Redis;
  readonly #queue: Queue<RetryJobData>;
  readonly #onClose: (() => void) | undefined;
  #lastError: Error | undefined;

  /** @param onClose releases what `send` holds (the destination's client). */
  constructor(exporterId: string, config: RedisRetryConfig, send: SendItems, onClose?: () => void) {
    this.#config = config;
    this.#send = send;
    this.#onClose = onClose;
    this.#queueName = queueNameFor(exporterId);
    this.#bytesKey = bytesKeyFor(config.key_prefix, this.#queueName);
    this.#client = connectRedis(config.url, 'commands', `skybridge-cli:${exporterId}`);
    this.#client.on('error', (error: Error) => (this.#lastError = error));
    this.#queue = new Queue<RetryJobData>(this.#queueName, { connection: this.#client, prefix: config.key_prefix });
    this.#queue.on('error', (error: Error) => (this.#lastError = error));
  }

  get description(): string {
    return `queue ${this.#config.key_prefix}:${this.#queueName} in ${redactUrl(this.#config.url)}`;
  }

  async open(): Promise<void> {
    if (!(await waitReady(this.#client, CONNECT_WAIT_MS))) {
      throw new Error(`Cannot reach Redis at ${redactUrl(this.#config.url)}${this.#lastError ? `: ${this.#lastError.message}` : ''}.`);
    }
  }

  async count(): Promise<number> {
    return (await this.#queue.getJobCounts('failed')).failed ?? 0;
  }

  async list(limit: number): Promise<DeadLetterEntry[]> {
    const jobs = await this.#oldest(limit);
    return jobs.map((job) => ({
      id: String(job.id),
      reason: job.failedReason ?? '',
      attempts: job.attemptsMade,
      queuedAtMs: job.data?.queuedAtMs ?? job.timestamp,
      failedAtMs: job.finishedOn,
      items: job.data?.items ?? 0,
      spans: job.data?.spans ?? 0,
      bytes: job.data?.bytes ?? 0,
    }));
  }

  async replay(limit: number): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: 0, items: 0, spans: 0, remaining: 0 };
    for await (const job of this.#pages(limit)) {
      const data = job.data;
      let items: Buffer[];
      try {
        if (data.encoding !== PAYLOAD_ENCODING) throw new Error(`unknown encoding ${String(data.encoding)}`);
        items = decodePayload(data.payload);
      } catch (error) {
        result.failure = { jobId: String(job.id), reason: 'corrupt_payload', message: (error as Error).message, permanent: true };
        break;
      }
      const outcome = await this.#send(items);
      if (!outcome.ok) {
        result.failure = { jobId: String(job.id), reason: outcome.reason, message: outcome.message, permanent: outcome.permanent };
        break;
      }
      await job.remove();
      await this.#client.decrby(this.#bytesKey, data.bytes);
      result.replayed += 1;
      result.items += data.items;
      result.spans += data.spans;
    }
    result.remaining = await this.count();
    return result;
  }

  async purge(limit: number): Promise<number> {
    let purged = 0;
    for await (const job of this.#pages(limit)) {
      await job.remove();
      await this.#client.decrby(this.#bytesKey, job.data?.bytes ?? 0);
      purged += 1;
    }
    return purged;
  }

  async close(): Promise<void> {
    this.#onClose?.();
    await this.#queue.close().catch(() => undefined);
    await closeRedis(this.#client);
  }

  /**
   * The oldest `limit` jobs, a page at a time, so a large queue is never loaded at once. The
   * caller removes each job it was given (or stops): the next page starts at the oldest left.
   */
  async *#pages(limit: number): AsyncGenerator<Job<RetryJobData>> {
    let given = 0;
    const seen = new Set<string>();
    while (given < limit) {
      const page = (await this.#oldest(Math.min(PAGE_SIZE, limit - given))).filter((job) => !seen.has(String(job.id)));
      // Nothing new: the jobs given before are still there (not removed), so stop rather than loop.
      if (page.length === 0) return;
      for (const job of page) {
        seen.add(String(job.id));
        yield job;
        given += 1;
      }
    }
  }

  async #oldest(limit: number): Promise<Job<RetryJobData>[]> {
    if (limit <= 0) return [];
    const jobs = await this.#queue.getJobs(['failed'], 0, limit - 1, true);
    return jobs.filter((job): job is Job<RetryJobData> => job !== undefined && job !== null);
  }
}
