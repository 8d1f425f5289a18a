/**
 * Sends encoded segments to the OAP over `TraceSegmentReportService/collect`, one client stream per
 * batch, as SkyWalking Satellite does: write every segment, end the stream, wait for the OAP's
 * `Commands` answer. The answer is the ack: the OAP sends it only after it took every message of the
 * stream (docs/skywalking-model.md "Services and methods"), so a batch counts as delivered only
 * then. `numConsumers` send loops share one queue, each with its own stream in flight, so no
 * stream's round trip holds up the segments behind it.
 *
 * What the OAP answers decides what becomes of a batch:
 * - A status about the payload (RESOURCE_EXHAUSTED: a message above the OAP's maxMessageSize;
 *   INVALID_ARGUMENT): the batch is split in halves, each resent at once, down to the one segment
 *   at fault, which goes to the dead-letter queue (durable) or is dropped. Segments larger than
 *   `maxSegmentSize` are never sent at all. One bad segment never holds up the queue.
 * - A status about credentials or the endpoint (PERMISSION_DENIED, UNAUTHENTICATED, UNIMPLEMENTED):
 *   the whole batch goes to the dead-letter queue, or is dropped.
 * - Any other status is transient, and the batch is retried:
 *   - without durable retry, it goes back to the front of the in-memory queue, and its loop waits a
 *     backoff before resending it; the other loops wait with it, so an outage costs one attempt per
 *     backoff, not one per loop. This goes on until shutdown;
 *   - with durable retry (a `redis` block), it is written to the Redis queue, whose worker retries it
 *     (core/queue/durable-retry/). While the OAP is known to be down (the last attempt failed and
 *     nothing got through since), later batches go to Redis without a direct attempt; the worker's
 *     attempts are the probes, and the first success sends the backlog at once.
 * Either way the OAP may already have analysed part of a failed or split batch, so a failure can
 * duplicate up to `maxBatch` segments per stream in flight (at-least-once), never lose them.
 *
 * Memory: every segment held, from `enqueue` until it was answered, written to Redis or dropped, is
 * on the admission ledger (account `<id>/sending_queue`). The ledger bounds it, so `enqueue` takes
 * every segment; `hasCapacity()` is only a per-exporter refusal on top.
 */
import { status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { ledgerOf, type LedgerAccount } from '../../core/admission/admission-ledger.ts';
import type { ComponentSettings } from '../../core/component.ts';
import { ExportFailedError, UnavailableError, type SkybridgeError } from '../../core/errors.ts';
import type { RedisRetryConfig } from '../../core/queue/durable-retry/config.ts';
import { DurableRetryQueue, type EnqueueResult } from '../../core/queue/durable-retry/durable-retry-queue.ts';
import { backoffDelayMs, sleep } from '../../core/retry/backoff.ts';
import type { DeliveryReceipt } from '../../core/segments/after-export-acks.ts';
import type { AssembledSegment, SegmentObject } from '../../core/segments/segment-object.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import type { DropReason } from '../../core/telemetry/metrics.ts';
import { encodeSegment, type Command } from './codec.ts';
import {
  collectSender,
  openCollectStream,
  PAYLOAD_STATUSES,
  PERMANENT_STATUSES,
  statusName,
  type CollectCall,
  type CollectOutcome,
} from './collect-stream.ts';

const QUEUE_LABEL = 'sending_queue';
/**
 * After the shutdown deadline, how long segments still in memory may take to be written to Redis
 * (a handful of round trips). The CLI allows 2 s past the deadline before it exits.
 */
const HANDOFF_GRACE_MS = 1_000;

/** What the sender needs from SkyWalkingConfig, in milliseconds, bytes and counts. */
export interface SegmentSenderOptions {
  /** Sent as `Authentication` metadata when not empty. */
  token: string;
  /** Deadline of one batch stream. */
  timeoutMs: number;
  /** Most segments written on one stream. */
  maxBatch: number;
  /** Send loops, each with at most one stream in flight. */
  numConsumers: number;
  /** Segments held (queued plus in flight) before `hasCapacity()` turns false; never a reason to drop. */
  queueSize: number;
  /** Encoded segments larger than this are never sent: the OAP would refuse the stream carrying them. */
  maxSegmentSize: number;
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

/** Why one segment is refused for good: the drop reason when no dead-letter queue takes it. */
type SegmentFault = 'segment_too_large' | 'export_rejected';

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
 * The transport half of the skywalking exporter: a queue of encoded segments, `numConsumers` send
 * loops, and optionally the durable retry queue. Lifecycle: `enqueue` may be called any time;
 * `start` begins sending; `shutdown` drains until nothing is held or the deadline aborts. The
 * caller owns the gRPC client and closes it after `shutdown` resolved.
 */
export class SegmentSender {
  readonly #settings: ComponentSettings;
  readonly #client: Client;
  readonly #options: SegmentSenderOptions;
  readonly #metrics: ReturnType<typeof bindMetrics>;
  readonly #account: LedgerAccount;
  readonly #durable: DurableRetryQueue | undefined;

  #queue: QueuedSegment[] = [];
  /** Segments taken from the queue by a loop, or on their way to the dead-letter queue. */
  #inFlight = 0;
  #loops: Promise<void> | undefined;
  /** Loops with nothing they may take park here; enqueue, a probe getting through and shutdown wake them. */
  #parked: (() => void)[] = [];
  /** Streams on the wire, cancelled at the shutdown deadline. */
  readonly #calls = new Set<CollectCall>();
  /** Oversized segments being written to the dead-letter queue; shutdown waits for them. */
  readonly #deadLettering = new Set<Promise<void>>();
  /**
   * A loop holds a batch that failed and waits out the backoff before resending it (the probe).
   * Meanwhile the other loops take nothing, so the backoff paces the queue, not one batch.
   */
  #probing = false;
  /** Backoff sleeps end early on this: shutdown cuts the running ones, then the deadline the rest. */
  #sleepSignal: AbortSignal;
  readonly #cutBackoff = new AbortController();
  /**
   * Consecutive transient failures (direct or from Redis) with no success since: drives the backoff,
   * the "reachable again" log line and, with durable retry, sending batches straight to Redis.
   */
  #failures = 0;
  /** Shutdown began: drain what is held, then stop. */
  #draining = false;
  /** The shutdown deadline passed: abandon the calls in flight and stop. */
  #abandoned = false;
  /** Shutdown finished: anything delivered now can no longer be sent. */
  #closed = false;
  #shutdown: Promise<void> | undefined;
  readonly #rejectLog = new BurstLog();
  readonly #invalidLog = new BurstLog();
  readonly #faultLogs: Record<SegmentFault, BurstLog> = { segment_too_large: new BurstLog(), export_rejected: new BurstLog() };

  constructor(settings: ComponentSettings, client: Client, options: SegmentSenderOptions) {
    this.#settings = settings;
    this.#client = client;
    this.#options = options;
    this.#metrics = bindMetrics(settings, options.queueSize);
    this.#metrics.queueSize.set(0);
    this.#account = ledgerOf(settings).account(`${settings.id}/${QUEUE_LABEL}`);
    this.#sleepSignal = this.#cutBackoff.signal;
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

  /** Segments held in memory: queued, in flight, or being dead-lettered. */
  get held(): number {
    return this.#queue.length + this.#inFlight;
  }

  /** The durable retry queue, when a `redis` block configured one. */
  get durable(): DurableRetryQueue | undefined {
    return this.#durable;
  }

  /**
   * False once `queueSize` segments are held, or while the OAP is down and the durable queue is
   * full. The exporter registers it as a valve of the admission ledger, so receivers then refuse new
   * spans (retryable); `enqueue` still takes every segment, and the ledger bounds memory.
   */
  hasCapacity(): boolean {
    if (this.held >= this.#options.queueSize) return false;
    return !(this.#durable !== undefined && this.#failures > 0 && !this.#durable.hasCapacity());
  }

  /**
   * Encode and queue segments; takes ownership and never throws. Every segment is taken: its spans
   * were acknowledged, or will be, and admission upstream bounds what is held. Only a segment that
   * fails to encode (a bug) is dropped here; one above `maxSegmentSize` goes to the dead-letter
   * queue, or is dropped, without waiting in the queue.
   */
  enqueue(segments: readonly AssembledSegment[], receipt?: DeliveryReceipt): void {
    let invalid = 0;
    for (const { segment, receivedAtMs } of segments) {
      const spans = segment.spans.length;
      if (this.#closed) {
        this.#settings.metrics.recordDrop(this.#settings.id, 'shutdown_timeout', spans);
        receipt?.lost(new UnavailableError(`Exporter ${this.#settings.id} is shut down.`));
        continue;
      }
      const bytes = this.#encode(segment, receipt);
      if (bytes === undefined) {
        invalid += spans;
        continue;
      }
      const item: QueuedSegment = { bytes, spans, receivedAtMs, receipt };
      this.#account.add(bytes.length, spans);
      if (bytes.length > this.#options.maxSegmentSize) this.#refuseOversized(item);
      else this.#queue.push(item);
    }
    this.#settings.metrics.recordDrop(this.#settings.id, 'invalid_input', invalid);
    this.#updateGauge();
    this.#wakeAll();
  }

  /** Connect the durable queue (if any; waits up to 5 s for Redis) and begin sending. Idempotent. */
  async start(): Promise<void> {
    await this.#durable?.start();
    this.#loops ??= this.#startLoops();
  }

  /**
   * Stop and drain: keep sending (with retries, or into Redis) until nothing is held or `deadline`
   * aborts; then cancel the streams in flight, hand what is still held to Redis when there is a
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
      for (const call of this.#calls) call.cancel();
      this.#wakeAll();
    };
    if (deadline.aborted) abandon();
    else deadline.addEventListener('abort', abandon, { once: true });
    // Retry at once rather than sit out a long backoff: the OAP may be back, and the deadline is
    // short. With a durable queue and the OAP down, batches keep going to Redis instead.
    if (this.#durable === undefined) this.#failures = 0;
    this.#sleepSignal = deadline;
    this.#cutBackoff.abort();
    this.#wakeAll();
    if (this.#queue.length > 0) this.#loops ??= this.#startLoops();
    await this.#loops;
    await Promise.all(this.#deadLettering);
    deadline.removeEventListener('abort', abandon);
    if (this.#queue.length > 0 && this.#durable !== undefined) await this.#handOff();
    this.#closed = true;
    const left = this.#queue;
    this.#queue = [];
    this.#updateGauge();
    if (left.length > 0) {
      this.#dropItems(left, 'shutdown_timeout', new UnavailableError(`Exporter ${this.#settings.id} shut down before these spans reached the OAP.`));
      this.#settings.logger.warn({ segments: left.length, spans: sumSpans(left) }, 'Shutdown deadline reached before every segment reached the OAP; the rest are dropped.');
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

  #startLoops(): Promise<void> {
    return Promise.all(Array.from({ length: this.#options.numConsumers }, () => this.#consume())).then(() => undefined);
  }

  /** One send loop: take a batch, send it; put it back and wait out the backoff when the OAP is down. */
  async #consume(): Promise<void> {
    let probing = false;
    while (!this.#abandoned) {
      if (this.#queue.length === 0 || (this.#probing && !probing)) {
        if (this.#draining && this.#queue.length === 0) break;
        await this.#park();
        continue;
      }
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      this.#inFlight += batch.length;
      const requeue = await this.#dispatch(batch);
      this.#inFlight -= batch.length;
      // Back to the front, so segments still leave in the order they were assembled.
      if (requeue.length > 0) this.#queue = requeue.concat(this.#queue);
      this.#updateGauge();
      if (requeue.length === 0 || this.#abandoned) {
        if (probing) probing = this.#endProbe();
        continue;
      }
      // Another loop is the probe already: this one waits for it, parked with the rest.
      if (this.#probing && !probing) continue;
      probing = this.#probing = true;
      await sleep(this.#backoffMs(), this.#sleepSignal);
    }
    if (probing) this.#endProbe();
  }

  /** The probe got through (or gave up at the deadline): every loop may take batches again. */
  #endProbe(): false {
    this.#probing = false;
    this.#wakeAll();
    return false;
  }

  #park(): Promise<void> {
    return new Promise((resolve) => this.#parked.push(resolve));
  }

  #wakeAll(): void {
    const parked = this.#parked;
    this.#parked = [];
    for (const wake of parked) wake();
  }

  /** Sends one batch, or hands it to Redis; returns the segments that must go back to the queue. */
  async #dispatch(batch: QueuedSegment[]): Promise<QueuedSegment[]> {
    // Cut off by the shutdown deadline: the hand-off takes it.
    if (this.#abandoned) return batch;
    const durable = this.#durable;
    // The OAP is down: straight to Redis. If Redis cannot take it, a direct attempt is the probe.
    if (durable !== undefined && this.#failures > 0 && (await this.#persist(batch, { delayMs: this.#backoffMs() })) === 'queued') return [];
    const outcome = await this.#send(batch);
    if (outcome.ok) {
      this.#onDelivered(batch, outcome.commands);
      return [];
    }
    if (PAYLOAD_STATUSES.has(outcome.code)) return this.#onPayloadRefused(batch, outcome.error);
    if (PERMANENT_STATUSES.has(outcome.code)) {
      await this.#onRejected(batch, outcome.error);
      return [];
    }
    if (this.#abandoned) return batch;
    this.#onTransientFailure(batch, outcome.error);
    if (durable !== undefined && (await this.#persist(batch, { delayMs: this.#backoffMs() })) === 'queued') return [];
    return batch;
  }

  /**
   * The OAP refused the batch for what it carries. Split it and resend both halves at once (an
   * answer is not an outage, so no backoff), down to the one segment at fault. The OAP may have
   * analysed the messages before the bad one, so their second sending duplicates them.
   */
  async #onPayloadRefused(batch: QueuedSegment[], error: ServiceError): Promise<QueuedSegment[]> {
    this.#countFailed(batch, error);
    this.#failures = 0;
    if (batch.length === 1) {
      const tooLarge = error.code === GrpcStatus.RESOURCE_EXHAUSTED;
      const why = `${statusName(error.code)}: ${error.details ?? error.message}`;
      await this.#refuse(batch[0]!, tooLarge ? 'segment_too_large' : 'export_rejected', tooLarge ? `segment_too_large: the OAP answered ${why}` : why);
      return [];
    }
    const half = Math.ceil(batch.length / 2);
    const first = await this.#dispatch(batch.slice(0, half));
    // The OAP went away meanwhile: the second half waits with what came back.
    if (first.length > 0) return first.concat(batch.slice(half));
    return this.#dispatch(batch.slice(half));
  }

  /** The OAP refused the credentials or is no trace receiver: the whole batch is dead-lettered or dropped. */
  async #onRejected(batch: QueuedSegment[], error: ServiceError): Promise<void> {
    this.#countFailed(batch, error);
    // A rejection is an answer, not an outage: the next batch goes out without waiting.
    this.#failures = 0;
    if ((await this.#persist(batch, { deadLetter: `${statusName(error.code)}: ${error.details ?? error.message}` })) === 'queued') {
      this.#logRejected(batch, error, 'The OAP rejected segments; they are in the dead-letter queue. Check the exporter token (SW_AGENT_AUTHENTICATION in pipelines.yaml; it must equal SW_AUTHENTICATION on the OAP) and the endpoint, then run `skybridge dlq replay`.');
      return;
    }
    this.#dropItems(batch, 'export_rejected', new ExportFailedError(`The OAP rejected the segments: ${statusName(error.code)} ${error.details ?? ''}`.trim(), error));
    this.#logRejected(batch, error, 'The OAP rejected segments; they are dropped. Check the exporter token (SW_AGENT_AUTHENTICATION in pipelines.yaml; it must equal SW_AUTHENTICATION on the OAP) and the endpoint.');
  }

  /** Never sent: the OAP would refuse the stream carrying it. Dealt with beside the queue, so nothing waits behind it. */
  #refuseOversized(item: QueuedSegment): void {
    const why = `segment_too_large: ${item.bytes.length} bytes encoded, above max_segment_size (${this.#options.maxSegmentSize} bytes)`;
    this.#inFlight += 1;
    const task = this.#refuse(item, 'segment_too_large', why).finally(() => {
      this.#inFlight -= 1;
      this.#deadLettering.delete(task);
      this.#updateGauge();
    });
    this.#deadLettering.add(task);
  }

  /**
   * One segment the OAP will never take. With a durable queue it goes to the dead-letter queue, to
   * be replayed once the cause is fixed (say, the OAP's maxMessageSize raised); otherwise, or when
   * Redis cannot take it, it is dropped and counted as `fault`. Never rejects.
   */
  async #refuse(item: QueuedSegment, fault: SegmentFault, why: string): Promise<void> {
    this.#settings.metrics.recordLastError(this.#settings.id, `The OAP cannot take a segment: ${why}`);
    const deadLettered = (await this.#persist([item], { deadLetter: why })) === 'queued';
    if (!deadLettered) this.#dropItems([item], fault, new ExportFailedError(`The OAP cannot take a segment: ${why}`));
    const spans = this.#faultLogs[fault].take(item.spans);
    if (spans === undefined) return;
    const where = deadLettered ? 'it is in the dead-letter queue' : 'it is dropped';
    const message = fault === 'segment_too_large'
      ? `A segment is too large for the OAP (above max_segment_size, or the OAP's maxMessageSize); ${where}, and the segments around it are sent. Raise max_segment_size together with the OAP's SW_CORE_GRPC_MAX_MESSAGE_SIZE, or lower assembly.max_segment_spans.`
      : `The OAP refused a segment as invalid; ${where}, and the segments around it are sent.`;
    this.#settings.logger.warn({ reason: why, spans, maxSegmentSize: this.#options.maxSegmentSize }, message);
  }

  /** Writes the batch to the durable queue; once Redis holds it, it has left memory. */
  async #persist(batch: readonly QueuedSegment[], opts: { delayMs?: number; deadLetter?: string } = {}): Promise<EnqueueResult> {
    const durable = this.#durable;
    if (durable === undefined) return 'unavailable';
    let first = Number.POSITIVE_INFINITY;
    for (const item of batch) first = Math.min(first, item.receivedAtMs);
    const result = await durable.enqueue({ items: batch.map((item) => item.bytes), spans: sumSpans(batch), firstReceivedAtMs: first }, opts);
    if (result === 'queued') this.#finish(batch);
    return result;
  }

  #send(batch: readonly QueuedSegment[]): Promise<CollectOutcome> {
    const call = openCollectStream(this.#client, batch.map((item) => item.bytes), { token: this.#options.token, timeoutMs: this.#options.timeoutMs });
    this.#calls.add(call);
    return call.result.finally(() => this.#calls.delete(call));
  }

  #onDelivered(batch: readonly QueuedSegment[], commands: readonly Command[]): void {
    const now = Date.now();
    for (const item of batch) this.#metrics.latency.observe((now - item.receivedAtMs) / 1000);
    this.#finish(batch);
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

  /**
   * The segments left memory (answered, in Redis, or dropped): off the ledger, and their receipts
   * settled. Every segment taken by `enqueue` passes here exactly once.
   */
  #finish(items: readonly QueuedSegment[], lost?: SkybridgeError): void {
    let bytes = 0;
    for (const item of items) {
      bytes += item.bytes.length;
      if (lost === undefined) item.receipt?.done();
      else item.receipt?.lost(lost);
    }
    this.#account.release(bytes, sumSpans(items));
  }

  #dropItems(items: readonly QueuedSegment[], reason: DropReason, error: SkybridgeError): void {
    this.#settings.metrics.recordDrop(this.#settings.id, reason, sumSpans(items));
    this.#finish(items, error);
  }

  /** Encodes one segment; on failure its spans are lost (counted by the caller) and undefined is returned. */
  #encode(segment: SegmentObject, receipt: DeliveryReceipt | undefined): Buffer | undefined {
    try {
      return encodeSegment(segment);
    } catch (error) {
      receipt?.lost(new ExportFailedError(`A segment could not be encoded: ${(error as Error).message}`, error));
      // A bug in segment building, not in the input: worth a warning, once per burst.
      if (this.#invalidLog.take(segment.spans.length) !== undefined) {
        this.#settings.logger.warn({ error, traceSegmentId: segment.traceSegmentId }, 'A segment could not be encoded; it is dropped.');
      }
      return undefined;
    }
  }

  #countFailed(batch: readonly QueuedSegment[], error: ServiceError): void {
    this.#settings.metrics.exporterSendFailedSegments.inc({ component: this.#settings.id, reason: statusName(error.code) }, batch.length);
    this.#settings.metrics.recordLastError(this.#settings.id, `Sending segments failed: ${statusName(error.code)} ${error.details}`);
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

  #backoffMs(): number {
    return backoffDelayMs(this.#options.retry, this.#failures);
  }

  #updateGauge(): void {
    this.#metrics.queueSize.set(this.held);
  }
}
