/**
 * The load loop every transport shares: pre-encoded requests from a pool, a fixed number in flight
 * (closed loop) or started at a fixed rate (open loop), and resends of refusals the protocol calls
 * retryable, after the delay the server asked for or an exponential backoff with jitter. Every
 * retry is counted. The transport (otlp-load.ts, http-load.ts) only sends one attempt.
 */
import type { LoadRequest, RequestPool } from './request-pool.ts';

export const CALL_TIMEOUT_MS = 30_000;
/** A request still refused after this long is given up and counted as failed. */
const GIVE_UP_AFTER_MS = 60_000;
const BACKOFF_INITIAL_MS = 50;
const BACKOFF_MAX_MS = 2_000;

export interface LoadOptions {
  pool: RequestPool;
  /** Calls in flight at once. */
  concurrency: number;
  /**
   * Stop after this many requests... (both stops wait for the end of a group: see
   * `RequestPool.endsGroup`; only Jaeger pools have groups of more than one request)
   */
  requests?: number;
  /** ...or stop starting new ones once this long has passed since the first send. */
  durationMs?: number;
  /**
   * Requests started per second, spread evenly (open loop). Absent: each call starts as soon as a
   * slot is free (closed loop), which finds the saturation throughput.
   */
  rate?: number;
  /** Called once per request, at its first attempt (`performance.now()` time). */
  onFirstSend?: (request: LoadRequest, atMs: number) => void;
}

export interface LoadResult {
  /** Requests started: indexes 0..requestsStarted-1 of the pool were used. */
  requestsStarted: number;
  requestsAcked: number;
  spansAcked: number;
  requestsFailed: number;
  spansFailed: number;
  /** Resends, by status name (gRPC status, HTTP status code or socket error code). */
  retries: Record<string, number>;
  /** The first few permanent failures, for the report. */
  failures: string[];
  firstSendMs: number;
  lastAckMs: number;
}

/** What one attempt came to. */
export type Attempt =
  | { ok: true }
  | {
      ok: false;
      /** The status as the report names it: `RESOURCE_EXHAUSTED`, `429`, `ECONNRESET`... */
      status: string;
      details: string;
      retryable: boolean;
      /** The delay the server asked for, if it named one. */
      retryAfterMs?: number;
    };

/** Sends one request body once; never rejects. */
export type SendOnce = (bytes: Buffer) => Promise<Attempt>;

/** Sends the requests; resolves when every started request was acked or given up. */
export async function runLoad(options: LoadOptions, send: SendOnce): Promise<LoadResult> {
  const result: LoadResult = {
    requestsStarted: 0,
    requestsAcked: 0,
    spansAcked: 0,
    requestsFailed: 0,
    spansFailed: 0,
    retries: {},
    failures: [],
    firstSendMs: 0,
    lastAckMs: 0,
  };
  let next = 0;
  let firstSendMs: number | undefined;
  let startedAt: number | undefined = options.rate === undefined ? undefined : performance.now();
  const takeIndex = (): number | undefined => {
    const inGroup = next > 0 && !options.pool.endsGroup(next - 1);
    if (!inGroup) {
      if (options.requests !== undefined && next >= options.requests) return undefined;
      if (options.durationMs !== undefined && startedAt !== undefined && performance.now() - startedAt >= options.durationMs) return undefined;
    }
    return next++;
  };

  const worker = async (): Promise<void> => {
    for (let index = takeIndex(); index !== undefined; index = takeIndex()) {
      if (options.rate !== undefined) {
        const due = startedAt! + (index * 1000) / options.rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const request = options.pool.request(index);
      const bytes = Buffer.isBuffer(request.bytes) ? request.bytes : Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
      const first = performance.now();
      startedAt ??= first;
      firstSendMs ??= first;
      result.requestsStarted++;
      options.onFirstSend?.(request, first);
      let backoff = BACKOFF_INITIAL_MS;
      for (;;) {
        const attempt = await send(bytes);
        if (attempt.ok) {
          result.requestsAcked++;
          result.spansAcked += request.spanCount;
          result.lastAckMs = performance.now();
          break;
        }
        if (!attempt.retryable || performance.now() - first > GIVE_UP_AFTER_MS) {
          result.requestsFailed++;
          result.spansFailed += request.spanCount;
          if (result.failures.length < 5) result.failures.push(`${attempt.status}: ${attempt.details}`);
          break;
        }
        result.retries[attempt.status] = (result.retries[attempt.status] ?? 0) + 1;
        // Equal jitter: half the backoff fixed, half random, so refused senders spread out.
        const wait = attempt.retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  };

  await Promise.all(Array.from({ length: options.concurrency }, worker));
  result.firstSendMs = firstSendMs ?? 0;
  return result;
}
