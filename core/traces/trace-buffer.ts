/**
 * Spans held per trace id until their owner decides what to do with the whole trace. Shared by the
 * trace assembler (core/segments, which turns a ready trace into segments) and the tail_sampling
 * processor (which keeps or drops it); it knows nothing of either.
 *
 * - **Whole:** a trace is whole when every parent span id it references is held, or was decided
 *   before (the owner's `decidedSpans` index), or is a SkyWalking agent's span that a continued
 *   trace points at (it will never arrive as an OTel span; core/propagation/skywalking-continuation.ts).
 * - **Ready:** a trace is ready when it is whole and no span of it arrived for `quietPeriodMs`
 *   (`complete`), or `maxWaitMs` after its first span arrived, whatever is missing (`timeout`).
 *   `tick(now)` reports ready traces, oldest first. The owner then takes the trace out (`remove`)
 *   or keeps it here on purpose (`park`); a parked trace is reported again only after a new span
 *   arrives for it and it is ready again.
 * - **Bounds:** a trace over `maxSpansPerTrace` spans (`oversized`), and then the oldest traces
 *   while the buffer is over `maxTraces`, `maxSpans` or `maxBytes` (`evicted`), are taken out and
 *   handed to the owner by `enforceBounds()`. Nothing leaves silently: the owner decides each one.
 * - **Duplicates:** a span already held, or already decided, is not added (`add` returns undefined).
 *
 * Times are milliseconds from the owner's clock (Date.now() in production, a fake one in tests).
 */
import type { Span } from '../model/span-batch.ts';
import { otelSpanIdFromSkyWalking, skyWalkingParentFromTracestate } from '../propagation/skywalking-continuation.ts';

/** What a buffer holds per span: at least the span; owners add what they need to act on it. */
export interface BufferedSpan {
  readonly span: Span;
}

/** Span ids of one trace already decided (handed on or dropped) by the owner. */
export interface KnownSpans {
  has(spanId: string): boolean;
}

export interface HeldTrace<S extends BufferedSpan> {
  readonly traceId: string;
  /** Span id → held span. */
  readonly spans: Map<string, S>;
  /** Parent span ids referenced but neither held nor decided. Empty = the trace is whole. */
  readonly missingParents: Set<string>;
  readonly firstSeenMs: number;
  lastSeenMs: number;
  /** Sum of the owner's size estimate of its spans (0 without `sizeOf`). */
  bytes: number;
  /** The owner saw it ready and holds it on purpose; cleared when a new span arrives. */
  parked: boolean;
}

export type ReadyReason = 'complete' | 'timeout';
export type EvictReason = 'evicted' | 'oversized';

export interface TraceBufferLimits {
  quietPeriodMs: number;
  maxWaitMs: number;
  maxTraces: number;
  maxSpans: number;
  /** Sum of `sizeOf` over every held span. Infinity when absent. */
  maxBytes?: number;
  /** Infinity when absent. */
  maxSpansPerTrace?: number;
}

export interface TraceBufferHooks<S extends BufferedSpan> {
  /** The trace is ready and still held: the owner must `remove` or `park` it. */
  onReady(trace: HeldTrace<S>, reason: ReadyReason): void;
  /** The trace was taken out to keep the buffer within its bounds; the owner decides it now. */
  onEvict(trace: HeldTrace<S>, reason: EvictReason): void;
  /** Spans of the trace decided earlier: duplicates if they come again, never missing as parents. */
  decidedSpans?(traceId: string): KnownSpans | undefined;
  /** Estimated bytes a held span costs; needed for `maxBytes`. */
  sizeOf?(entry: S): number;
}

/** The span's parent is a SkyWalking agent's span (it will never arrive as an OTel span). */
export function continuesSkyWalkingAgent(span: Span): boolean {
  if (!span.traceState) return false;
  const sw = skyWalkingParentFromTracestate(span.traceState);
  return sw !== undefined && otelSpanIdFromSkyWalking(sw.parentSegmentId, sw.parentSpanId) === span.parentSpanId;
}

export class TraceBuffer<S extends BufferedSpan> {
  readonly #traces = new Map<string, HeldTrace<S>>();
  readonly #quietPeriodMs: number;
  readonly #maxWaitMs: number;
  readonly #maxTraces: number;
  readonly #maxSpans: number;
  readonly #maxBytes: number;
  readonly #maxSpansPerTrace: number;
  readonly #hooks: TraceBufferHooks<S>;
  /** Traces that went over maxSpansPerTrace since the last enforceBounds. */
  readonly #oversized: string[] = [];
  #spans = 0;
  #bytes = 0;

  constructor(limits: TraceBufferLimits, hooks: TraceBufferHooks<S>) {
    this.#quietPeriodMs = limits.quietPeriodMs;
    this.#maxWaitMs = limits.maxWaitMs;
    this.#maxTraces = limits.maxTraces;
    this.#maxSpans = limits.maxSpans;
    this.#maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#maxSpansPerTrace = limits.maxSpansPerTrace ?? Number.POSITIVE_INFINITY;
    this.#hooks = hooks;
  }

  get heldTraces(): number {
    return this.#traces.size;
  }

  get heldSpans(): number {
    return this.#spans;
  }

  get heldBytes(): number {
    return this.#bytes;
  }

  get(traceId: string): HeldTrace<S> | undefined {
    return this.#traces.get(traceId);
  }

  /** Held traces, oldest (first seen) first. */
  traces(): IterableIterator<HeldTrace<S>> {
    return this.#traces.values();
  }

  /**
   * Holds one span. Returns its trace, or undefined when the span is a duplicate (already held or
   * already decided). Bounds are applied by `enforceBounds`, once per batch.
   */
  add(entry: S, now: number): HeldTrace<S> | undefined {
    const span = entry.span;
    const traceId = span.traceId;
    const decided = this.#hooks.decidedSpans?.(traceId);
    if (decided?.has(span.spanId)) return undefined;
    let trace = this.#traces.get(traceId);
    if (!trace) {
      trace = { traceId, spans: new Map(), missingParents: new Set(), firstSeenMs: now, lastSeenMs: now, bytes: 0, parked: false };
      this.#traces.set(traceId, trace);
    } else if (trace.spans.has(span.spanId)) {
      return undefined;
    }
    trace.spans.set(span.spanId, entry);
    trace.lastSeenMs = now;
    trace.parked = false;
    trace.missingParents.delete(span.spanId);
    const parent = span.parentSpanId;
    if (parent && !trace.spans.has(parent) && !decided?.has(parent) && !continuesSkyWalkingAgent(span)) trace.missingParents.add(parent);
    const bytes = this.#hooks.sizeOf === undefined ? 0 : this.#hooks.sizeOf(entry);
    trace.bytes += bytes;
    this.#bytes += bytes;
    this.#spans++;
    if (trace.spans.size === this.#maxSpansPerTrace + 1) this.#oversized.push(traceId);
    return trace;
  }

  /** Takes a trace out (the owner decided it). */
  remove(traceId: string): HeldTrace<S> | undefined {
    const trace = this.#traces.get(traceId);
    if (!trace) return undefined;
    this.#traces.delete(traceId);
    this.#spans -= trace.spans.size;
    this.#bytes -= trace.bytes;
    return trace;
  }

  /** Keeps a ready trace held without reporting it again until a new span arrives for it. */
  park(trace: HeldTrace<S>): void {
    trace.parked = true;
  }

  /** Reports every held, unparked trace that is ready at `now` to `onReady`, oldest first. */
  tick(now: number): void {
    // Deleting the current entry while iterating a Map is safe; onReady usually does.
    for (const trace of this.#traces.values()) {
      if (trace.parked) continue;
      if (now - trace.firstSeenMs >= this.#maxWaitMs) this.#hooks.onReady(trace, 'timeout');
      else if (trace.missingParents.size === 0 && now - trace.lastSeenMs >= this.#quietPeriodMs) this.#hooks.onReady(trace, 'complete');
    }
  }

  /**
   * Takes out oversized traces, then the oldest traces while over a bound, and hands each to
   * `onEvict`. Call after every batch.
   */
  enforceBounds(): void {
    if (this.#oversized.length > 0) {
      const ids = this.#oversized.splice(0);
      for (const id of ids) {
        const trace = this.remove(id);
        if (trace) this.#hooks.onEvict(trace, 'oversized');
      }
    }
    for (const trace of this.#traces.values()) {
      if (this.#traces.size <= this.#maxTraces && this.#spans <= this.#maxSpans && this.#bytes <= this.#maxBytes) break;
      this.remove(trace.traceId);
      this.#hooks.onEvict(trace, 'evicted');
    }
  }

  /** Takes every trace out, oldest first (shutdown). */
  drain(): HeldTrace<S>[] {
    const all = [...this.#traces.values()];
    this.#traces.clear();
    this.#oversized.length = 0;
    this.#spans = 0;
    this.#bytes = 0;
    return all;
  }
}
