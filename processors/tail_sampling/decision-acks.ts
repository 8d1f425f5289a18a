/**
 * `ack: after_decision`: a batch is acknowledged only once every trace it added to the buffer was
 * decided and, if kept, handed on and accepted by the next stage (with a segment exporter on
 * `ack: after_export`, that means exported). A Kafka gateway needs this: its receiver commits an
 * offset when the batch is acknowledged, so acknowledging on buffering would commit spans a crash
 * then loses.
 *
 * A trace moves through two states here: undecided (in the buffer, parked or not) and releasing
 * (kept, waiting in the outbox or in a release in flight). A dropped trace settles at once.
 */
import { UnavailableError, type SkybridgeError } from '../../core/errors.ts';

interface Waiter {
  /** Trace ids not yet settled for this batch. */
  readonly pending: Set<string>;
  readonly resolve: () => void;
  readonly reject: (error: SkybridgeError) => void;
  timer: NodeJS.Timeout | undefined;
}

type WaitersByTrace = Map<string, Set<Waiter>>;

export class DecisionAcks {
  readonly #componentId: string;
  readonly #timeoutMs: number;
  readonly #undecided: WaitersByTrace = new Map();
  readonly #releasing: WaitersByTrace = new Map();
  readonly #waiters = new Set<Waiter>();

  constructor(componentId: string, timeoutMs: number) {
    this.#componentId = componentId;
    this.#timeoutMs = timeoutMs;
  }

  /** Batches waiting (for tests and gauges). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Call after the batch's spans went into the buffer, before anything can be decided, with the
   * trace ids they went to. Resolves when all of them settled; rejects with a retryable error after
   * the timeout (the sender resends; held spans are recognised as duplicates).
   */
  wait(traceIds: ReadonlySet<string>): Promise<void> {
    if (traceIds.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { pending: new Set(traceIds), resolve, reject, timer: undefined };
      for (const traceId of traceIds) add(this.#undecided, traceId, waiter);
      this.#waiters.add(waiter);
      waiter.timer = setTimeout(() => {
        this.#finish(
          waiter,
          new UnavailableError(`Processor ${this.#componentId} did not decide and hand on the batch's traces within ack_timeout (${this.#timeoutMs} ms); resend (held spans are recognised as duplicates).`),
        );
      }, this.#timeoutMs);
    });
  }

  /** The trace was kept: its batches now wait for the next stage to accept its release. */
  kept(traceId: string): void {
    const waiting = this.#undecided.get(traceId);
    if (waiting === undefined) return;
    this.#undecided.delete(traceId);
    for (const waiter of waiting) add(this.#releasing, traceId, waiter);
  }

  /** The trace was dropped (sampled out): nothing more to wait for. */
  dropped(traceId: string): void {
    this.#settle(this.#undecided, traceId);
  }

  /** The next stage accepted the release holding these kept traces. */
  released(traceIds: Iterable<string>): void {
    for (const traceId of traceIds) this.#settle(this.#releasing, traceId);
  }

  /** These traces will not be handed on (refused for good, abandoned, shut down): their batches fail. */
  failed(traceIds: Iterable<string>, error: SkybridgeError): void {
    for (const traceId of traceIds) {
      for (const map of [this.#undecided, this.#releasing]) {
        for (const waiter of [...(map.get(traceId) ?? [])]) this.#finish(waiter, error);
      }
    }
  }

  /** Reject every batch still waiting. */
  failAll(error: SkybridgeError): void {
    for (const waiter of [...this.#waiters]) this.#finish(waiter, error);
  }

  #settle(map: WaitersByTrace, traceId: string): void {
    const waiting = map.get(traceId);
    if (waiting === undefined) return;
    map.delete(traceId);
    for (const waiter of waiting) {
      waiter.pending.delete(traceId);
      if (waiter.pending.size === 0) this.#finish(waiter);
    }
  }

  #finish(waiter: Waiter, error?: SkybridgeError): void {
    if (!this.#waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    for (const traceId of waiter.pending) {
      remove(this.#undecided, traceId, waiter);
      remove(this.#releasing, traceId, waiter);
    }
    waiter.pending.clear();
    if (error) waiter.reject(error);
    else waiter.resolve();
  }
}

function add(map: WaitersByTrace, traceId: string, waiter: Waiter): void {
  let set = map.get(traceId);
  if (set === undefined) map.set(traceId, (set = new Set()));
  set.add(waiter);
}

function remove(map: WaitersByTrace, traceId: string, waiter: Waiter): void {
  const set = map.get(traceId);
  if (set === undefined) return;
  set.delete(waiter);
  if (set.size === 0) map.delete(traceId);
}
