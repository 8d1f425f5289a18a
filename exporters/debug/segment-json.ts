/**
 * A segment in the proto3 JSON mapping the OAP's HTTP API takes (`POST /v3/segments`,
 * docs/skywalking-model.md "Services and methods"): camelCase field names and enum values by NAME (`"spanType":"Exit"`).
 * int64 times stay JSON numbers, which the OAP's JsonFormat parser accepts as well as strings and
 * which are exact for epoch milliseconds.
 */
import { RefType, SpanLayer, SpanType, type SegmentObject, type SpanObject } from '../../core/segments/segment-object.ts';

function namesOf(values: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(values).map(([name, value]) => [value, name]));
}

const SPAN_TYPE_NAMES = namesOf(SpanType);
const REF_TYPE_NAMES = namesOf(RefType);
const SPAN_LAYER_NAMES = namesOf(SpanLayer);

/** proto3 JSON writes an enum value without a name as its number. */
function enumName(names: Map<number, string>, value: number): string | number {
  return names.get(value) ?? value;
}

function spanJson(span: SpanObject): Record<string, unknown> {
  return {
    ...span,
    refs: span.refs.map((ref) => ({ ...ref, refType: enumName(REF_TYPE_NAMES, ref.refType) })),
    spanType: enumName(SPAN_TYPE_NAMES, span.spanType),
    spanLayer: enumName(SPAN_LAYER_NAMES, span.spanLayer),
  };
}

/** The whole segment as a JSON-ready object, ready for `JSON.stringify`. */
export function segmentJson(segment: SegmentObject): Record<string, unknown> {
  return { ...segment, spans: segment.spans.map(spanJson) };
}

/**
 * One summary per segment: who, which trace, how big, and its endpoint (the operation name of the
 * first span, parentSpanId -1, which is what the OAP names the segment's endpoint after).
 */
export function segmentSummary(segment: SegmentObject): Record<string, unknown> {
  const first = segment.spans.find((span) => span.parentSpanId === -1) ?? segment.spans[0];
  return {
    service: segment.service,
    serviceInstance: segment.serviceInstance,
    traceId: segment.traceId,
    traceSegmentId: segment.traceSegmentId,
    spans: segment.spans.length,
    endpoint: first?.operationName ?? '',
  };
}
