/**
 * Placements of spans whose trace was already turned into segments, so that a span arriving later
 * (a slow SDK batch, a retry) still gets a ref to the right parent segment, and a re-sent span is
 * recognised as a duplicate. Bounded in spans; whole traces leave oldest first (a Map iterates in
 * insertion order). Keyed trace → span so no per-lookup key string is built on the hot path.
 */
import type { SpanPlacement } from './segment-builder.ts';

export class FlushedSpanIndex {
  readonly #traces = new Map<string, Map<string, SpanPlacement>>();
  readonly #capacity: number;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Spans remembered. */
  get size(): number {
    return this.#size;
  }

  /** The placements of one trace, if any of its spans were flushed and are still remembered. */
  trace(traceId: string): ReadonlyMap<string, SpanPlacement> | undefined {
    return this.#traces.get(traceId);
  }

  get(traceId: string, spanId: string): SpanPlacement | undefined {
    return this.#traces.get(traceId)?.get(spanId);
  }

  has(traceId: string, spanId: string): boolean {
    return this.#traces.get(traceId)?.has(spanId) ?? false;
  }

  addAll(traceId: string, placements: Map<string, SpanPlacement>): void {
    if (this.#capacity === 0) return;
    let known = this.#traces.get(traceId);
    if (known) {
      // Late spans of a trace already here: merge, and move the trace to the young end.
      this.#traces.delete(traceId);
      for (const [spanId, placement] of placements) {
        if (!known.has(spanId)) this.#size++;
        known.set(spanId, placement);
      }
    } else {
      known = placements;
      this.#size += placements.size;
    }
    this.#traces.set(traceId, known);
    for (const [oldest, spans] of this.#traces) {
      if (this.#size <= this.#capacity || oldest === traceId) break;
      this.#traces.delete(oldest);
      this.#size -= spans.size;
    }
  }
}
