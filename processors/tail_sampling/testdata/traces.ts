/** Fixtures for the tail_sampling tests: the 3-service checkout trace with a chosen id and start. */
import { threeServiceTrace, type ThreeServiceTrace } from '../../../test/support/span-fixtures.ts';
import type { SpanBatch } from '../../../core/model/span-batch.ts';

/** A 32-hex trace id from a seeded generator (mulberry32), so tests are repeatable. */
export function seededIds(seed: number): () => string {
  let state = seed >>> 0;
  const u32 = () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return () => Array.from({ length: 4 }, () => u32().toString(16).padStart(8, '0')).join('');
}

export interface TraceOptions {
  traceId: string;
  /** Start of the root span, ms since the epoch. */
  startMs: number;
  /** payments answers 500: every span on the path gets status ERROR. */
  error?: boolean;
  /** The frontend SERVER span's http.route (default /checkout). */
  route?: string;
}

/** frontend → orders → payments, 6 spans over 45 ms, with the given id and start. */
export function checkoutTrace(o: TraceOptions): ThreeServiceTrace {
  const t = threeServiceTrace({ t0: BigInt(o.startMs) * 1_000_000n, paymentsStatus: o.error ? 500 : 200 });
  for (const rs of Object.values(t.batches)) for (const ss of rs.scopeSpans) for (const s of ss.spans) s.traceId = o.traceId;
  if (o.route) {
    const server = t.batches.frontend.scopeSpans[0]!.spans.find((s) => s.spanId === t.ids.feServer)!;
    server.attributes['http.route'] = o.route;
    server.attributes['http.target'] = o.route;
  }
  return { ...t, traceId: o.traceId };
}

/** Every span of the trace in one batch. */
export function wholeBatch(t: ThreeServiceTrace): SpanBatch {
  return { resourceSpans: [t.batches.frontend, t.batches.orders, t.batches.payments] };
}

export function traceIdsIn(batch: SpanBatch): Set<string> {
  const ids = new Set<string>();
  for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) ids.add(s.traceId);
  return ids;
}

export function spanCount(batch: SpanBatch): number {
  let n = 0;
  for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}
