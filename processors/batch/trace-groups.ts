/**
 * The unit the batch processor moves: the spans of one trace from one call, kept together so a
 * batch is only ever cut between traces. `PendingBatch` collects groups and rebuilds a SpanBatch
 * from them, one ResourceSpans per original resource and one ScopeSpans per original scope.
 */
import type { ResourceSpans, ScopeSpans, Span, SpanBatch } from '../../core/model/span-batch.ts';
import { estimateResourceBytes, estimateScopeBytes, estimateSpanBytes } from './estimate-size.ts';

/** Spans of one trace that arrived under one (resource, scope) of an incoming batch. */
interface GroupPart {
  rs: ResourceSpans;
  ss: ScopeSpans;
  spans: Span[];
}

export interface TraceGroup {
  readonly traceId: string;
  readonly parts: GroupPart[];
  spans: number;
  /** Estimated bytes of the spans alone; envelopes are counted by the batch that holds them. */
  spanBytes: number;
}

/** Estimated envelope bytes of each resource and scope, computed once per incoming batch. */
export type EnvelopeSizes = Map<ResourceSpans | ScopeSpans, number>;

/** Splits a batch by trace id, in order of first appearance. */
export function groupByTrace(batch: SpanBatch): { groups: TraceGroup[]; envelopes: EnvelopeSizes } {
  const byTrace = new Map<string, TraceGroup>();
  const envelopes: EnvelopeSizes = new Map();
  for (const rs of batch.resourceSpans) {
    envelopes.set(rs, estimateResourceBytes(rs.resource, rs.schemaUrl));
    for (const ss of rs.scopeSpans) {
      envelopes.set(ss, estimateScopeBytes(ss.scope, ss.schemaUrl));
      for (const span of ss.spans) {
        let group = byTrace.get(span.traceId);
        if (group === undefined) {
          group = { traceId: span.traceId, parts: [], spans: 0, spanBytes: 0 };
          byTrace.set(span.traceId, group);
        }
        let part = group.parts[group.parts.length - 1];
        if (part === undefined || part.ss !== ss) {
          part = { rs, ss, spans: [] };
          group.parts.push(part);
        }
        part.spans.push(span);
        group.spans += 1;
        group.spanBytes += estimateSpanBytes(span);
      }
    }
  }
  return { groups: [...byTrace.values()], envelopes };
}

/** The groups of one batch being filled, with its running span count and byte estimate. */
export class PendingBatch {
  readonly #groups = new Map<string, TraceGroup>();
  /** Envelopes already counted in `bytes`, so a resource shared by many traces counts once. */
  readonly #envelopes = new Set<ResourceSpans | ScopeSpans>();
  spans = 0;
  bytes = 0;

  get empty(): boolean {
    return this.spans === 0;
  }

  /** Bytes `group` would add: its spans plus the envelopes this batch does not hold yet. */
  costOf(group: TraceGroup, envelopes: EnvelopeSizes): number {
    let bytes = group.spanBytes;
    const counted = new Set<ResourceSpans | ScopeSpans>();
    for (const { rs, ss } of group.parts) {
      for (const envelope of [rs, ss]) {
        if (this.#envelopes.has(envelope) || counted.has(envelope)) continue;
        counted.add(envelope);
        bytes += envelopes.get(envelope) ?? 0;
      }
    }
    return bytes;
  }

  add(group: TraceGroup, envelopes: EnvelopeSizes): void {
    this.bytes += this.costOf(group, envelopes);
    this.spans += group.spans;
    for (const { rs, ss } of group.parts) {
      this.#envelopes.add(rs);
      this.#envelopes.add(ss);
    }
    // More spans of a trace already waiting here join its group, so the trace leaves as one piece.
    const held = this.#groups.get(group.traceId);
    if (held === undefined) {
      this.#groups.set(group.traceId, { ...group, parts: [...group.parts] });
      return;
    }
    held.parts.push(...group.parts);
    held.spans += group.spans;
    held.spanBytes += group.spanBytes;
  }

  /**
   * The held spans as one SpanBatch. Resources and scopes are shallow copies (their attribute maps
   * too), so a mutating stage downstream never changes an envelope another batch still shares.
   */
  toSpanBatch(): SpanBatch {
    const resources = new Map<ResourceSpans, ResourceSpans>();
    const scopes = new Map<ScopeSpans, ScopeSpans>();
    const out: SpanBatch = { resourceSpans: [] };
    for (const group of this.#groups.values()) {
      for (const { rs, ss, spans } of group.parts) {
        let rsOut = resources.get(rs);
        if (rsOut === undefined) {
          rsOut = {
            resource: { attributes: { ...rs.resource.attributes }, droppedAttributesCount: rs.resource.droppedAttributesCount },
            scopeSpans: [],
            schemaUrl: rs.schemaUrl,
          };
          resources.set(rs, rsOut);
          out.resourceSpans.push(rsOut);
        }
        let ssOut = scopes.get(ss);
        if (ssOut === undefined) {
          ssOut = { scope: { ...ss.scope, attributes: { ...ss.scope.attributes } }, spans: [], schemaUrl: ss.schemaUrl };
          scopes.set(ss, ssOut);
          rsOut.scopeSpans.push(ssOut);
        }
        for (const span of spans) ssOut.spans.push(span);
      }
    }
    return out;
  }
}
