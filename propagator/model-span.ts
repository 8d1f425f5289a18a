/**
 * An OpenTelemetry SDK span, as it is right now, in skybridge's span model, so the propagator can
 * ask `translateSpan` and `identifyService` the same questions the collector will ask when the
 * span arrives there. Only what those two read is converted faithfully: events and links are left
 * out (they shape logs and extra refs, never the operation name or the peer).
 */
import type { Attributes as OtelAttributes, AttributeValue as OtelAttributeValue, HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { AttributeValue, Attributes, InstrumentationScope, Span } from '../core/model/span-batch.ts';
import { SpanFlags } from '../core/model/span-batch.ts';
import { identifyService, type ServiceIdentity } from '../core/segments/service-identity.ts';

function modelValue(value: OtelAttributeValue): AttributeValue {
  if (!Array.isArray(value)) return value as string | number | boolean;
  // OTel arrays may hold null/undefined holes; OTLP exporters send them as empty values, which
  // skybridge decodes to nothing. Leaving them out gives the same attribute text.
  return (value as readonly unknown[]).filter((v) => v !== null && v !== undefined) as AttributeValue[];
}

export function modelAttributes(attributes: OtelAttributes): Attributes {
  const out: Attributes = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined && value !== null) out[key] = modelValue(value);
  }
  return out;
}

export function hrTimeToNanos(time: HrTime): bigint {
  return BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
}

/** The span's scope as skybridge decodes it from OTLP. */
export function modelScope(span: ReadableSpan): InstrumentationScope {
  const scope = span.instrumentationScope;
  return { name: scope.name, version: scope.version ?? '', attributes: {}, droppedAttributesCount: 0 };
}

/** The span as the OTLP exporter will describe it (OTel API kinds are OTLP's minus one). */
export function modelSpan(span: ReadableSpan): Span {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: parent?.spanId ?? '',
    traceState: ctx.traceState?.serialize() ?? '',
    flags: ctx.traceFlags | SpanFlags.CONTEXT_HAS_IS_REMOTE | (parent?.isRemote ? SpanFlags.CONTEXT_IS_REMOTE : 0),
    name: span.name,
    kind: (span.kind + 1) as Span['kind'],
    startTimeUnixNano: hrTimeToNanos(span.startTime),
    endTimeUnixNano: hrTimeToNanos(span.endTime),
    attributes: modelAttributes(span.attributes),
    droppedAttributesCount: span.droppedAttributesCount,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: span.status.code, message: span.status.message ?? '' },
  };
}

const identities = new WeakMap<object, ServiceIdentity>();

/**
 * The service and instance skybridge will name for spans of this resource. Cached per resource
 * object once its asynchronous attributes (if any) have settled.
 */
export function serviceIdentityOf(resource: ReadableSpan['resource']): ServiceIdentity {
  const cached = identities.get(resource);
  if (cached) return cached;
  const identity = identifyService(modelAttributes(resource.attributes));
  if (!resource.asyncAttributesPending) identities.set(resource, identity);
  return identity;
}
