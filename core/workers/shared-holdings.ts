/**
 * The admission ledger's totals shared between threads. With `workers: N` the spans a sender was
 * told about are held in N worker threads, while the receivers that must refuse new data run in
 * the main thread: each thread publishes its own holdings into its slot of a SharedArrayBuffer, and
 * `total()` sums the slots, so the bound is one bound for the whole process as docs/admission.md
 * promises. Each slot has one writer (its thread); Atomics keep the 64-bit values whole.
 */

/** What a thread needs to open its slot (structured-cloneable, so it crosses `workerData`). */
export interface SharedHoldingsInit {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
}

/** Per slot: bytes and spans (BigInt64), then a valve word (Int32): 0 open, k + 1 valve k closed. */
export class SharedHoldings {
  readonly #amounts: BigInt64Array;
  readonly #valves: Int32Array;
  readonly #slot: number;
  readonly #slots: number;

  static allocate(slots: number): SharedHoldingsInit {
    return { buffer: new SharedArrayBuffer(slots * 16 + slots * 4), slots };
  }

  constructor(init: SharedHoldingsInit, slot: number) {
    if (slot < 0 || slot >= init.slots) throw new RangeError(`slot ${slot} outside 0..${init.slots - 1}`);
    this.#amounts = new BigInt64Array(init.buffer, 0, init.slots * 2);
    this.#valves = new Int32Array(init.buffer, init.slots * 16, init.slots);
    this.#slot = slot;
    this.#slots = init.slots;
  }

  /** This thread's holdings now (whole numbers of bytes and spans). */
  publish(bytes: number, spans: number): void {
    Atomics.store(this.#amounts, this.#slot * 2, BigInt(Math.round(bytes)));
    Atomics.store(this.#amounts, this.#slot * 2 + 1, BigInt(Math.round(spans)));
  }

  /** This thread's first closed valve (its index among the thread's valves), or -1 when all are open. */
  publishValve(closedIndex: number): void {
    Atomics.store(this.#valves, this.#slot, closedIndex + 1);
  }

  /** Holdings of every thread together. */
  total(): { bytes: number; spans: number } {
    let bytes = 0n;
    let spans = 0n;
    for (let s = 0; s < this.#slots; s++) {
      bytes += Atomics.load(this.#amounts, s * 2);
      spans += Atomics.load(this.#amounts, s * 2 + 1);
    }
    return { bytes: Number(bytes), spans: Number(spans) };
  }

  /** A closed valve in any thread: the slot and the valve's index there. */
  closedValve(): { slot: number; index: number } | undefined {
    for (let s = 0; s < this.#slots; s++) {
      const v = Atomics.load(this.#valves, s);
      if (v > 0) return { slot: s, index: v - 1 };
    }
    return undefined;
  }
}
