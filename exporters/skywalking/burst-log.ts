/**
 * Folds a run of similar events (drops, rejections) into one log line per interval, with the count
 * since the previous line, so an outage never turns into one log line per batch or per span.
 */
export class BurstLog {
  readonly #intervalMs: number;
  #lastLoggedMs = Number.NEGATIVE_INFINITY;
  #pending = 0;

  /** @param intervalMs Shortest time between two lines for this kind of event. */
  constructor(intervalMs = 10_000) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Count `count` events. Returns the total to report (this call's plus those held back since the
   * last line) when a line is due now, or `undefined` when the caller should stay quiet. The first
   * event of a burst is always reported at once.
   */
  take(count: number): number | undefined {
    this.#pending += count;
    const now = Date.now();
    if (now - this.#lastLoggedMs < this.#intervalMs) return undefined;
    this.#lastLoggedMs = now;
    const total = this.#pending;
    this.#pending = 0;
    return total;
  }
}
