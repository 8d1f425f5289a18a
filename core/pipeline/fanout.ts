import type { ConsumeContext, TraceConsumer } from '../consumer.ts';
import { cloneBatch, type SpanBatch } from '../model/span-batch.ts';

/**
 * Hands one batch to several consumers (the exporters of a pipeline, or the pipelines sharing a
 * receiver). Accepted only when every branch accepted: a rejection goes back to the sender, which
 * resends, and the branches that already took it see a duplicate, which deterministic segment ids
 * and the assembler's duplicate check absorb (at-least-once, never at-most-once).
 */
export class Fanout implements TraceConsumer {
  readonly mutatesData: boolean;
  readonly #consumers: readonly TraceConsumer[];

  constructor(consumers: readonly TraceConsumer[]) {
    this.#consumers = consumers;
    this.mutatesData = consumers.some((c) => c.mutatesData);
  }

  async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    const consumers = this.#consumers;
    if (consumers.length === 1) return consumers[0]!.consume(batch, ctx);
    // Mutating branches get their own copy; the last branch may keep the original.
    const results = await Promise.allSettled(
      consumers.map((c, i) => c.consume(c.mutatesData && i < consumers.length - 1 ? cloneBatch(batch) : batch, ctx)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  abandon(traceIds: ReadonlySet<string>): void {
    for (const c of this.#consumers) c.abandon?.(traceIds);
  }

  holds(traceId: string): boolean {
    return this.#consumers.some((c) => c.holds?.(traceId) === true);
  }
}
