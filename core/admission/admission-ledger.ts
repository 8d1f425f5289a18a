/**
 * The admission ledger: one count of the bytes (estimated heap) and spans skybridge has
 * acknowledged to senders and not yet delivered, whoever holds them (docs/admission.md).
 *
 * Every stage that keeps data past the end of `consume` opens an account and moves its own holdings
 * in and out of it: the trace assembler and tail_sampling for held spans, the batch processor for
 * pending batches, exporters for segments queued, in flight or being written. Receivers ask
 * `admit()` before handing a batch on; past the bound they refuse with the protocol's retryable
 * status and a retry hint, so nothing already acknowledged ever has to be dropped for lack of room.
 *
 * The bound is soft by design: a batch admitted just under it is taken whole, so what is held can
 * exceed `maxBytes` by the requests in flight at that moment (each bounded by its receiver's
 * request size limit). Holdings only move between accounts or leave; they are never refused.
 */
import { OverloadedError } from '../errors.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { SharedHoldings } from '../workers/shared-holdings.ts';

export interface AdmissionLimits {
  maxBytes: number;
  maxSpans: number;
  /** The retry hint refusals carry. */
  retryAfterMs: number;
}

/**
 * With `workers: N` (core/workers/): every thread keeps a ledger of its own holders and publishes
 * its totals into a shared slot; `full` and `admit` then look at the whole process.
 */
export interface SharedLedgerOptions {
  holdings: SharedHoldings;
  /** Names another thread's closed valve, for the refusal message. */
  valveName?: (slot: number, index: number) => string;
  /** False in worker threads: the main thread reports the limits, once. */
  reportLimits?: boolean;
}

/** One holder's share of the ledger. Amounts must be released exactly as they were added. */
export interface LedgerAccount {
  readonly name: string;
  readonly bytes: number;
  readonly spans: number;
  add(bytes: number, spans: number): void;
  release(bytes: number, spans: number): void;
  /** Sets the holdings to these totals, for holders that know what they hold rather than what moved. */
  holdNow(bytes: number, spans: number): void;
}

export class AdmissionLedger {
  readonly limits: AdmissionLimits;
  readonly #metrics: Metrics | undefined;
  readonly #accounts = new Map<string, Account>();
  /** Holders that can refuse for reasons other than memory (a full Redis queue, a stalled stream). */
  readonly #valves: { name: string; closed: () => boolean }[] = [];
  readonly #shared: SharedLedgerOptions | undefined;
  #bytes = 0;
  #spans = 0;

  constructor(limits: AdmissionLimits, metrics?: Metrics, shared?: SharedLedgerOptions) {
    this.limits = limits;
    this.#metrics = metrics;
    this.#shared = shared;
    if (shared?.reportLimits !== false) {
      metrics?.admissionLimitBytes.set(limits.maxBytes);
      metrics?.admissionLimitSpans.set(limits.maxSpans);
    }
  }

  /** A ledger that never refuses, for components built outside a pipeline (unit tests, tools). */
  static unbounded(): AdmissionLedger {
    return new AdmissionLedger({ maxBytes: Number.POSITIVE_INFINITY, maxSpans: Number.POSITIVE_INFINITY, retryAfterMs: 1000 });
  }

  /** Bytes held: by this process's every thread when shared. */
  get bytes(): number {
    return this.#shared ? this.#shared.holdings.total().bytes : this.#bytes;
  }

  get spans(): number {
    return this.#shared ? this.#shared.holdings.total().spans : this.#spans;
  }

  /** True while new data must be refused. */
  get full(): boolean {
    const { bytes, spans } = this.#shared ? this.#shared.holdings.total() : { bytes: this.#bytes, spans: this.#spans };
    return bytes >= this.limits.maxBytes || spans >= this.limits.maxSpans;
  }

  /**
   * Opens an account for one holder, named like `skywalking/sending_queue`. A name already taken
   * (a processor in two pipelines) gets a `#2` suffix, so every account is one holder's alone.
   */
  account(name: string): LedgerAccount {
    let unique = name;
    for (let n = 2; this.#accounts.has(unique); n++) unique = `${name}#${n}`;
    const account = new Account(unique, this, this.#metrics);
    this.#accounts.set(unique, account);
    return account;
  }

  /**
   * Registers a holder's own refusal: while `closed()` is true, receivers refuse new data as they
   * do when the ledger is full. This keeps every refusal at the edge, before acknowledgement, so
   * stages between a receiver and the holder never get a refusal for data they already accepted.
   */
  addValve(name: string, closed: () => boolean): void {
    this.#valves.push({ name, closed });
  }

  /** Throws a retryable OverloadedError while the bound is reached; `who` names the refusing receiver. */
  admit(who: string): void {
    for (const valve of this.#valves) {
      if (valve.closed()) throw new OverloadedError(`${who}: ${valve.name} cannot take more for now; retry later.`, this.limits.retryAfterMs);
    }
    const remote = this.#shared?.holdings.closedValve();
    if (remote !== undefined) {
      const name = this.#shared!.valveName?.(remote.slot, remote.index) ?? `a holder in worker ${remote.slot}`;
      throw new OverloadedError(`${who}: ${name} cannot take more for now; retry later.`, this.limits.retryAfterMs);
    }
    if (!this.full) return;
    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
    throw new OverloadedError(
      `${who}: skybridge holds ${mib(this.bytes)} / ${this.spans} spans not yet delivered (admission.max_bytes ${mib(this.limits.maxBytes)}, max_spans ${this.limits.maxSpans}); retry later.`,
      this.limits.retryAfterMs,
    );
  }

  /** The names of this thread's valves, in the order `publishValves` numbers them. */
  get valveNames(): string[] {
    return this.#valves.map((v) => v.name);
  }

  /**
   * Writes whether one of this thread's valves is closed into the shared slot, for the thread whose
   * receivers refuse. A worker calls it on a short interval: valves are conditions (a stalled
   * stream, a full Redis queue), not amounts that move.
   */
  publishValves(): void {
    this.#shared?.holdings.publishValve(this.#valves.findIndex((v) => v.closed()));
  }

  /** Per-account holdings, for logs and tests. */
  holdings(): Record<string, { bytes: number; spans: number }> {
    const out: Record<string, { bytes: number; spans: number }> = {};
    for (const [name, a] of this.#accounts) out[name] = { bytes: a.bytes, spans: a.spans };
    return out;
  }

  /** @internal Accounts report every move here. */
  move(bytes: number, spans: number): void {
    this.#bytes += bytes;
    this.#spans += spans;
    this.#shared?.holdings.publish(this.#bytes, this.#spans);
  }
}

class Account implements LedgerAccount {
  readonly name: string;
  readonly #ledger: AdmissionLedger;
  readonly #bytesGauge;
  readonly #spansGauge;
  bytes = 0;
  spans = 0;

  constructor(name: string, ledger: AdmissionLedger, metrics: Metrics | undefined) {
    this.name = name;
    this.#ledger = ledger;
    this.#bytesGauge = metrics?.admissionHeldBytes.labels({ holder: name });
    this.#spansGauge = metrics?.admissionHeldSpans.labels({ holder: name });
  }

  add(bytes: number, spans: number): void {
    this.bytes += bytes;
    this.spans += spans;
    this.#ledger.move(bytes, spans);
    this.#bytesGauge?.set(this.bytes);
    this.#spansGauge?.set(this.spans);
  }

  release(bytes: number, spans: number): void {
    this.add(-bytes, -spans);
  }

  holdNow(bytes: number, spans: number): void {
    if (bytes !== this.bytes || spans !== this.spans) this.add(bytes - this.bytes, spans - this.spans);
  }
}

/** The settings' ledger, or an unbounded one for a component built outside a pipeline. */
export function ledgerOf(settings: { readonly admission?: AdmissionLedger }): AdmissionLedger {
  return settings.admission ?? AdmissionLedger.unbounded();
}
