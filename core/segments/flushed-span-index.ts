/**
 * Placements of spans whose trace was already turned into segments, so that a span arriving later
 * (a slow SDK batch, a retry) still gets a ref to the right parent segment, and a re-sent span is
 * recognised as a duplicate. Bounded: the oldest entries go first (a Map iterates in insertion order).
 */
import type { SpanPlacement } from './segment-builder.ts';

export class FlushedSpanIndex {
  readonly #entries = new Map<string, SpanPlacement>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(traceId: string, spanId: string): SpanPlacement | undefined {
    return this.#entries.get(traceId + spanId);
  }

  has(traceId: string, spanId: string): boolean {
    return this.#entries.has(traceId + spanId);
  }

  addAll(traceId: string, placements: Map<string, SpanPlacement>): void {
    if (this.#capacity === 0) return;
    for (const [spanId, placement] of placements) {
      const key = traceId + spanId;
      this.#entries.delete(key); // re-insert at the young end
      this.#entries.set(key, placement);
    }
    let excess = this.#entries.size - this.#capacity;
    if (excess <= 0) return;
    for (const key of this.#entries.keys()) {
      this.#entries.delete(key);
      if (--excess === 0) break;
    }
  }
}
