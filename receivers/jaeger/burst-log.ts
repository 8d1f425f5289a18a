/**
 * Folds a run of similar events (bad packets, refused batches) into one log line per interval, with
 * the count since the previous line, so a flood of UDP garbage never becomes a flood of log lines.
 */
export class BurstLog {
  readonly #intervalMs: number;
  #lastMs = Number.NEGATIVE_INFINITY;
  #pending = 0;

  /** @param intervalMs Shortest time between two lines for this kind of event. */
  constructor(intervalMs = 10_000) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Counts `n` events and returns how many to report when a line is due now (the first event of a
   * burst always is), or `undefined` when the caller should stay quiet.
   */
  take(n = 1): number | undefined {
    this.#pending += n;
    const now = performance.now();
    if (now - this.#lastMs < this.#intervalMs) return undefined;
    this.#lastMs = now;
    const total = this.#pending;
    this.#pending = 0;
    return total;
  }
}
