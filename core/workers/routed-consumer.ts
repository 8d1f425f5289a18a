/**
 * The `next` a receiver gets with `workers: N`: every span goes to the worker that owns its trace
 * (trace-owner.ts), and the request is acknowledged only once every worker that got a share
 * accepted it, as a single thread acknowledges only after its pipelines accepted.
 *
 * OTLP protobuf is split still encoded (split-encoded-otlp.ts) and decoded by its owners. Batches
 * other receivers decoded are split by trace and sent to their owners as OTLP protobuf, the
 * encoding every worker already reads.
 */
import type { ConsumeContext, EncodedConsumeResult, TraceConsumer } from '../consumer.ts';
import { asSkybridgeError, type SkybridgeError } from '../errors.ts';
import { encodeExportTraceServiceRequest } from '../model/otlp-protobuf-encoder.ts';
import type { InstrumentationScope, Resource, ResourceSpans, Span, SpanBatch } from '../model/span-batch.ts';
import { splitEncodedOtlp } from './split-encoded-otlp.ts';
import { ownerOfHexTraceId } from './trace-owner.ts';
import type { Consumed, WorkerPool } from './worker-pool.ts';

export function routeToWorkers(pool: WorkerPool): TraceConsumer {
  const n = pool.count;
  return {
    mutatesData: false,
    async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
      const parts = partitionByOwner(batch, n);
      await settleAll(parts.map((part, worker) => (part === undefined ? undefined : pool.consume(worker, ctx.receiver, ctx.transport, encodeExportTraceServiceRequest(part)))));
    },
    async consumeEncodedOtlp(bytes: Uint8Array, ctx: ConsumeContext): Promise<EncodedConsumeResult> {
      const { parts, spanCount } = splitEncodedOtlp(bytes, n);
      const answers = await settleAll(parts.map((part, worker) => (part === undefined ? undefined : pool.consume(worker, ctx.receiver, ctx.transport, part))));
      let rejectedSpans = 0;
      const messages: string[] = [];
      for (const a of answers) {
        if (a === undefined) continue;
        rejectedSpans += a.rejectedSpans;
        if (a.rejectMessage) messages.push(a.rejectMessage);
      }
      return { spanCount, rejectedSpans, rejectMessage: messages.join(' ') };
    },
    abandon(traceIds: ReadonlySet<string>): void {
      const byOwner = new Map<number, string[]>();
      for (const traceId of traceIds) {
        const w = ownerOfHexTraceId(traceId, n);
        const list = byOwner.get(w);
        if (list) list.push(traceId);
        else byOwner.set(w, [traceId]);
      }
      for (const [worker, ids] of byOwner) pool.abandon(worker, ids);
    },
    holds(traceId: string): Promise<boolean> {
      return pool.holds(ownerOfHexTraceId(traceId, n), traceId);
    },
  };
}

/**
 * Waits for every share. One refusal fails the request (the sender resends it whole; the shares
 * already accepted come again as duplicates, which the trace buffers recognise). A refusal that
 * says the input is bad wins over a retryable one: garbage is never answered "try again".
 */
async function settleAll(shares: (Promise<Consumed> | undefined)[]): Promise<(Consumed | undefined)[]> {
  const results = await Promise.allSettled(shares.map((s) => s ?? Promise.resolve(undefined)));
  let refusal: SkybridgeError | undefined;
  for (const r of results) {
    if (r.status === 'fulfilled') continue;
    const error = asSkybridgeError(r.reason);
    if (refusal === undefined || (refusal.retryable && !error.retryable)) refusal = error;
  }
  if (refusal) throw refusal;
  return results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
}

/** The batch as one batch per worker (undefined where a worker owns none), keeping resources and scopes. */
export function partitionByOwner(batch: SpanBatch, workers: number): (SpanBatch | undefined)[] {
  const out: (Map<Resource, { rs: ResourceSpans; scopes: Map<InstrumentationScope, { schemaUrl: string; spans: Span[] }> }> | undefined)[] = new Array(workers);
  for (const rs of batch.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        const w = ownerOfHexTraceId(span.traceId, workers);
        const resources = (out[w] ??= new Map());
        let r = resources.get(rs.resource);
        if (!r) resources.set(rs.resource, (r = { rs, scopes: new Map() }));
        let s = r.scopes.get(ss.scope);
        if (!s) r.scopes.set(ss.scope, (s = { schemaUrl: ss.schemaUrl, spans: [] }));
        s.spans.push(span);
      }
    }
  }
  return Array.from(out, (resources) =>
    resources === undefined
      ? undefined
      : {
          resourceSpans: [...resources.values()].map(({ rs, scopes }) => ({
            resource: rs.resource,
            schemaUrl: rs.schemaUrl,
            scopeSpans: [...scopes].map(([scope, s]) => ({ scope, schemaUrl: s.schemaUrl, spans: s.spans })),
          })),
        },
  );
}
