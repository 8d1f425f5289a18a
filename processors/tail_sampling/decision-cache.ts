/**
 * Trace id → kept (true) or dropped (false), for spans that arrive after their trace was decided.
 * Bounded in entries; the oldest decision is forgotten first. A span whose decision was forgotten
 * starts a new trace in the buffer and gets a decision of its own.
 */
export class DecisionCache {
  readonly #decisions = new Map<string, boolean>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#decisions.size;
  }

  get(traceId: string): boolean | undefined {
    return this.#decisions.get(traceId);
  }

  set(traceId: string, kept: boolean): void {
    if (this.#capacity === 0) return;
    this.#decisions.delete(traceId);
    this.#decisions.set(traceId, kept);
    if (this.#decisions.size > this.#capacity) {
      const oldest = this.#decisions.keys().next().value!;
      this.#decisions.delete(oldest);
    }
  }
}
