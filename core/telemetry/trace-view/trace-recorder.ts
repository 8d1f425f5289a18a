/**
 * The last few traces the trace assemblers built, for the trace view (/traces) and `skybridge tap`.
 *
 * Recording happens inside the assembler's build slice, so it must cost next to nothing: it keeps
 * references to the objects the build already made (the held spans, the segments, the placement
 * map) and does a few map operations per trace, never per span. Everything derived from them
 * (summaries, JSON) is computed when someone asks (trace-summary.ts, trace-json.ts).
 *
 * Bounds: `max_traces` traces and `max_spans` source spans in all; past either the least recently
 * built trace is forgotten. A trace gathers at most `max_spans_per_trace` source spans, the rest of
 * it is left out and the trace is marked truncated. Later flushes of a trace already kept (late
 * spans, the pieces of an oversized trace) join its entry, so its refs can be drawn together.
 */
import { estimateSpanBytes } from '../../traces/span-size.ts';
import type { HeldSpan, SpanPlacement } from '../../segments/segment-builder.ts';
import type { AssembledSegment } from '../../segments/segment-object.ts';
import type { TraceViewConfig } from './config.ts';

/** One build of (part of) a trace: what went in and what came out. */
export interface RecordedFlush {
  atMs: number;
  /** The source spans as the receivers decoded them (the internal span model). */
  held: readonly HeldSpan[];
  segments: readonly AssembledSegment[];
  /** OTel span id → where the span went (segment id, span number). */
  placements: ReadonlyMap<string, SpanPlacement>;
}

export interface RecordedTrace {
  /** The OTel trace id the assembler held the spans under. */
  traceId: string;
  /** The component id of the assembler (a pipeline may have several). */
  assembler: string;
  firstMs: number;
  lastMs: number;
  flushes: RecordedFlush[];
  /** Source spans kept of this trace. */
  spans: number;
  /** Estimated heap the kept spans and their segments hold (see spanAndSegmentBytes). */
  bytes: number;
  /** Spans of this trace were left out (max_spans_per_trace, max_bytes). */
  truncated: boolean;
}

export type TraceListener = (trace: RecordedTrace, flush: RecordedFlush) => void;

export type TraceViewLimits = Pick<TraceViewConfig, 'max_traces' | 'max_spans' | 'max_spans_per_trace' | 'max_bytes'>;

/**
 * What keeping a source span costs: its decoded heap, and about as much again for its part of the
 * built segments (translated strings, tags, the segment objects), which live as long as it does here.
 */
function spanAndSegmentBytes(held: HeldSpan): number {
  return 2 * estimateSpanBytes(held.span);
}

/** A kept trace in the recency list (a linked list: moving and evicting are O(1), no Map iteration). */
interface Kept {
  trace: RecordedTrace;
  older: Kept | undefined;
  newer: Kept | undefined;
}

export class TraceRecorder {
  readonly #limits: TraceViewLimits;
  /**
   * Assembler id → trace id → kept trace. Keyed by the trace id string itself, whose hash V8 has
   * cached since the trace buffer used it, rather than by a new concatenated key per record.
   */
  readonly #byAssembler = new Map<string, Map<string, Kept>>();
  #size = 0;
  #oldest: Kept | undefined;
  #newest: Kept | undefined;
  readonly #listeners = new Set<TraceListener>();
  #spans = 0;
  #bytes = 0;

  constructor(limits: TraceViewLimits) {
    this.#limits = { ...limits, max_spans_per_trace: Math.min(limits.max_spans_per_trace, limits.max_spans) };
  }

  get size(): number {
    return this.#size;
  }

  /** Source spans kept in all. */
  get spans(): number {
    return this.#spans;
  }

  /** Estimated heap the kept traces hold. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Called by a trace assembler after it built segments for `traceId`. */
  record(assembler: string, traceId: string, held: readonly HeldSpan[], segments: readonly AssembledSegment[], placements: ReadonlyMap<string, SpanPlacement>): void {
    const now = Date.now();
    let traces = this.#byAssembler.get(assembler);
    if (traces === undefined) this.#byAssembler.set(assembler, (traces = new Map()));
    let kept = traces.get(traceId);
    if (kept === undefined) {
      kept = { trace: { traceId, assembler, firstMs: now, lastMs: now, flushes: [], spans: 0, bytes: 0, truncated: false }, older: undefined, newer: undefined };
      traces.set(traceId, kept);
      this.#size++;
    } else {
      this.#unlink(kept);
      kept.trace.lastMs = now;
    }
    this.#linkNewest(kept);
    const trace = kept.trace;

    // Spans that fit both the trace's span room and the byte budget (a trace of huge spans is kept
    // cut rather than pushing every other trace out, or holding its megabytes alive).
    const spanRoom = Math.max(0, this.#limits.max_spans_per_trace - trace.spans);
    let byteRoom = this.#limits.max_bytes - trace.bytes;
    let fitting = 0;
    let bytes = 0;
    for (; fitting < held.length && fitting < spanRoom; fitting++) {
      const size = spanAndSegmentBytes(held[fitting]!);
      if (size > byteRoom) break;
      byteRoom -= size;
      bytes += size;
    }
    let flush: RecordedFlush = { atMs: now, held, segments, placements };
    if (fitting < held.length) {
      flush = truncate(flush, fitting);
      trace.truncated = true;
    }
    if (flush.held.length > 0 || flush.segments.length > 0) {
      trace.flushes.push(flush);
      trace.spans += flush.held.length;
      trace.bytes += bytes;
      this.#spans += flush.held.length;
      this.#bytes += bytes;
    }
    this.#evictBeyondBounds();
    if (this.#listeners.size > 0) this.#notify(trace, flush);
  }

  #notify(trace: RecordedTrace, flush: RecordedFlush): void {
    for (const listener of this.#listeners) {
      try {
        listener(trace, flush);
      } catch {
        // A viewer's fault must not reach the assembler that is building traces.
        this.#listeners.delete(listener);
      }
    }
  }

  /** Kept traces, most recently built first. */
  *newestFirst(): Generator<RecordedTrace> {
    for (let kept = this.#newest; kept !== undefined; kept = kept.older) yield kept.trace;
  }

  /** Every kept trace whose OTel trace id, or the SkyWalking trace id of one of its segments, is `traceId`. */
  find(traceId: string): RecordedTrace[] {
    const id = traceId.toLowerCase();
    const found: RecordedTrace[] = [];
    for (const trace of this.newestFirst()) {
      if (trace.traceId === id || trace.flushes.some((f) => f.segments.some((s) => s.segment.traceId === traceId))) found.push(trace);
    }
    return found;
  }

  /** Calls `listener` with every flush recorded from now on; returns the unsubscribe. */
  subscribe(listener: TraceListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Forgets the oldest traces until within bounds; never the newest (it was cut to fit max_spans_per_trace ≤ max_spans and max_bytes). */
  #evictBeyondBounds(): void {
    while ((this.#size > this.#limits.max_traces || this.#spans > this.#limits.max_spans || this.#bytes > this.#limits.max_bytes) && this.#oldest !== this.#newest) {
      const oldest = this.#oldest!;
      this.#unlink(oldest);
      this.#byAssembler.get(oldest.trace.assembler)!.delete(oldest.trace.traceId);
      this.#size--;
      this.#spans -= oldest.trace.spans;
      this.#bytes -= oldest.trace.bytes;
    }
  }

  #unlink(kept: Kept): void {
    if (kept.older) kept.older.newer = kept.newer;
    else this.#oldest = kept.newer;
    if (kept.newer) kept.newer.older = kept.older;
    else this.#newest = kept.older;
    kept.older = kept.newer = undefined;
  }

  #linkNewest(kept: Kept): void {
    kept.older = this.#newest;
    if (this.#newest) this.#newest.newer = kept;
    else this.#oldest = kept;
    this.#newest = kept;
  }
}

/**
 * The first `room` source spans of a flush and the segments whose spans fit beside them (rare: only
 * traces past max_spans_per_trace get here, so copying is fine).
 */
function truncate(flush: RecordedFlush, room: number): RecordedFlush {
  const segments: AssembledSegment[] = [];
  let spans = 0;
  for (const s of flush.segments) {
    spans += s.segment.spans.length;
    if (spans > room) break;
    segments.push(s);
  }
  return { atMs: flush.atMs, held: flush.held.slice(0, room), segments, placements: flush.placements };
}
