/**
 * Durable retry for exporters that send batches of encoded items (SkyWalking segments): a batch
 * whose send failed is written to a BullMQ queue on Redis and retried from there, with exponential
 * backoff and full jitter, by a BullMQ worker in this process (or in any replica sharing the queue).
 * A batch that is refused permanently, or still failing after `max_attempts` or `max_age`, stays in
 * the queue's failed set: that set is the dead-letter queue (`skybridge dlq list|replay|purge`).
 *
 * The destination is not known here: the exporter hands in `send`, which sends items and says
 * whether a failure is permanent. Ack point: `enqueue` resolves `'queued'` once Redis holds the job.
 *
 * Bounds: `max_jobs` and `max_queue_bytes` cover pending and dead-lettered jobs together. Bytes are
 * kept in a Redis counter next to the queue (so replicas and the CLI see one figure): raised before
 * a job is added, lowered when a job is delivered or purged. A crash between the two steps can leave
 * it too high (never too low, except in the rare case of a job added after a timeout was reported);
 * it is reset whenever the queue is found empty.
 */
import { backoffDelayMs } from '../../retry/backoff.ts';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ComponentSettings } from '../../component.ts';
import { BurstLog } from '../../telemetry/burst-log.ts';
import type { RedisRetryConfig } from './config.ts';
import { decodePayload, encodePayload, PAYLOAD_ENCODING } from './payload-codec.ts';
import { bytesKeyFor, closeRedis, connectRedis, JOB_NAME, queueNameFor, redactUrl, waitReady, withTimeout } from './redis-connection.ts';

/** One batch as the exporter hands it over. */
export interface RetryBatch {
  /** Encoded items, sent together (for segment exporters: SegmentObject bytes). */
  items: readonly Buffer[];
  /** Spans inside the items, for metrics and the CLI. */
  spans: number;
  /** When the earliest span of the batch reached skybridge (ms since epoch). */
  firstReceivedAtMs: number;
}

/** What a send attempt came to. `reason` is a short closed word (a gRPC status name), `message` the detail. */
export type SendOutcome = { ok: true } | { ok: false; permanent: boolean; reason: string; message: string };

/** Sends items to the destination. Must settle (apply its own deadline) and never reject. */
export type SendItems = (items: readonly Buffer[]) => Promise<SendOutcome>;

/** `queued`: Redis holds the job. `full`: a bound is reached. `unavailable`: Redis cannot be reached. */
export type EnqueueResult = 'queued' | 'full' | 'unavailable';

/** The job's data, as stored (JSON) in Redis. */
export interface RetryJobData {
  encoding: typeof PAYLOAD_ENCODING;
  payload: string;
  items: number;
  spans: number;
  /** `payload.length`: what the job counts against max_queue_bytes. */
  bytes: number;
  firstReceivedAtMs: number;
  /** When the job entered Redis; max_age counts from here. */
  queuedAtMs: number;
  /** Set for a batch the destination refused permanently on its first attempt: straight to the dead-letter queue. */
  deadLetter?: string;
}

export interface DurableRetryOptions {
  /** The owning exporter's id; the queue is named after it. */
  exporterId: string;
  config: RedisRetryConfig;
  /** Backoff between attempts of one job: full jitter in [0, min(max, initial × 2^(n−1))]. */
  backoff: { initialIntervalMs: number; maxIntervalMs: number };
  /** How long `start` waits for Redis before going on without it; 5 s by default. */
  connectWaitMs?: number;
}

export interface DurableRetryHooks {
  /** The worker delivered a job. */
  onDelivered?(job: { items: number; spans: number; firstReceivedAtMs: number; attempts: number }): void;
  /** An attempt of the worker failed with a transient error (the destination is still down). */
  onAttemptFailed?(reason: string): void;
}

/** Why a job went to the dead-letter queue (the `reason` label of skybridge_dead_lettered_spans_total). */
export type DeadLetterReason = 'permanent_error' | 'max_attempts' | 'max_age' | 'corrupt_payload';

const BACKOFF_TYPE = 'skybridge-full-jitter';
/** How long start() waits for Redis before going on without it (it keeps reconnecting). */
const CONNECT_WAIT_MS = 5_000;
/** Bound on one Redis round trip made for the sender (add, counters). */
const COMMAND_TIMEOUT_MS = 2_000;
/** How often the job and byte counts are read back from Redis. */
const REFRESH_INTERVAL_MS = 1_000;
/**
 * A job's lock, renewed by BullMQ every half of it while a send runs. After a crash, another worker
 * (or the restarted one) takes the job back once the lock expired and the stalled check ran.
 */
const LOCK_DURATION_MS = 10_000;
const STALLED_INTERVAL_MS = 5_000;
/** A job whose worker died this many times goes to the dead-letter queue (BullMQ's stall limit). */
const MAX_STALLED = 5;
/** Promoting every delayed job at once when the destination answers again, at most this often. */
const PROMOTE_INTERVAL_MS = 1_000;

/** The shared full-jitter backoff (core/retry/backoff.ts), as BullMQ's backoff strategy. */
export function fullJitterMs(attempt: number, backoff: DurableRetryOptions['backoff']): number {
  return backoffDelayMs(backoff, attempt);
}

function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  return `${bytes}B`;
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

export class DurableRetryQueue {
  readonly #settings: ComponentSettings;
  readonly #options: DurableRetryOptions;
  readonly #send: SendItems;
  readonly #hooks: DurableRetryHooks;
  readonly #queueName: string;
  readonly #bytesKey: string;
  readonly #client: Redis;
  readonly #workerClient: Redis;
  readonly #queue: Queue<RetryJobData>;
  #worker: Worker<RetryJobData> | undefined;
  #running: Promise<void> | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #shutdown: Promise<void> | undefined;

  /** Counts as last read from Redis, adjusted by this process's own adds since. */
  #pendingJobs = 0;
  #deadJobs = 0;
  #bytes = 0;
  /** The last worker attempt failed: the next success promotes every delayed job. */
  #destinationDown = false;
  #lastPromoteMs = 0;
  readonly #redisLog = new BurstLog();
  readonly #fullLog = new BurstLog();
  readonly #deadLog = new BurstLog();

  constructor(settings: ComponentSettings, options: DurableRetryOptions, send: SendItems, hooks: DurableRetryHooks = {}) {
    this.#settings = settings;
    this.#options = options;
    this.#send = send;
    this.#hooks = hooks;
    this.#queueName = queueNameFor(options.exporterId);
    this.#bytesKey = bytesKeyFor(options.config.key_prefix, this.#queueName);
    this.#client = connectRedis(options.config.url, 'commands', `skybridge:${options.exporterId}`);
    this.#workerClient = connectRedis(options.config.url, 'worker', `skybridge:${options.exporterId}:worker`);
    for (const redis of [this.#client, this.#workerClient]) redis.on('error', (error: Error) => this.#redisError(error));
    this.#queue = new Queue<RetryJobData>(this.#queueName, {
      connection: this.#client,
      prefix: options.config.key_prefix,
      // BullMQ's event stream is for dashboards; skybridge reads none of it, so keep it short.
      streams: { events: { maxLen: 100 } },
    });
    this.#queue.on('error', (error: Error) => this.#redisError(error));
    const m = settings.metrics;
    const component = settings.id;
    m.queueCapacity.set({ component, queue: 'durable_retry_jobs' }, options.config.max_jobs);
    m.queueCapacity.set({ component, queue: 'durable_retry_bytes' }, options.config.max_queue_bytes);
  }

  /** `<key_prefix>:<exporter id>`, as BullMQ names the queue's keys. */
  get name(): string {
    return `${this.#options.config.key_prefix}:${this.#queueName}`;
  }

  /** One line for start-up output. */
  describe(): string {
    const c = this.#options.config;
    return `durable retry in Redis ${redactUrl(c.url)}, queue ${this.name} (max ${c.max_jobs} jobs, ${formatBytes(c.max_queue_bytes)}; dead letters after ${c.max_attempts} attempts or ${formatDuration(c.max_age)})`;
  }

  /** Jobs waiting for an attempt (including delayed and active ones). */
  get pendingJobs(): number {
    return this.#pendingJobs;
  }

  /** Jobs in the dead-letter queue. */
  get deadLetterJobs(): number {
    return this.#deadJobs;
  }

  /** False once max_jobs or max_queue_bytes is reached (pending and dead-lettered together). */
  hasCapacity(): boolean {
    const { max_jobs, max_queue_bytes } = this.#options.config;
    return this.#pendingJobs + this.#deadJobs < max_jobs && this.#bytes < max_queue_bytes;
  }

  /**
   * Connect (waiting up to 5 s; without Redis it goes on and keeps reconnecting), read the counts,
   * and start the worker, which resumes whatever an earlier run left pending.
   */
  async start(): Promise<void> {
    if (this.#running || this.#closed) return;
    const ready = await waitReady(this.#client, this.#options.connectWaitMs ?? CONNECT_WAIT_MS);
    if (!ready) {
      this.#settings.logger.warn(
        { redis: redactUrl(this.#options.config.url) },
        'Redis is not reachable; failed batches stay in memory until it is (reconnecting in the background).',
      );
    }
    const { concurrency, key_prefix } = this.#options.config;
    this.#worker = new Worker<RetryJobData>(this.#queueName, (job) => this.#process(job), {
      connection: this.#workerClient,
      prefix: key_prefix,
      autorun: false,
      concurrency,
      lockDuration: LOCK_DURATION_MS,
      stalledInterval: STALLED_INTERVAL_MS,
      maxStalledCount: MAX_STALLED,
      settings: { backoffStrategy: (attemptsMade: number) => fullJitterMs(attemptsMade, this.#options.backoff) },
    });
    this.#worker.on('error', (error: Error) => this.#redisError(error));
    this.#worker.on('completed', (job: Job<RetryJobData>) => this.#onCompleted(job));
    this.#running = this.#worker.run().catch((error: unknown) => this.#redisError(error as Error));
    if (ready) {
      await this.#refresh();
      if (this.#pendingJobs > 0 || this.#deadJobs > 0) {
        this.#settings.logger.info(
          { queue: this.name, pendingJobs: this.#pendingJobs, deadLetterJobs: this.#deadJobs, bytes: this.#bytes },
          'Resuming retry jobs left in Redis by an earlier run.',
        );
      }
    }
    this.#refreshTimer = setInterval(() => void this.#refresh(), REFRESH_INTERVAL_MS);
    this.#refreshTimer.unref();
  }

  /**
   * Write a batch to Redis. With `deadLetter` it goes straight to the dead-letter queue (the
   * destination refused it permanently); otherwise its first attempt from Redis waits `delayMs`.
   * Never rejects; resolves `queued` only once Redis holds the job.
   */
  async enqueue(batch: RetryBatch, opts: { delayMs?: number; deadLetter?: string } = {}): Promise<EnqueueResult> {
    if (this.#closed || this.#client.status !== 'ready') return 'unavailable';
    const payload = encodePayload(batch.items);
    const bytes = payload.length;
    const { max_jobs, max_queue_bytes, max_attempts } = this.#options.config;
    const jobs = this.#pendingJobs + this.#deadJobs;
    // An empty queue takes one job of any size, so a batch larger than the bound cannot wedge it.
    if (jobs > 0 && (jobs + 1 > max_jobs || this.#bytes + bytes > max_queue_bytes)) {
      this.#event('refused_full');
      const total = this.#fullLog.take(1);
      if (total !== undefined) {
        this.#settings.logger.warn(
          { queue: this.name, jobs, bytes: this.#bytes, maxJobs: max_jobs, maxQueueBytes: max_queue_bytes, refusedBatches: total },
          'The durable retry queue is full; batches stay in memory and new spans are refused (retryable) until it drains. Replay or purge the dead-letter queue if it holds the space.',
        );
      }
      return 'full';
    }
    const data: RetryJobData = {
      encoding: PAYLOAD_ENCODING,
      payload,
      items: batch.items.length,
      spans: batch.spans,
      bytes,
      firstReceivedAtMs: batch.firstReceivedAtMs,
      queuedAtMs: Date.now(),
      ...(opts.deadLetter === undefined ? {} : { deadLetter: opts.deadLetter }),
    };
    this.#pendingJobs += 1;
    this.#bytes += bytes;
    let counted = false;
    try {
      // Count first: a crash between the two steps overstates the queue, never understates it.
      await withTimeout(this.#client.incrby(this.#bytesKey, bytes), COMMAND_TIMEOUT_MS, 'INCRBY');
      counted = true;
      await withTimeout(
        this.#queue.add(JOB_NAME, data, {
          delay: opts.deadLetter === undefined ? Math.max(0, Math.round(opts.delayMs ?? 0)) : 0,
          attempts: opts.deadLetter === undefined ? max_attempts : 1,
          backoff: { type: BACKOFF_TYPE },
          removeOnComplete: true,
          removeOnFail: false,
        }),
        COMMAND_TIMEOUT_MS,
        'a job add',
      );
    } catch (error) {
      this.#pendingJobs -= 1;
      this.#bytes -= bytes;
      if (counted) void this.#client.decrby(this.#bytesKey, bytes).catch(() => undefined);
      this.#redisError(error as Error);
      this.#event('unavailable');
      return 'unavailable';
    }
    this.#event('queued');
    if (opts.deadLetter !== undefined) this.#deadLettered('permanent_error', batch.spans);
    return 'queued';
  }

  /**
   * The destination answered again (the exporter's own send got through): attempt every delayed
   * job now instead of at the end of its backoff.
   */
  destinationRecovered(): void {
    if (this.#closed || this.#pendingJobs === 0) return;
    const now = Date.now();
    if (now - this.#lastPromoteMs < PROMOTE_INTERVAL_MS) return;
    this.#lastPromoteMs = now;
    void withTimeout(this.#queue.promoteJobs({ count: 1_000_000 }), COMMAND_TIMEOUT_MS, 'a promote').catch((error: Error) => this.#redisError(error));
  }

  /**
   * Stop taking jobs: the jobs being sent finish (until `deadline`, then they are abandoned and,
   * their lock expired, picked up again by the next run), and the connections close. Everything in
   * Redis stays for the next run. Idempotent.
   */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= this.#stop(deadline));
  }

  async #stop(deadline: AbortSignal): Promise<void> {
    this.#closed = true;
    if (this.#refreshTimer) clearInterval(this.#refreshTimer);
    const worker = this.#worker;
    if (worker) {
      const aborted = new Promise<void>((resolve) => {
        if (deadline.aborted) resolve();
        else deadline.addEventListener('abort', () => resolve(), { once: true });
      });
      // Without Redis there is no job to finish, and a polite close would wait for a reconnect.
      if (this.#workerClient.status === 'ready') await Promise.race([worker.close().catch(() => undefined), aborted]);
      if (deadline.aborted || this.#workerClient.status !== 'ready') await withTimeout(worker.close(true), 1_000, 'a worker close').catch(() => undefined);
    }
    await withTimeout(this.#queue.close(), 1_000, 'a queue close').catch(() => undefined);
    await Promise.all([closeRedis(this.#client), closeRedis(this.#workerClient)]);
    // A worker that never reached Redis may not notice it was closed: don't wait on it for long.
    if (this.#running) await withTimeout(this.#running, 1_000, 'the worker loop').catch(() => undefined);
  }

  async #process(job: Job<RetryJobData>): Promise<void> {
    const data = job.data;
    if (data.deadLetter !== undefined) throw new UnrecoverableError(data.deadLetter);
    const ageMs = Date.now() - data.queuedAtMs;
    if (ageMs > this.#options.config.max_age) {
      this.#deadLettered('max_age', data.spans);
      throw new UnrecoverableError(`max_age: in the retry queue for ${Math.round(ageMs / 1000)} s after ${job.attemptsMade} attempts.`);
    }
    let items: Buffer[];
    try {
      if (data.encoding !== PAYLOAD_ENCODING) throw new Error(`unknown encoding ${String(data.encoding)}`);
      items = decodePayload(data.payload);
    } catch (error) {
      this.#deadLettered('corrupt_payload', data.spans);
      throw new UnrecoverableError(`corrupt_payload: ${(error as Error).message}`);
    }
    const outcome = await this.#send(items);
    if (outcome.ok) {
      this.#event('delivered');
      this.#hooks.onDelivered?.({ items: data.items, spans: data.spans, firstReceivedAtMs: data.firstReceivedAtMs, attempts: job.attemptsMade + 1 });
      if (this.#destinationDown) {
        this.#destinationDown = false;
        this.destinationRecovered();
      }
      return;
    }
    if (outcome.permanent) {
      this.#deadLettered('permanent_error', data.spans);
      throw new UnrecoverableError(`${outcome.reason}: ${outcome.message}`);
    }
    this.#destinationDown = true;
    this.#event('retried');
    this.#hooks.onAttemptFailed?.(outcome.reason);
    if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
      this.#deadLettered('max_attempts', data.spans);
      throw new UnrecoverableError(`max_attempts: ${job.attemptsMade + 1} attempts; last ${outcome.reason}: ${outcome.message}`);
    }
    throw new Error(`${outcome.reason}: ${outcome.message}`);
  }

  #onCompleted(job: Job<RetryJobData>): void {
    const bytes = job.data?.bytes ?? 0;
    this.#pendingJobs = Math.max(0, this.#pendingJobs - 1);
    this.#bytes = Math.max(0, this.#bytes - bytes);
    void this.#client.decrby(this.#bytesKey, bytes).catch((error: Error) => this.#redisError(error));
    this.#updateGauges();
  }

  async #refresh(): Promise<void> {
    if (this.#client.status !== 'ready') return;
    try {
      const counts = await withTimeout(this.#queue.getJobCounts(), COMMAND_TIMEOUT_MS, 'job counts');
      let pending = 0;
      for (const [state, n] of Object.entries(counts)) if (state !== 'failed' && state !== 'completed') pending += n;
      const dead = counts.failed ?? 0;
      let bytes = Number((await withTimeout(this.#client.get(this.#bytesKey), COMMAND_TIMEOUT_MS, 'GET')) ?? 0);
      if (pending + dead === 0 && bytes !== 0) {
        // Nothing left: whatever the counter says is drift from a crash; start again from zero.
        await withTimeout(this.#client.set(this.#bytesKey, 0), COMMAND_TIMEOUT_MS, 'SET');
        bytes = 0;
      }
      this.#pendingJobs = pending;
      this.#deadJobs = dead;
      this.#bytes = Math.max(0, bytes);
      this.#updateGauges();
    } catch (error) {
      this.#redisError(error as Error);
    }
  }

  #updateGauges(): void {
    const m = this.#settings.metrics;
    const component = this.#settings.id;
    m.queueSize.set({ component, queue: 'durable_retry_jobs' }, this.#pendingJobs + this.#deadJobs);
    m.queueSize.set({ component, queue: 'durable_retry_bytes' }, this.#bytes);
    m.queueSize.set({ component, queue: 'dead_letter_jobs' }, this.#deadJobs);
  }

  #event(event: 'queued' | 'delivered' | 'retried' | 'dead_lettered' | 'refused_full' | 'unavailable'): void {
    this.#settings.metrics.durableRetryJobs.inc({ component: this.#settings.id, event });
    this.#updateGauges();
  }

  #deadLettered(reason: DeadLetterReason, spans: number): void {
    this.#event('dead_lettered');
    this.#settings.metrics.deadLetteredSpans.inc({ component: this.#settings.id, reason }, spans);
    const total = this.#deadLog.take(spans);
    if (total === undefined) return;
    this.#settings.logger.warn(
      { queue: this.name, reason, spans: total },
      'Batches went to the dead-letter queue. Inspect them with `skybridge dlq list`, fix the cause, then `skybridge dlq replay`.',
    );
  }

  #redisError(error: Error): void {
    const total = this.#redisLog.take(1);
    if (total !== undefined) {
      this.#settings.logger.warn({ error: error.message, redis: redactUrl(this.#options.config.url), errors: total }, 'Redis for durable retry is failing.');
    }
  }
}
