/**
 * Sends encoded segments to the OAP over `TraceSegmentReportService/collect`, one client stream per
 * batch, as SkyWalking Satellite does: write every segment, end the stream, wait for the OAP's
 * `Commands` answer. The answer is the ack: the OAP sends it only after it took every message of the
 * stream (skywalking-model.md §1.1), so a batch counts as delivered only then.
 *
 * A batch that failed with a transient status is retried:
 * - without durable retry, it goes back to the front of the in-memory queue and is resent after a
 *   backoff, until shutdown;
 * - with durable retry (a `redis` block), it is written to the Redis queue, whose worker retries it
 *   (core/queue/durable-retry/). While the OAP is known to be down (the last attempt failed and
 *   nothing got through since), later batches go to Redis without a direct attempt; the worker's
 *   attempts are the probes, and the first success sends the backlog at once.
 * Either way the OAP may already have analysed part of a failed batch, so an outage can duplicate
 * up to `maxBatch` segments (at-least-once), never lose them.
 */
import { type Client, type ServiceError } from '@grpc/grpc-js';
import type { ComponentSettings } from '../../core/component.ts';
import { ExportFailedError, UnavailableError } from '../../core/errors.ts';
import type { RedisRetryConfig } from '../../core/queue/durable-retry/config.ts';
import { DurableRetryQueue, type EnqueueResult } from '../../core/queue/durable-retry/durable-retry-queue.ts';
import type { DeliveryReceipt } from '../../core/segments/after-export-acks.ts';
import type { AssembledSegment } from '../../core/segments/segment-object.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import type { DropReason } from '../../core/telemetry/metrics.ts';
import { encodeSegment, type Command } from './codec.ts';
import { collectSender, openCollectStream, PERMANENT_STATUSES, statusName, type CollectCall, type CollectOutcome } from './collect-stream.ts';

const QUEUE_LABEL = 'sending_queue';
/**
 * After the shutdown deadline, how long segments still in memory may take to be written to Redis
 * (a handful of round trips). The CLI allows 2 s past the deadline before it exits.
 */
const HANDOFF_GRACE_MS = 1_000;

/** What the sender needs from SkyWalkingConfig, in milliseconds and counts. */
export interface SegmentSenderOptions {
  /** Sent as `Authentication` metadata when not empty. */
  token: string;
  /** Deadline of one batch stream. */
  timeoutMs: number;
  /** Most segments written on one stream. */
  maxBatch: number;
  /** Segments held (queued plus in flight) before `hasCapacity()` turns false. */
  queueSize: number;
  /** Exponential backoff with full jitter between retries of a failed batch. */
  retry: { initialIntervalMs: number; maxIntervalMs: number };
  /** Durable retry on Redis; in-memory retry only when absent. */
  redis?: RedisRetryConfig | undefined;
}

interface QueuedSegment {
  bytes: Buffer;
  spans: number;
  receivedAtMs: number;
  /** Present with `ack: after_export`: settles the acknowledgement of the spans inside. */
  receipt: DeliveryReceipt | undefined;
}

/** Metric children bound once, so the hot path skips label hashing. */
function bindMetrics(settings: ComponentSettings, queueSize: number) {
  const component = settings.id;
  const m = settings.metrics;
  m.queueCapacity.set({ component, queue: QUEUE_LABEL }, queueSize);
  return {
    sentSegments: m.exporterSentSegments.labels({ component }),
    sentSpans: m.exporterSentSpans.labels({ component }),
    latency: m.exportLatency.labels({ component }),
    queueSize: m.queueSize.labels({ component, queue: QUEUE_LABEL }),
  };
}

function sumSpans(items: readonly QueuedSegment[]): number {
  let spans = 0;
  for (const item of items) spans += item.spans;
  return spans;
}

/**
 * The transport half of the skywalking exporter: a bounded queue of encoded segments, one send
 * loop, and optionally the durable retry queue. Lifecycle: `enqueue` may be called any time;
 * `start` begins sending; `shutdown` drains until the queue is empty or the deadline aborts. The
 * caller owns the gRPC client and closes it after `shutdown` resolved.
 */
export class SegmentSender {
  readonly #settings: ComponentSettings;
  readonly #client: Client;
  readonly #options: SegmentSenderOptions;
  readonly #metrics: ReturnType<typeof bindMetrics>;
  readonly #durable: DurableRetryQueue | undefined;

  #queue: QueuedSegment[] = [];
  /** Segments of the batch on the wire; they still count against the queue's capacity. */
  #inFlight = 0;
  #loop: Promise<void> | undefined;
  /** Resolves the loop's wait for work. */
  #wake: (() => void) | undefined;
  /** Ends the current backoff sleep early. */
  #cutSleep: (() => void) | undefined;
  #call: CollectCall | undefined;
  /**
   * Consecutive transient failures (direct or from Redis) with no success since: drives the backoff,
   * the "reachable again" log line and, with durable retry, sending batches straight to Redis.
   */
  #failures = 0;
  /** Shutdown began: drain what is held, then stop. */
  #draining = false;
  /** The shutdown deadline passed: abandon the call in flight and stop. */
  #abandoned = false;
  /** Shutdown finished: anything delivered now can no longer be sent. */
  #closed = false;
  #shutdown: Promise<void> | undefined;
  readonly #dropLog = new BurstLog();
  readonly #rejectLog = new BurstLog();
  readonly #invalidLog = new BurstLog();

  constructor(settings: ComponentSettings, client: Client, options: SegmentSenderOptions) {
    this.#settings = settings;
    this.#client = client;
    this.#options = options;
    this.#metrics = bindMetrics(settings, options.queueSize);
    this.#metrics.queueSize.set(0);
    if (options.redis !== undefined) {
      this.#durable = new DurableRetryQueue(
        settings,
        { exporterId: settings.id, config: options.redis, backoff: options.retry },
        collectSender(client, { token: options.token, timeoutMs: options.timeoutMs }),
        {
          onDelivered: (job) => this.#onDurableDelivered(job),
          onAttemptFailed: () => {
            this.#failures = Math.max(this.#failures, 1);
          },
        },
      );
    }
  }

  /** Segments held in memory: queued plus in flight. */
  get held(): number {
    return this.#queue.length + this.#inFlight;
  }

  /** The durable retry queue, when a `redis` block configured one. */
  get durable(): DurableRetryQueue | undefined {
    return this.#durable;
  }

  /**
   * False once `queueSize` segments are held, or while the OAP is down and the durable queue is
   * full; the exporter then refuses new spans (retryable).
   */
  hasCapacity(): boolean {
    if (this.held >= this.#options.queueSize) return false;
    return !(this.#durable !== undefined && this.#failures > 0 && !this.#durable.hasCapacity());
  }

  /**
   * Encode and queue segments; takes ownership and never throws. Spans already assembled cannot be
   * handed back, so a delivery that finds the queue full is still taken up to twice its capacity;
   * beyond that, and for segments that fail to encode, the spans are counted as drops. Segments
   * with a receipt (`ack: after_export`) are never dropped for space: their senders have not been
   * answered, and the queue stays bounded by `queueSize` plus what the trace buffer held.
   */
  enqueue(segments: readonly AssembledSegment[], receipt?: DeliveryReceipt): void {
    const limit = receipt === undefined ? this.#options.queueSize * 2 : Number.POSITIVE_INFINITY;
    let dropped = 0;
    let invalid = 0;
    for (const { segment, receivedAtMs } of segments) {
      const spans = segment.spans.length;
      if (this.#closed) {
        this.#drop('shutdown_timeout', spans);
        receipt?.lost(new UnavailableError(`Exporter ${this.#settings.id} is shut down.`));
        continue;
      }
      if (this.held >= limit) {
        dropped += spans;
        continue;
      }
      let bytes: Buffer;
      try {
        bytes = encodeSegment(segment);
      } catch (error) {
        invalid += spans;
        receipt?.lost(new ExportFailedError(`A segment could not be encoded: ${(error as Error).message}`, error));
        // A bug in segment building, not in the input: worth a warning, once per burst.
        if (this.#invalidLog.take(spans) !== undefined) {
          this.#settings.logger.warn({ error, traceSegmentId: segment.traceSegmentId }, 'A segment could not be encoded; it is dropped.');
        }
        continue;
      }
      this.#queue.push({ bytes, spans, receivedAtMs, receipt });
    }
    if (dropped > 0) this.#drop('queue_full', dropped);
    if (invalid > 0) this.#drop('invalid_input', invalid);
    this.#metrics.queueSize.set(this.held);
    this.#wake?.();
  }

  /** Connect the durable queue (if any; waits up to 5 s for Redis) and begin sending. Idempotent. */
  async start(): Promise<void> {
    await this.#durable?.start();
    this.#loop ??= this.#run();
  }

  /**
   * Stop and drain: keep sending (with retries, or into Redis) until nothing is held or `deadline`
   * aborts; then cancel the batch in flight, hand what is still held to Redis when there is a
   * durable queue, and count the rest as `shutdown_timeout` drops. Idempotent; safe without
   * `start`. Does not close the gRPC client.
   */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= this.#drainAndStop(deadline));
  }

  async #drainAndStop(deadline: AbortSignal): Promise<void> {
    this.#draining = true;
    const abandon = (): void => {
      this.#abandoned = true;
      this.#call?.cancel();
      this.#cutSleep?.();
      this.#wake?.();
    };
    if (deadline.aborted) abandon();
    else deadline.addEventListener('abort', abandon, { once: true });
    // Retry at once rather than sit out a long backoff: the OAP may be back, and the deadline is
    // short. With a durable queue and the OAP down, batches keep going to Redis instead.
    if (this.#durable === undefined) this.#failures = 0;
    this.#cutSleep?.();
    this.#wake?.();
    if (this.held > 0) this.#loop ??= this.#run();
    await this.#loop;
    deadline.removeEventListener('abort', abandon);
    if (this.#queue.length > 0 && this.#durable !== undefined) await this.#handOff();
    this.#closed = true;
    const left = this.#queue;
    this.#queue = [];
    this.#metrics.queueSize.set(0);
    if (left.length > 0) {
      const spans = sumSpans(left);
      this.#settings.metrics.recordDrop(this.#settings.id, 'shutdown_timeout', spans);
      const error = new UnavailableError(`Exporter ${this.#settings.id} shut down before these spans reached the OAP.`);
      for (const item of left) item.receipt?.lost(error);
      this.#settings.logger.warn({ segments: left.length, spans }, 'Shutdown deadline reached before every segment reached the OAP; the rest are dropped.');
    }
    await this.#durable?.shutdown(deadline);
  }

  /** At the deadline: write what is still held to Redis, batch by batch, within HANDOFF_GRACE_MS. */
  async #handOff(): Promise<void> {
    const until = Date.now() + HANDOFF_GRACE_MS;
    let handed = 0;
    while (this.#queue.length > 0 && Date.now() < until) {
      const batch = this.#queue.slice(0, this.#options.maxBatch);
      if ((await this.#persist(batch)) !== 'queued') break;
      this.#queue.splice(0, batch.length);
      handed += batch.length;
    }
    if (handed > 0) this.#settings.logger.info({ segments: handed, queue: this.#durable?.name }, 'Handed segments still held at the shutdown deadline to the durable retry queue.');
  }

  async #run(): Promise<void> {
    for (;;) {
      if (this.#abandoned) return;
      if (this.#queue.length === 0) {
        if (this.#draining) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      this.#inFlight = batch.length;
      const requeue = await this.#dispatch(batch);
      this.#inFlight = 0;
      // Back to the front, so segments still leave in the order they were assembled.
      if (requeue) this.#queue = batch.concat(this.#queue);
      this.#metrics.queueSize.set(this.held);
      if (requeue && !this.#abandoned) await this.#sleep(this.#backoffMs());
    }
  }

  /** Sends one batch, or hands it to Redis; returns true when it must go back to the queue. */
  async #dispatch(batch: QueuedSegment[]): Promise<boolean> {
    const durable = this.#durable;
    // The OAP is down: straight to Redis. If Redis cannot take it, a direct attempt is the probe.
    if (durable !== undefined && this.#failures > 0 && (await this.#persist(batch, { delayMs: this.#backoffMs() })) === 'queued') return false;
    const outcome = await this.#send(batch);
    if (outcome.ok) {
      this.#onDelivered(batch, outcome.commands);
      return false;
    }
    if (PERMANENT_STATUSES.has(outcome.code)) {
      this.#countFailed(batch, outcome.error);
      if (durable !== undefined) {
        const deadLetter = `${statusName(outcome.code)}: ${outcome.error.details ?? outcome.error.message}`;
        if ((await this.#persist(batch, { deadLetter })) === 'queued') {
          this.#logRejected(batch, outcome.error, 'The OAP rejected segments; they are in the dead-letter queue. Check the token (SW_AUTHENTICATION) and the endpoint, then run `skybridge dlq replay`.');
          return false;
        }
      }
      this.#onRejected(batch, outcome.error);
      return false;
    }
    // Cut off by the shutdown deadline: not the OAP's fault; the hand-off takes it.
    if (this.#abandoned) return true;
    this.#onTransientFailure(batch, outcome.error);
    if (durable !== undefined && (await this.#persist(batch, { delayMs: this.#backoffMs() })) === 'queued') return false;
    return true;
  }

  /** Writes the batch to the durable queue; on success its receipts are settled (durably held). */
  async #persist(batch: readonly QueuedSegment[], opts: { delayMs?: number; deadLetter?: string } = {}): Promise<EnqueueResult> {
    const durable = this.#durable;
    if (durable === undefined) return 'unavailable';
    let first = Number.POSITIVE_INFINITY;
    for (const item of batch) first = Math.min(first, item.receivedAtMs);
    const result = await durable.enqueue({ items: batch.map((item) => item.bytes), spans: sumSpans(batch), firstReceivedAtMs: first }, opts);
    if (result === 'queued') for (const item of batch) item.receipt?.done();
    return result;
  }

  #send(batch: readonly QueuedSegment[]): Promise<CollectOutcome> {
    const call = openCollectStream(this.#client, batch.map((item) => item.bytes), { token: this.#options.token, timeoutMs: this.#options.timeoutMs });
    this.#call = call;
    return call.result.finally(() => {
      if (this.#call === call) this.#call = undefined;
    });
  }

  #onDelivered(batch: readonly QueuedSegment[], commands: readonly Command[]): void {
    const now = Date.now();
    for (const item of batch) {
      this.#metrics.latency.observe((now - item.receivedAtMs) / 1000);
      item.receipt?.done();
    }
    this.#metrics.sentSegments.inc(batch.length);
    this.#metrics.sentSpans.inc(sumSpans(batch));
    this.#reachable();
    this.#durable?.destinationRecovered();
    if (commands.length > 0) {
      // Commands (profiling tasks, agent configuration) address language agents; nothing here acts on them.
      this.#settings.logger.debug({ commands: commands.map((c) => c.command) }, 'The OAP answered with commands; they are ignored.');
    }
  }

  #onDurableDelivered(job: { items: number; spans: number; firstReceivedAtMs: number }): void {
    const seconds = (Date.now() - job.firstReceivedAtMs) / 1000;
    for (let i = 0; i < job.items; i++) this.#metrics.latency.observe(seconds);
    this.#metrics.sentSegments.inc(job.items);
    this.#metrics.sentSpans.inc(job.spans);
    this.#reachable();
  }

  #reachable(): void {
    if (this.#failures === 0) return;
    this.#settings.logger.info({ failedAttempts: this.#failures }, 'Segments are reaching the OAP again.');
    this.#failures = 0;
  }

  #countFailed(batch: readonly QueuedSegment[], error: ServiceError): void {
    this.#settings.metrics.exporterSendFailedSegments.inc({ component: this.#settings.id, reason: statusName(error.code) }, batch.length);
  }

  #onRejected(batch: readonly QueuedSegment[], error: ServiceError): void {
    const spans = sumSpans(batch);
    this.#settings.metrics.recordDrop(this.#settings.id, 'export_rejected', spans);
    const failure = new ExportFailedError(`The OAP rejected the segments: ${statusName(error.code)} ${error.details ?? ''}`.trim(), error);
    for (const item of batch) item.receipt?.lost(failure);
    this.#logRejected(batch, error, 'The OAP rejected segments; they are dropped. Check the token (SW_AUTHENTICATION) and the endpoint.');
    // A rejection is an answer, not an outage: the next batch goes out without waiting.
    this.#failures = 0;
  }

  #logRejected(batch: readonly QueuedSegment[], error: ServiceError, message: string): void {
    const total = this.#rejectLog.take(sumSpans(batch));
    if (total !== undefined) this.#settings.logger.warn({ status: statusName(error.code), details: error.details, spans: total }, message);
  }

  #onTransientFailure(batch: readonly QueuedSegment[], error: ServiceError): void {
    this.#countFailed(batch, error);
    this.#failures += 1;
    const fields = { status: statusName(error.code), details: error.details, held: this.held, attempt: this.#failures, durable: this.#durable !== undefined };
    if (this.#failures === 1) {
      this.#settings.logger.warn(fields, this.#durable ? 'Sending segments to the OAP failed; they go to the durable retry queue.' : 'Sending segments to the OAP failed; retrying with backoff.');
    } else this.#settings.logger.debug(fields, 'Sending segments to the OAP failed again.');
  }

  /** Full jitter: uniform in [0, min(max, initial * 2^(failures-1))] (AWS "Exponential Backoff And Jitter"). */
  #backoffMs(): number {
    const { initialIntervalMs, maxIntervalMs } = this.#options.retry;
    const ceiling = Math.min(maxIntervalMs, initialIntervalMs * 2 ** Math.min(Math.max(this.#failures, 1) - 1, 30));
    return Math.random() * ceiling;
  }

  /**
   * A sleep that shutdown can cut short. While running it never keeps the process alive on its own;
   * while draining it does, so a process waiting on its shutdown deadline (often an unref'd
   * AbortSignal.timeout) is not left with an empty event loop and segments silently unsent.
   */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#cutSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (!this.#draining) timer.unref();
      this.#cutSleep = done;
    });
  }

  #drop(reason: DropReason, spans: number): void {
    if (spans <= 0) return;
    this.#settings.metrics.recordDrop(this.#settings.id, reason, spans);
    if (reason !== 'queue_full') return;
    const total = this.#dropLog.take(spans);
    if (total !== undefined) {
      this.#settings.logger.warn(
        { spans: total, queueSize: this.#options.queueSize },
        'The sending queue is full; spans are dropped. The OAP is slow or unreachable, or sending_queue.queue_size is too small.',
      );
    }
  }
}
