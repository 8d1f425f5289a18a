/**
 * Folds a run of similar events (drops, rejections, bad packets) into one log line per interval, with
 * the count since the previous line, so an outage or a flood of garbage never turns into one log line
 * per batch, span or packet.
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
   * Counts `count` events. Returns the total to report (this call's plus those held back since the
   * last line) when a line is due now, or `undefined` when the caller should stay quiet. The first
   * event of a burst is always reported at once.
   */
  take(count = 1): number | undefined {
    this.#pending += count;
    // Monotonic, so a wall-clock step neither floods the log nor silences it.
    const now = performance.now();
    if (now - this.#lastLoggedMs < this.#intervalMs) return undefined;
    this.#lastLoggedMs = now;
    const total = this.#pending;
    this.#pending = 0;
    return total;
  }
}
