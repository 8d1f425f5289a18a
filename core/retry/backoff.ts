/**
 * The one retry delay every sender in skybridge uses: exponential backoff with full jitter (AWS
 * "Exponential Backoff And Jitter"): uniform in [0, min(max, initial × 2^(attempt−1))]. Full jitter
 * spreads many retrying peers apart, which matters most right after an outage ends.
 */
export interface BackoffPolicy {
  initialIntervalMs: number;
  maxIntervalMs: number;
}

/** Milliseconds to wait before retry number `attempt` (1 = the first retry). */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(policy.maxIntervalMs, policy.initialIntervalMs * 2 ** exponent);
  return Math.round(random() * ceiling);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
