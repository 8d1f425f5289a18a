/**
 * Per-second rates from counter totals sampled over time. The status page samples only while
 * someone polls it, so the history is short and bounded: samples older than `keepMs` go, and a
 * rate compares the newest sample with the oldest one inside `windowMs` (smoothing the jitter of
 * one poll interval without hiding a change for long).
 */

export interface RateHistoryOptions {
  windowMs: number;
  keepMs: number;
}

interface Point {
  at: number;
  totals: ReadonlyMap<string, number>;
}

export class RateHistory {
  readonly #options: RateHistoryOptions;
  #points: Point[] = [];

  constructor(options: RateHistoryOptions) {
    this.#options = options;
  }

  /** Counter totals at time `at` (ms, increasing). */
  add(at: number, totals: ReadonlyMap<string, number>): void {
    this.#points.push({ at, totals });
    // The newest two always stay, so a page polled less often than keepMs still gets a rate.
    while (this.#points.length > 2 && at - this.#points[0]!.at > this.#options.keepMs) this.#points.shift();
  }

  /** Seconds the rates are measured over, or null with fewer than two samples. */
  windowSeconds(): number | null {
    const base = this.#base();
    return base === undefined ? null : (this.#latest()!.at - base.at) / 1000;
  }

  /**
   * Per second, over the window; null with fewer than two samples. A counter absent from the base
   * sample started at 0 since (prom-client shows a series once it is first counted); one that went
   * down (a worker thread restarted) counts from 0 again rather than giving a negative rate.
   */
  rate(key: string): number | null {
    const latest = this.#latest();
    const base = this.#base();
    if (latest === undefined || base === undefined) return null;
    const now = latest.totals.get(key) ?? 0;
    const then = base.totals.get(key) ?? 0;
    const seconds = (latest.at - base.at) / 1000;
    if (seconds <= 0) return null;
    return (now >= then ? now - then : now) / seconds;
  }

  #latest(): Point | undefined {
    return this.#points.at(-1);
  }

  /** The oldest sample inside the window, or else the one before the newest. */
  #base(): Point | undefined {
    const latest = this.#latest();
    if (latest === undefined || this.#points.length < 2) return undefined;
    const inWindow = this.#points.find((p) => p !== latest && latest.at - p.at <= this.#options.windowMs);
    return inWindow ?? this.#points.at(-2);
  }
}
