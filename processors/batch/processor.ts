import { ledgerOf, type LedgerAccount } from '../../core/admission/admission-ledger.ts';
import type { ComponentSettings, Processor } from '../../core/component.ts';
import { estimateSpanBytes } from '../../core/traces/span-size.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { asSkybridgeError, OverloadedError, UnavailableError, type SkybridgeError } from '../../core/errors.ts';
import { countSpans, type SpanBatch } from '../../core/model/span-batch.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import type { BatchConfig } from './config.ts';
import { groupByTrace, PendingBatch, type EnvelopeSizes, type TraceGroup } from './trace-groups.ts';

export type FlushReason = 'size' | 'bytes' | 'timeout' | 'shutdown' | 'abandon';

/** Settles once the batch it belongs to was accepted (or refused) downstream. */
class BatchOutcome {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: SkybridgeError) => void;
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // With wait_for_result false nobody awaits the outcome; a refusal must not become an
    // unhandled rejection. Callers that await it still see the rejection.
    this.promise.catch(() => undefined);
  }
}

/**
 * One batch being filled. Whole-trace batches (ctx.wholeTraces, from tail_sampling) and ordinary
 * ones fill separate lanes, so an export never mixes the two and the flag stays true to its batch.
 */
class Lane {
  pending = new PendingBatch();
  outcome = new BatchOutcome();
  timer: NodeJS.Timeout | undefined;
  /** The receiver/transport of the spans held, or undefined once they came from several. */
  source: { receiver: string; transport: string } | undefined;
  mixedSources = false;
  constructor(readonly wholeTraces: boolean) {}

  noteSource(ctx: ConsumeContext): void {
    if (this.pending.empty) {
      this.source = { receiver: ctx.receiver, transport: ctx.transport };
      this.mixedSources = false;
    } else if (this.source?.receiver !== ctx.receiver || this.source.transport !== ctx.transport) {
      this.mixedSources = true;
    }
  }
}

/**
 * Groups spans into batches by count, estimated bytes and time, and cuts batches only between
 * traces. Ack point: with `wait_for_result` (the default) a caller's `consume` settles with the
 * downstream outcome of every batch its spans went into; without it, once the spans are buffered.
 */
export class BatchProcessor implements Processor {
  readonly mutatesData = false;
  readonly #settings: ComponentSettings;
  readonly #config: BatchConfig;
  readonly #next: TraceConsumer;
  readonly #lanes = { ordinary: new Lane(false), whole: new Lane(true) };
  /** Batches handed to next and not settled yet, with the outcome their callers wait on. */
  readonly #inFlight = new Map<Promise<void>, BatchOutcome>();
  /** Spans buffered or being sent; bounded by max_pending_spans. */
  #held = 0;
  /** Estimated heap of the held spans, in the admission ledger until the next stage took them. */
  #heldBytes = 0;
  readonly #account: LedgerAccount;
  #closing = false;
  readonly #dropLog = new BurstLog();
  readonly #labels: { component: string; queue: string };

  constructor(settings: ComponentSettings, config: BatchConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#config = config;
    this.#next = next;
    this.#labels = { component: settings.id, queue: 'batch' };
    settings.metrics.queueCapacity.set(this.#labels, config.max_pending_spans);
    settings.metrics.queueSize.set(this.#labels, 0);
    this.#account = ledgerOf(settings).account(`${settings.id}/batch`);
  }

  async start(): Promise<void> {}

  async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    if (this.#closing) throw new UnavailableError(`Processor ${this.#settings.id} is shutting down.`);
    const n = countSpans(batch);
    if (n === 0) return;
    // One call bigger than the whole buffer still goes through when nothing else is held;
    // refusing it would make the sender retry it forever.
    if (this.#held > 0 && this.#held + n > this.#config.max_pending_spans) {
      throw new OverloadedError(`Processor ${this.#settings.id} holds ${this.#held} spans (max_pending_spans ${this.#config.max_pending_spans}); retry later.`);
    }
    let bytes = 0;
    for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) bytes += estimateSpanBytes(span);
    this.#heldBytes += bytes;
    this.#account.add(bytes, n);
    this.#setHeld(this.#held + n);

    const lane = ctx.wholeTraces === true ? this.#lanes.whole : this.#lanes.ordinary;
    const { groups, envelopes } = groupByTrace(batch);
    const outcomes = new Set<BatchOutcome>();
    for (const group of groups) outcomes.add(this.#add(lane, group, envelopes, ctx));
    if (this.#config.timeout === 0 && !lane.pending.empty) this.#flush(lane, 'timeout');

    if (!this.#config.wait_for_result) return;
    await Promise.all([...outcomes].map((o) => o.promise));
  }

  /**
   * Sends what the lanes hold first, so the abandoned traces' spans are downstream when the next
   * stage drops them (their callers then see its rejection), rather than sent after it.
   */
  abandon(traceIds: ReadonlySet<string>): void {
    this.#flush(this.#lanes.ordinary, 'abandon');
    this.#flush(this.#lanes.whole, 'abandon');
    this.#next.abandon?.(traceIds);
  }
  holds(traceId: string): boolean {
    return this.#next.holds?.(traceId) === true;
  }


  /** Adds one trace group, sending the batch before it when the group would push it over a cap. */
  #add(lane: Lane, group: TraceGroup, envelopes: EnvelopeSizes, ctx: ConsumeContext): BatchOutcome {
    const { send_batch_size: trigger, send_batch_max_size: maxSpans, send_batch_max_bytes: maxBytes } = this.#config;
    if (!lane.pending.empty) {
      const spans = lane.pending.spans + group.spans;
      const bytes = lane.pending.bytes + lane.pending.costOf(group, envelopes);
      if (maxSpans > 0 && spans > maxSpans) this.#flush(lane, 'size');
      else if (bytes > maxBytes) this.#flush(lane, 'bytes');
    }
    lane.noteSource(ctx);
    lane.pending.add(group, envelopes);
    const outcome = lane.outcome;
    if (lane.pending.spans >= trigger) this.#flush(lane, 'size');
    else if (lane.pending.bytes >= maxBytes) this.#flush(lane, 'bytes');
    else if (lane.timer === undefined && this.#config.timeout > 0) {
      lane.timer = setTimeout(() => this.#flush(lane, 'timeout'), this.#config.timeout);
      lane.timer.unref?.();
    }
    return outcome;
  }

  #flush(lane: Lane, reason: FlushReason): void {
    if (lane.timer !== undefined) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    if (lane.pending.empty) return;
    const { pending, outcome } = lane;
    const ctx: ConsumeContext = {
      receiver: lane.mixedSources || lane.source === undefined ? this.#settings.id : lane.source.receiver,
      transport: lane.mixedSources || lane.source === undefined ? 'batch' : lane.source.transport,
      ...(lane.wholeTraces ? { wholeTraces: true } : {}),
    };
    lane.pending = new PendingBatch();
    lane.outcome = new BatchOutcome();

    const metrics = this.#settings.metrics;
    metrics.batchFlushes.inc({ component: this.#settings.id, reason });
    metrics.batchSizeSpans.observe({ component: this.#settings.id }, pending.spans);
    metrics.batchSizeBytes.observe({ component: this.#settings.id }, pending.bytes);

    const spans = pending.spans;
    let sent: Promise<void>;
    try {
      sent = this.#next.consume(pending.toSpanBatch(), ctx);
    } catch (error) {
      sent = Promise.reject(error);
    }
    const settled = sent.then(
      () => outcome.resolve(),
      (error: unknown) => {
        const refusal = asSkybridgeError(error);
        outcome.reject(refusal);
        if (!this.#config.wait_for_result) this.#recordLoss(spans, refusal);
      },
    ).finally(() => {
      this.#inFlight.delete(settled);
      // Batches mix callers, so bytes leave in proportion to spans; all of them with the last span.
      const bytes = spans >= this.#held ? this.#heldBytes : Math.round((this.#heldBytes * spans) / this.#held);
      this.#heldBytes -= bytes;
      this.#account.release(bytes, spans);
      this.#setHeld(this.#held - spans);
    });
    this.#inFlight.set(settled, outcome);
  }

  /** Only without wait_for_result: the callers were already answered, so a refusal loses spans. */
  #recordLoss(spans: number, error: SkybridgeError): void {
    this.#settings.metrics.recordDrop(this.#settings.id, 'refused_downstream', spans);
    const total = this.#dropLog.take(spans);
    if (total !== undefined) {
      this.#settings.logger.warn({ spans: total, error }, 'Dropped a batch the next stage refused; callers were answered before it was sent (wait_for_result is false).');
    }
  }

  #setHeld(n: number): void {
    this.#held = n;
    this.#settings.metrics.queueSize.set(this.#labels, n);
  }

  #shutdown: Promise<void> | undefined;

  /** Sends what is buffered at once, then waits for the batches in flight until the deadline. Idempotent. */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= this.#drain(deadline));
  }

  async #drain(deadline: AbortSignal): Promise<void> {
    this.#closing = true;
    for (const lane of [this.#lanes.ordinary, this.#lanes.whole]) this.#flush(lane, 'shutdown');
    if (this.#inFlight.size === 0) return;
    const timedOut = await Promise.race([
      Promise.allSettled([...this.#inFlight.keys()]).then(() => false),
      abortedPromise(deadline).then(() => true),
    ]);
    if (!timedOut || this.#inFlight.size === 0) return;
    // Callers still waiting are told to resend (not a loss: they keep the spans); without
    // wait_for_result they were answered long ago, so what is still in flight is lost.
    const cutOff = new UnavailableError(`Processor ${this.#settings.id} shut down before the next stage accepted the batch.`);
    for (const outcome of this.#inFlight.values()) outcome.reject(cutOff);
    if (!this.#config.wait_for_result) this.#settings.metrics.recordDrop(this.#settings.id, 'shutdown_timeout', this.#held);
    this.#settings.logger.warn({ spans: this.#held }, 'Shutdown deadline passed while batches were still being sent.');
  }
}

function abortedPromise(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
