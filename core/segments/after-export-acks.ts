/**
 * `ack: after_export`: a batch is acknowledged only once every segment holding its spans reached
 * the destination or a durable queue. The difficulty is that the trace assembler turns spans into
 * segments later (a trace leaves the buffer after its quiet period), whole traces at a time, and
 * mixes spans of many batches into one flush. What makes it tractable:
 *
 * - A flush takes every span the assembler holds for that trace. So the spans a batch added to
 *   trace T are in the next flush of T, whichever batch's arrival or timer triggers it.
 * - A span the assembler skipped as a duplicate was in an earlier flush of T (or is still held,
 *   and then in the next one). Waiting for the flushes of T not yet settled covers it.
 *
 * So a batch waits, for each trace id it carries, for (a) every flush of that trace not yet settled
 * when it arrived, and (b) the next flush of the trace, unless the assembler holds nothing of the
 * trace once the batch was added (its spans then went out in (a) or during the add itself). This is
 * conservative: a batch may wait for a flush that holds none of its spans, never the other way.
 *
 * Each flush gets a DeliveryReceipt; the exporter calls `done()` or `lost(error)` once per segment.
 * A batch resolves when all its flushes are done, rejects with the first `lost` error, and rejects
 * with a retryable UnavailableError after `timeoutMs` (the sender resends; the assembler recognises
 * the spans as duplicates and the resent batch waits on the same flushes).
 */
import { UnavailableError, type SkybridgeError } from '../errors.ts';

/** Settles the acknowledgement of the spans in the segments of one flush (ack: after_export). */
export interface DeliveryReceipt {
  /** One segment reached the destination, or a durable queue. Call once per segment. */
  done(): void;
  /** One segment will not get there; its spans' senders get `error`. Call once per segment. */
  lost(error: SkybridgeError): void;
}

class Flush implements DeliveryReceipt {
  readonly traceId: string;
  readonly waiters = new Set<Waiter>();
  remaining: number;
  error: SkybridgeError | undefined;
  readonly #onSettled: (flush: Flush) => void;

  constructor(traceId: string, segments: number, onSettled: (flush: Flush) => void) {
    this.traceId = traceId;
    this.remaining = segments;
    this.#onSettled = onSettled;
  }

  get settled(): boolean {
    return this.remaining <= 0;
  }

  done(): void {
    if (this.settled) return;
    if (--this.remaining === 0) this.#onSettled(this);
  }

  lost(error: SkybridgeError): void {
    this.error ??= error;
    this.done();
  }
}

interface Waiter {
  /** Flushes this batch waits for. */
  readonly flushes: Set<Flush>;
  /** Trace ids whose next flush this batch also waits for. */
  readonly nextFlushOf: Set<string>;
  readonly resolve: () => void;
  readonly reject: (error: SkybridgeError) => void;
  timer: NodeJS.Timeout | undefined;
  finished: boolean;
  key: PendingAck | undefined;
}

/** A batch registered with `begin`; `settle` once its spans were added to the assembler. */
export interface PendingAck {
  readonly promise: Promise<void>;
}

export class AfterExportAcks {
  readonly #exporterId: string;
  readonly #timeoutMs: number;
  /** Flushes whose segments are not all settled, per trace id. */
  readonly #unsettled = new Map<string, Set<Flush>>();
  /** Batches waiting for the next flush of a trace. */
  readonly #awaitingFlush = new Map<string, Set<Waiter>>();
  readonly #waiters = new Map<PendingAck, Waiter>();

  constructor(exporterId: string, timeoutMs: number) {
    this.#exporterId = exporterId;
    this.#timeoutMs = timeoutMs;
  }

  /** Batches waiting for their acknowledgement (for tests and gauges). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Flushes whose segments are not all delivered yet. */
  get unsettledFlushes(): number {
    let n = 0;
    for (const set of this.#unsettled.values()) n += set.size;
    return n;
  }

  /**
   * Call for every flush, before its segments are delivered; hand the receipt to the transport.
   * Batches waiting for the next flush of `traceId` now wait for this one.
   */
  flushed(traceId: string, segments: number): DeliveryReceipt {
    const flush = new Flush(traceId, segments, (f) => this.#onSettled(f));
    const waiting = this.#awaitingFlush.get(traceId);
    if (waiting !== undefined) {
      this.#awaitingFlush.delete(traceId);
      for (const waiter of waiting) {
        waiter.nextFlushOf.delete(traceId);
        waiter.flushes.add(flush);
        flush.waiters.add(waiter);
      }
    }
    if (segments <= 0) this.#onSettled(flush);
    else {
      let set = this.#unsettled.get(traceId);
      if (set === undefined) this.#unsettled.set(traceId, (set = new Set()));
      set.add(flush);
    }
    return flush;
  }

  /**
   * Call just before the batch's spans go into the assembler, with the batch's trace ids. Flushes
   * that happen while they are added are then already counted.
   */
  begin(traceIds: Iterable<string>): PendingAck {
    let resolve!: () => void;
    let reject!: (error: SkybridgeError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter: Waiter = { flushes: new Set(), nextFlushOf: new Set(), resolve, reject, timer: undefined, finished: false, key: undefined };
    for (const traceId of traceIds) {
      for (const flush of this.#unsettled.get(traceId) ?? []) {
        waiter.flushes.add(flush);
        flush.waiters.add(waiter);
      }
      waiter.nextFlushOf.add(traceId);
      let set = this.#awaitingFlush.get(traceId);
      if (set === undefined) this.#awaitingFlush.set(traceId, (set = new Set()));
      set.add(waiter);
    }
    const pending: PendingAck = { promise };
    waiter.key = pending;
    this.#waiters.set(pending, waiter);
    return pending;
  }

  /**
   * Call once the spans were added. `holds(traceId)` says whether the assembler still holds spans
   * of the trace; if not, there is no next flush to wait for. Returns the batch's acknowledgement.
   */
  settle(pending: PendingAck, holds: (traceId: string) => boolean): Promise<void> {
    const waiter = this.#waiters.get(pending);
    if (waiter === undefined || waiter.finished) return pending.promise;
    for (const traceId of [...waiter.nextFlushOf]) {
      if (holds(traceId)) continue;
      waiter.nextFlushOf.delete(traceId);
      this.#forgetAwaiting(traceId, waiter);
    }
    if (!this.#check(waiter)) {
      waiter.timer = setTimeout(() => {
        this.#finish(
          waiter,
          new UnavailableError(
            `Exporter ${this.#exporterId} could not confirm delivery within ack_timeout (${this.#timeoutMs} ms); resend the batch (spans already taken are recognised as duplicates).`,
          ),
        );
      }, this.#timeoutMs);
    }
    return pending.promise;
  }

  /** Withdraw a batch whose spans were not added after all (the add threw). */
  cancel(pending: PendingAck, error: SkybridgeError): void {
    const waiter = this.#waiters.get(pending);
    if (waiter) this.#finish(waiter, error);
  }

  /**
   * Reject the batches waiting for the next flush of any of these traces: the assembler dropped
   * their spans unflushed, so that flush will not come. Batches waiting only on flushes already
   * being delivered keep waiting for them.
   */
  abandonTraces(traceIds: ReadonlySet<string>, error: SkybridgeError): void {
    for (const traceId of traceIds) {
      const waiting = this.#awaitingFlush.get(traceId);
      if (waiting !== undefined) for (const waiter of [...waiting]) this.#finish(waiter, error);
    }
  }

  /** Reject every batch still waiting (the exporter stopped without settling them). */
  abandonAll(error: SkybridgeError): void {
    for (const waiter of [...this.#waiters.values()]) this.#finish(waiter, error);
  }

  #onSettled(flush: Flush): void {
    const set = this.#unsettled.get(flush.traceId);
    if (set !== undefined) {
      set.delete(flush);
      if (set.size === 0) this.#unsettled.delete(flush.traceId);
    }
    for (const waiter of [...flush.waiters]) {
      waiter.flushes.delete(flush);
      if (flush.error !== undefined) this.#finish(waiter, flush.error);
      else this.#check(waiter);
    }
    flush.waiters.clear();
  }

  /** Resolves the waiter if nothing is left to wait for; returns whether it finished. */
  #check(waiter: Waiter): boolean {
    if (waiter.finished) return true;
    if (waiter.flushes.size > 0 || waiter.nextFlushOf.size > 0) return false;
    this.#finish(waiter);
    return true;
  }

  #finish(waiter: Waiter, error?: SkybridgeError): void {
    if (waiter.finished) return;
    waiter.finished = true;
    if (waiter.timer) clearTimeout(waiter.timer);
    for (const flush of waiter.flushes) flush.waiters.delete(waiter);
    waiter.flushes.clear();
    for (const traceId of waiter.nextFlushOf) this.#forgetAwaiting(traceId, waiter);
    waiter.nextFlushOf.clear();
    if (waiter.key) this.#waiters.delete(waiter.key);
    if (error) waiter.reject(error);
    else waiter.resolve();
  }

  #forgetAwaiting(traceId: string, waiter: Waiter): void {
    const set = this.#awaitingFlush.get(traceId);
    if (set === undefined) return;
    set.delete(waiter);
    if (set.size === 0) this.#awaitingFlush.delete(traceId);
  }
}
