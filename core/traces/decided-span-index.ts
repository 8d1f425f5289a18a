/**
 * What became of spans whose trace already left a trace buffer, keyed trace → span, so that a span
 * arriving later (a slow SDK batch, a retry) is recognised as a duplicate, its parent is not
 * reported missing, and the owner can look up where the parent went (the trace assembler stores
 * each span's segment placement here, so a late child still gets a ref to the right segment).
 *
 * Bounded in spans; whole traces leave oldest first (a Map iterates in insertion order). Keyed
 * trace → span so no per-lookup key string is built on the hot path.
 */
import type { KnownSpans } from './trace-buffer.ts';

export class DecidedSpanIndex<V> {
  readonly #traces = new Map<string, Map<string, V>>();
  readonly #capacity: number;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Spans remembered. */
  get size(): number {
    return this.#size;
  }

  /** The spans of one trace, if any of them were decided and are still remembered. */
  trace(traceId: string): (ReadonlyMap<string, V> & KnownSpans) | undefined {
    return this.#traces.get(traceId);
  }

  get(traceId: string, spanId: string): V | undefined {
    return this.#traces.get(traceId)?.get(spanId);
  }

  has(traceId: string, spanId: string): boolean {
    return this.#traces.get(traceId)?.has(spanId) ?? false;
  }

  /** Remembers spans of one trace; takes ownership of `spans`. */
  addAll(traceId: string, spans: Map<string, V>): void {
    if (this.#capacity === 0) return;
    let known = this.#traces.get(traceId);
    if (known) {
      // Late spans of a trace already here: merge, and move the trace to the young end.
      this.#traces.delete(traceId);
      for (const [spanId, value] of spans) {
        if (!known.has(spanId)) this.#size++;
        known.set(spanId, value);
      }
    } else {
      known = spans;
      this.#size += spans.size;
    }
    this.#traces.set(traceId, known);
    for (const [oldest, old] of this.#traces) {
      if (this.#size <= this.#capacity || oldest === traceId) break;
      this.#traces.delete(oldest);
      this.#size -= old.size;
    }
  }
}
