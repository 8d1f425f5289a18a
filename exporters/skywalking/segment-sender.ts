/**
 * Sends encoded segments to the OAP over `TraceSegmentReportService/collect`, one client stream per
 * batch, as SkyWalking Satellite does: write every segment, end the stream, wait for the OAP's
 * `Commands` answer. The answer is the ack: the OAP sends it only after it took every message of the
 * stream (skywalking-model.md §1.1), so a batch counts as delivered only then. A batch that failed
 * with a transient status goes back to the front of the queue and is resent after a backoff; the
 * OAP may already have analysed part of it, so an outage can duplicate up to `maxBatch` segments
 * (at-least-once), never lose them.
 */
import { status as GrpcStatus, type Client, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import type { ComponentSettings } from '../../core/component.ts';
import type { DropReason } from '../../core/telemetry/metrics.ts';
import type { AssembledSegment } from '../../core/segments/segment-object.ts';
import { BurstLog } from './burst-log.ts';
import { decodeCommands, encodeSegment, type Command } from './codec.ts';
import { oapMetadata } from './oap-client.ts';

const COLLECT_PATH = '/skywalking.v3.TraceSegmentReportService/collect';
const QUEUE_LABEL = 'sending_queue';

/**
 * Statuses that resending cannot fix: a wrong token (the OAP's AuthenticationInterceptor answers
 * PERMISSION_DENIED), a payload the server refuses, or an endpoint that is not a trace receiver.
 * Every other status (UNAVAILABLE, DEADLINE_EXCEEDED, a connection reset seen as INTERNAL or
 * UNKNOWN, ...) is treated as transient and retried until shutdown.
 */
const PERMANENT_STATUSES: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.PERMISSION_DENIED,
  GrpcStatus.UNAUTHENTICATED,
  GrpcStatus.UNIMPLEMENTED,
]);

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
}

interface QueuedSegment {
  bytes: Buffer;
  spans: number;
  receivedAtMs: number;
}

type SendOutcome = { ok: true; commands: Command[] } | { ok: false; code: GrpcStatus; error: ServiceError };

const identity = (bytes: Buffer): Buffer => bytes;

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

function statusName(code: GrpcStatus): string {
  return (GrpcStatus[code] ?? `code_${code}`).toLowerCase();
}

function sumSpans(items: readonly QueuedSegment[]): number {
  let spans = 0;
  for (const item of items) spans += item.spans;
  return spans;
}

/**
 * The transport half of the skywalking exporter: a bounded queue of encoded segments and one send
 * loop. Lifecycle: `enqueue` may be called any time; `start` begins sending; `shutdown` drains until
 * the queue is empty or the deadline aborts. The caller owns the gRPC client and closes it after
 * `shutdown` resolved.
 */
export class SegmentSender {
  readonly #settings: ComponentSettings;
  readonly #client: Client;
  readonly #options: SegmentSenderOptions;
  readonly #metrics: ReturnType<typeof bindMetrics>;

  #queue: QueuedSegment[] = [];
  /** Segments of the batch on the wire; they still count against the queue's capacity. */
  #inFlight = 0;
  #loop: Promise<void> | undefined;
  /** Resolves the loop's wait for work. */
  #wake: (() => void) | undefined;
  /** Ends the current backoff sleep early. */
  #cutSleep: (() => void) | undefined;
  #call: ClientWritableStream<Buffer> | undefined;
  /** Consecutive transient failures; drives the backoff and the "reachable again" log line. */
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
  }

  /** Segments held: queued plus in flight. */
  get held(): number {
    return this.#queue.length + this.#inFlight;
  }

  /** False once `queueSize` segments are held; the exporter then refuses new spans (retryable). */
  hasCapacity(): boolean {
    return this.held < this.#options.queueSize;
  }

  /**
   * Encode and queue segments; takes ownership and never throws. Spans already assembled cannot be
   * handed back, so a delivery that finds the queue full is still taken up to twice its capacity;
   * beyond that, and for segments that fail to encode, the spans are counted as drops.
   */
  enqueue(segments: readonly AssembledSegment[]): void {
    const limit = this.#options.queueSize * 2;
    let dropped = 0;
    let invalid = 0;
    for (const { segment, receivedAtMs } of segments) {
      const spans = segment.spans.length;
      if (this.#closed) {
        this.#drop('shutdown_timeout', spans);
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
        // A bug in segment building, not in the input: worth a warning, once per burst.
        if (this.#invalidLog.take(spans) !== undefined) {
          this.#settings.logger.warn({ error, traceSegmentId: segment.traceSegmentId }, 'A segment could not be encoded; it is dropped.');
        }
        continue;
      }
      this.#queue.push({ bytes, spans, receivedAtMs });
    }
    if (dropped > 0) this.#drop('queue_full', dropped);
    if (invalid > 0) this.#drop('invalid_input', invalid);
    this.#metrics.queueSize.set(this.held);
    this.#wake?.();
  }

  /** Begin sending in the background. Idempotent. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Stop and drain: keep sending (with retries) until nothing is held or `deadline` aborts; then
   * cancel the batch in flight and count every segment still held as `shutdown_timeout` drops.
   * Idempotent; safe without `start`. Does not close the gRPC client.
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
    // Retry at once rather than sit out a long backoff: the OAP may be back, and the deadline is short.
    this.#failures = 0;
    this.#cutSleep?.();
    this.#wake?.();
    if (this.held > 0) this.#loop ??= this.#run();
    await this.#loop;
    deadline.removeEventListener('abort', abandon);
    this.#closed = true;
    const left = this.#queue;
    this.#queue = [];
    this.#metrics.queueSize.set(0);
    if (left.length > 0) {
      const spans = sumSpans(left);
      this.#settings.metrics.recordDrop(this.#settings.id, 'shutdown_timeout', spans);
      this.#settings.logger.warn({ segments: left.length, spans }, 'Shutdown deadline reached before every segment reached the OAP; the rest are dropped.');
    }
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
      const outcome = await this.#send(batch);
      this.#inFlight = 0;
      if (outcome.ok) {
        this.#onDelivered(batch, outcome.commands);
      } else if (PERMANENT_STATUSES.has(outcome.code)) {
        this.#onRejected(batch, outcome.error);
      } else {
        // Back to the front, so segments still leave in the order they were assembled.
        this.#queue = batch.concat(this.#queue);
        if (!this.#abandoned) {
          this.#onTransientFailure(batch, outcome.error);
          await this.#sleep(this.#backoffMs());
        }
      }
      this.#metrics.queueSize.set(this.held);
    }
  }

  #send(batch: readonly QueuedSegment[]): Promise<SendOutcome> {
    return new Promise((resolve) => {
      try {
        const call = this.#client.makeClientStreamRequest<Buffer, Command[]>(
          COLLECT_PATH,
          identity,
          decodeCommands,
          oapMetadata(this.#options.token),
          { deadline: Date.now() + this.#options.timeoutMs },
          (error, commands) => {
            this.#call = undefined;
            if (error) resolve({ ok: false, code: error.code, error });
            else resolve({ ok: true, commands: commands ?? [] });
          },
        );
        this.#call = call;
        // The bytes are already in memory, so writing the whole batch at once costs no extra buffer.
        for (const item of batch) call.write(item.bytes);
        call.end();
      } catch (thrown) {
        // Only a closed client throws here; treat it like an unreachable OAP.
        const error = Object.assign(new Error(`Cannot open a collect stream: ${(thrown as Error).message}`), {
          code: GrpcStatus.UNAVAILABLE,
          details: String(thrown),
          metadata: oapMetadata(''),
        }) as ServiceError;
        resolve({ ok: false, code: GrpcStatus.UNAVAILABLE, error });
      }
    });
  }

  #onDelivered(batch: readonly QueuedSegment[], commands: readonly Command[]): void {
    const now = Date.now();
    for (const item of batch) this.#metrics.latency.observe((now - item.receivedAtMs) / 1000);
    this.#metrics.sentSegments.inc(batch.length);
    this.#metrics.sentSpans.inc(sumSpans(batch));
    if (this.#failures > 0) {
      this.#settings.logger.info({ failedAttempts: this.#failures }, 'Segments are reaching the OAP again.');
      this.#failures = 0;
    }
    if (commands.length > 0) {
      // Commands (profiling tasks, agent configuration) address language agents; nothing here acts on them.
      this.#settings.logger.debug({ commands: commands.map((c) => c.command) }, 'The OAP answered with commands; they are ignored.');
    }
  }

  #onRejected(batch: readonly QueuedSegment[], error: ServiceError): void {
    const spans = sumSpans(batch);
    this.#settings.metrics.exporterSendFailedSegments.inc({ component: this.#settings.id, reason: statusName(error.code) }, batch.length);
    this.#settings.metrics.recordDrop(this.#settings.id, 'export_rejected', spans);
    const total = this.#rejectLog.take(spans);
    if (total !== undefined) {
      this.#settings.logger.warn(
        { status: statusName(error.code), details: error.details, spans: total },
        'The OAP rejected segments; they are dropped. Check the token (SW_AUTHENTICATION) and the endpoint.',
      );
    }
    // A rejection is an answer, not an outage: the next batch goes out without waiting.
    this.#failures = 0;
  }

  #onTransientFailure(batch: readonly QueuedSegment[], error: ServiceError): void {
    this.#settings.metrics.exporterSendFailedSegments.inc({ component: this.#settings.id, reason: statusName(error.code) }, batch.length);
    this.#failures += 1;
    const fields = { status: statusName(error.code), details: error.details, held: this.held, attempt: this.#failures };
    if (this.#failures === 1) this.#settings.logger.warn(fields, 'Sending segments to the OAP failed; retrying with backoff.');
    else this.#settings.logger.debug(fields, 'Sending segments to the OAP failed again.');
  }

  /** Full jitter: uniform in [0, min(max, initial * 2^(failures-1))] (AWS "Exponential Backoff And Jitter"). */
  #backoffMs(): number {
    const { initialIntervalMs, maxIntervalMs } = this.#options.retry;
    const ceiling = Math.min(maxIntervalMs, initialIntervalMs * 2 ** Math.min(this.#failures - 1, 30));
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
