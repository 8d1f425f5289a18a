/**
 * Splits a batch into one batch per trace id, keeping each span under its own resource and scope,
 * for exporters that route by trace: the Kafka exporter (one message per trace, keyed by it, so a
 * trace lands in one partition) and the loadbalancing exporter (a trace goes to its gateway).
 */
import type { ResourceSpans, ScopeSpans, Span, SpanBatch } from './span-batch.ts';

export function splitByTrace(batch: SpanBatch): Map<string, SpanBatch> {
  const out = new Map<string, SpanBatch>();
  for (const rs of batch.resourceSpans) {
    // Per resource: the ResourceSpans / ScopeSpans copy made for each trace met under it.
    const rsByTrace = new Map<string, ResourceSpans>();
    for (const ss of rs.scopeSpans) {
      const ssByTrace = new Map<string, ScopeSpans>();
      for (const span of ss.spans) {
        let scoped = ssByTrace.get(span.traceId);
        if (scoped === undefined) {
          let resource = rsByTrace.get(span.traceId);
          if (resource === undefined) {
            resource = { resource: rs.resource, schemaUrl: rs.schemaUrl, scopeSpans: [] };
            rsByTrace.set(span.traceId, resource);
            let traceBatch = out.get(span.traceId);
            if (traceBatch === undefined) out.set(span.traceId, (traceBatch = { resourceSpans: [] }));
            traceBatch.resourceSpans.push(resource);
          }
          scoped = { scope: ss.scope, schemaUrl: ss.schemaUrl, spans: [] };
          ssByTrace.set(span.traceId, scoped);
          resource.scopeSpans.push(scoped);
        }
        scoped.spans.push(span);
      }
    }
  }
  return out;
}

/** Splits one trace's batch into two halves by span count (for a message over max_message_bytes). */
export function halve(batch: SpanBatch): [SpanBatch, SpanBatch] {
  const spans: { rs: ResourceSpans; ss: ScopeSpans; span: Span }[] = [];
  for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ rs, ss, span });
  const mid = Math.ceil(spans.length / 2);
  return [rebuild(spans.slice(0, mid)), rebuild(spans.slice(mid))];
}

function rebuild(entries: { rs: ResourceSpans; ss: ScopeSpans; span: Span }[]): SpanBatch {
  const resources = new Map<ResourceSpans, ResourceSpans>();
  const scopes = new Map<ScopeSpans, ScopeSpans>();
  const batch: SpanBatch = { resourceSpans: [] };
  for (const { rs, ss, span } of entries) {
    let r = resources.get(rs);
    if (r === undefined) {
      resources.set(rs, (r = { resource: rs.resource, schemaUrl: rs.schemaUrl, scopeSpans: [] }));
      batch.resourceSpans.push(r);
    }
    let s = scopes.get(ss);
    if (s === undefined) {
      scopes.set(ss, (s = { scope: ss.scope, schemaUrl: ss.schemaUrl, spans: [] }));
      r.scopeSpans.push(s);
    }
    s.spans.push(span);
  }
  return batch;
}
