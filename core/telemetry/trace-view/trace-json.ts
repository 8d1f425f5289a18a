/**
 * Kept traces as the JSON the page and `skybridge tap` read: segments as built (SkyWalking's
 * SegmentObject), and source spans as the internal span model holds them, with the resource's
 * service and instance and where each span went. Bigint times become decimal strings and byte
 * values base64, the way the debug exporter and attributeText show them.
 */
import type { HeldSpan, SpanPlacement } from '../../segments/segment-builder.ts';
import { RefType, SpanLayer, SpanType, type SegmentObject } from '../../segments/segment-object.ts';
import { Component } from '../../segments/semconv/component-ids.ts';
import type { RecordedTrace } from './trace-recorder.ts';

/** A source span with what the page needs beside it. */
export interface SourceSpanJson {
  service: string;
  serviceInstance: string;
  scope: string;
  receivedAtMs: number;
  /** The id the sender gave it, when skybridge had to give it another (a reused span id). */
  reusedId?: string;
  /** The segment and span number it became. */
  placement?: { segmentId: string; spanId: number };
  span: HeldSpan['span'];
}

export interface TraceDetail {
  traceId: string;
  assembler: string;
  firstMs: number;
  lastMs: number;
  truncated: boolean;
  segments: SegmentObject[];
  sources: SourceSpanJson[];
}

/** Names for the numbers in segments (SkyWalking's enums; component ids skybridge names). */
export const VOCABULARY = {
  spanType: invert(SpanType),
  spanLayer: invert(SpanLayer),
  refType: invert(RefType),
  component: invert(Component),
};

function invert(table: Record<string, number>): Record<number, string> {
  return Object.fromEntries(Object.entries(table).map(([name, id]) => [id, name]));
}

export function sourceSpanJson(entry: HeldSpan, placement: SpanPlacement | undefined): SourceSpanJson {
  return {
    service: entry.identity.service,
    serviceInstance: entry.identity.serviceInstance,
    scope: entry.scope.name,
    receivedAtMs: entry.receivedAtMs,
    ...(entry.reusedId === undefined ? {} : { reusedId: entry.reusedId }),
    ...(placement === undefined ? {} : { placement: { segmentId: placement.segmentId, spanId: placement.spanId } }),
    span: entry.span,
  };
}

export function traceDetail(trace: RecordedTrace): TraceDetail {
  return {
    traceId: trace.traceId,
    assembler: trace.assembler,
    firstMs: trace.firstMs,
    lastMs: trace.lastMs,
    truncated: trace.truncated,
    segments: trace.flushes.flatMap((f) => f.segments.map((s) => s.segment)),
    sources: trace.flushes.flatMap((f) => f.held.map((h) => sourceSpanJson(h, f.placements.get(h.span.spanId)))),
  };
}

/** JSON.stringify for values holding the span model's bigint times and byte attributes. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}
