/**
 * What the trace list shows of a kept trace, and the search over it. Computed when the page asks,
 * never while recording.
 */
import type { SegmentObject } from '../../segments/segment-object.ts';
import type { RecordedTrace } from './trace-recorder.ts';

export interface TraceSummary {
  traceId: string;
  /** SkyWalking trace ids of its segments other than `traceId` (a trace continued from an agent). */
  skyWalkingTraceIds: string[];
  assembler: string;
  firstMs: number;
  lastMs: number;
  /** The root segment's endpoint (span 0's operation name), or the earliest segment's. */
  endpoint: string;
  services: string[];
  endpoints: string[];
  segments: number;
  spans: number;
  /** Start of the earliest span to end of the latest, in ms. */
  durationMs: number;
  error: boolean;
  truncated: boolean;
}

export interface TraceQuery {
  /** A trace id or a part of one (OTel or SkyWalking), case-insensitive. */
  traceId?: string;
  /** A service name, exact. */
  service?: string;
  /** A part of an endpoint name, case-insensitive. */
  endpoint?: string;
  /** Only traces with a span marked isError. */
  error?: boolean;
  limit?: number;
}

export function segmentsOf(trace: RecordedTrace): SegmentObject[] {
  return trace.flushes.flatMap((f) => f.segments.map((s) => s.segment));
}

export function summarize(trace: RecordedTrace): TraceSummary {
  const segments = segmentsOf(trace);
  const services = new Set<string>();
  const endpoints = new Set<string>();
  const skyWalkingTraceIds = new Set<string>();
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  let error = false;
  let root: SegmentObject | undefined;
  for (const segment of segments) {
    services.add(segment.service);
    if (segment.traceId !== trace.traceId) skyWalkingTraceIds.add(segment.traceId);
    const head = segment.spans.find((s) => s.spanId === 0) ?? segment.spans[0];
    if (head) {
      endpoints.add(head.operationName);
      if (head.refs.length === 0 && (root === undefined || head.startTime < root.spans[0]!.startTime)) root = segment;
    }
    for (const span of segment.spans) {
      if (span.startTime < start) start = span.startTime;
      if (span.endTime > end) end = span.endTime;
      if (span.isError) error = true;
    }
  }
  const earliest = root ?? segments.reduce<SegmentObject | undefined>((a, s) => (a === undefined || (s.spans[0]?.startTime ?? 0) < (a.spans[0]?.startTime ?? 0) ? s : a), undefined);
  return {
    traceId: trace.traceId,
    skyWalkingTraceIds: [...skyWalkingTraceIds],
    assembler: trace.assembler,
    firstMs: trace.firstMs,
    lastMs: trace.lastMs,
    endpoint: earliest?.spans.find((s) => s.spanId === 0)?.operationName ?? '',
    services: [...services],
    endpoints: [...endpoints],
    segments: segments.length,
    spans: trace.spans,
    durationMs: Number.isFinite(start) ? Math.max(0, end - start) : 0,
    error,
    truncated: trace.truncated,
  };
}

export function matches(summary: TraceSummary, query: TraceQuery): boolean {
  if (query.error && !summary.error) return false;
  if (query.service && !summary.services.includes(query.service)) return false;
  if (query.traceId) {
    const part = query.traceId.toLowerCase();
    if (!summary.traceId.includes(part) && !summary.skyWalkingTraceIds.some((id) => id.toLowerCase().includes(part))) return false;
  }
  if (query.endpoint) {
    const part = query.endpoint.toLowerCase();
    if (!summary.endpoints.some((e) => e.toLowerCase().includes(part))) return false;
  }
  return true;
}

/** Summaries one search returns when it names no limit. */
export const DEFAULT_SEARCH_LIMIT = 100;

/** Kept traces matching `query`, most recently built first. */
export function searchTraces(traces: Iterable<RecordedTrace>, query: TraceQuery): TraceSummary[] {
  const limit = query.limit ?? DEFAULT_SEARCH_LIMIT;
  const found: TraceSummary[] = [];
  for (const trace of traces) {
    const summary = summarize(trace);
    if (matches(summary, query)) found.push(summary);
    if (found.length >= limit) break;
  }
  return found;
}
