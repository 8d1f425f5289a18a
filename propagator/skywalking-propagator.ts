/**
 * A TextMapPropagator that lets OpenTelemetry-instrumented services and SkyWalking agents share one
 * trace in both directions, with skybridge turning the OTel side into SkyWalking segments.
 *
 * Extract (`sw8` arrives from a SkyWalking agent): the context gets a remote parent whose OTel ids
 * are derived from the SkyWalking ids (`otelTraceIdFromSkyWalking`, `otelSpanIdFromSkyWalking`),
 * sampled per sw8 field 1, and a tracestate whose `sw8` entry keeps the agent's context. skybridge
 * reads that entry to keep the SkyWalking trace id and to give the local root a CrossProcess ref
 * to the agent's segment (core/propagation/skywalking-continuation.ts).
 *
 * Which ids win when `traceparent` comes too: when the traceparent's trace id is the one the sw8
 * trace id maps to, both describe the same trace and the W3C header names the nearer parent (the
 * caller wrote both, as this propagator does next to W3CTraceContextPropagator), so the W3C
 * trace id, parent id and flags are used and the `sw8` entry is added to the incoming tracestate.
 * When they name different traces, sw8 wins and the incoming tracestate, which belongs to the
 * other trace, is dropped (W3C: clean up tracestate when the trace restarts).
 *
 * Inject (the active span calls a SkyWalking agent; normally the CLIENT/PRODUCER span an
 * instrumentation injects for): `sw8` names the segment and span skybridge will emit for it:
 *   2 trace id: the original SkyWalking id from the `sw8` tracestate entry, else the OTel trace id,
 *   3 segment id: `segmentIdFor(OTel trace id, local root span id)`,
 *   4 span id: the span's number from SkyWalkingSpanProcessor,
 *   5/6 service/instance: `identifyService(resource)`,
 *   7 endpoint: the local root's operation name (`translateSpan` on its attributes as they are now),
 *   8 address: the span's peer (`translateSpan`), which skybridge writes as the Exit span's peer.
 * Spans the processor never saw start (it is not installed, or the span does not record) get no
 * `sw8`: there is no span number to promise. Baggage goes out as `sw8-correlation` within
 * SkyWalking's limits. `sw8-correlation` coming in becomes baggage entries the context does not
 * already have (the W3C `baggage` header wins for a key both carry).
 */
import {
  createTraceState,
  propagation,
  trace,
  TraceFlags,
  type Context,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  decodeTracestateValue,
  encodeTracestateValue,
  otelSpanIdFromSkyWalking,
  otelTraceIdFromSkyWalking,
  SW_TRACESTATE_KEY,
  type SkyWalkingParent,
} from '../core/propagation/skywalking-continuation.ts';
import { DEFAULT_CORRELATION_LIMITS, SW8_CORRELATION_HEADER, decodeSw8Correlation, encodeSw8Correlation, type CorrelationLimits } from '../core/propagation/sw8-correlation.ts';
import { SW8_HEADER, decodeSw8, encodeSw8 } from '../core/propagation/sw8.ts';
import { parseTraceparent } from '../core/propagation/traceparent.ts';
import { serializeTracestate, setTracestateEntry, tracestateEntries } from '../core/propagation/tracestate.ts';
import { segmentIdFor } from '../core/segments/segment-builder.ts';
import { translateSpan } from '../core/segments/semconv/translate-span.ts';
import { modelScope, modelSpan, serviceIdentityOf } from './model-span.ts';
import { segmentPositionOf } from './skywalking-span-processor.ts';

export interface SkyWalkingPropagatorOptions {
  /** Read `sw8` with the Java agent's validity rules instead of the Node agent's looser ones. */
  strict?: boolean;
  /** Limits for `sw8-correlation` both ways; SkyWalking's defaults are 3 keys, 128-byte values. */
  correlation?: Partial<CorrelationLimits>;
  /**
   * Baggage keys sent as `sw8-correlation`, in this order. Default: every baggage entry, in the
   * baggage's order, until the limits are reached.
   */
  correlationKeys?: readonly string[];
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export class SkyWalkingPropagator implements TextMapPropagator {
  readonly #strict: boolean;
  readonly #limits: CorrelationLimits;
  readonly #correlationKeys: readonly string[] | undefined;

  constructor(options: SkyWalkingPropagatorOptions = {}) {
    this.#strict = options.strict === true;
    this.#limits = { ...DEFAULT_CORRELATION_LIMITS, ...options.correlation };
    this.#correlationKeys = options.correlationKeys;
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.#injectCorrelation(context, carrier, setter);
    const span = trace.getSpan(context);
    if (!span) return;
    const position = segmentPositionOf(span);
    if (!position) return;
    const ctx = span.spanContext();
    const readable = span as unknown as ReadableSpan;
    const continued = ctx.traceState ? decodeTracestateValue(ctx.traceState.get(SW_TRACESTATE_KEY) ?? '') : undefined;
    const identity = serviceIdentityOf(readable.resource);
    const root = position.root.span;
    const parent: SkyWalkingParent = {
      sampled: (ctx.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
      traceId: continued?.traceId ?? ctx.traceId,
      parentSegmentId: segmentIdFor(ctx.traceId, position.root.spanId),
      parentSpanId: position.spanNumber,
      parentService: identity.service,
      parentServiceInstance: identity.serviceInstance,
      parentEndpoint: translateSpan(modelSpan(root), modelScope(root)).operationName,
      addressUsedAtClient: translateSpan(modelSpan(readable), modelScope(readable)).peer,
    };
    setter.set(carrier, SW8_HEADER, encodeSw8(parent));
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const withBaggage = this.#extractCorrelation(context, carrier, getter);
    const sw = decodeSw8(first(getter.get(carrier, SW8_HEADER)), { strict: this.#strict });
    if (!sw) return withBaggage;

    const swTraceId = otelTraceIdFromSkyWalking(sw.traceId);
    const w3c = parseTraceparent(getter.get(carrier, 'traceparent'));
    const sameTrace = w3c !== undefined && w3c.traceId === swTraceId;
    let entries = sameTrace ? tracestateEntries(getter.get(carrier, 'tracestate')) : [];
    const entry = encodeTracestateValue(sw);
    if (entry !== undefined) entries = setTracestateEntry(entries, SW_TRACESTATE_KEY, entry);
    const traceState = entries.length > 0 ? createTraceState(serializeTracestate(entries)) : undefined;

    const spanContext: SpanContext = sameTrace
      ? { traceId: w3c.traceId, spanId: w3c.parentId, traceFlags: w3c.traceFlags, isRemote: true, traceState }
      : {
          traceId: swTraceId,
          spanId: otelSpanIdFromSkyWalking(sw.parentSegmentId, sw.parentSpanId),
          traceFlags: sw.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
          isRemote: true,
          traceState,
        };
    return trace.setSpanContext(withBaggage, spanContext);
  }

  fields(): string[] {
    return [SW8_HEADER, SW8_CORRELATION_HEADER];
  }

  #injectCorrelation(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const baggage = propagation.getBaggage(context);
    if (!baggage) return;
    const all = baggage.getAllEntries();
    const entries: [string, string][] = this.#correlationKeys
      ? this.#correlationKeys.flatMap((k): [string, string][] => {
          const e = baggage.getEntry(k);
          return e ? [[k, e.value]] : [];
        })
      : all.map(([k, e]) => [k, e.value]);
    const value = encodeSw8Correlation(entries, this.#limits);
    if (value) setter.set(carrier, SW8_CORRELATION_HEADER, value);
  }

  #extractCorrelation(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const correlation = decodeSw8Correlation(getter.get(carrier, SW8_CORRELATION_HEADER), this.#limits);
    if (correlation.size === 0) return context;
    let baggage = propagation.getBaggage(context) ?? propagation.createBaggage();
    for (const [key, value] of correlation) {
      if (baggage.getEntry(key) === undefined) baggage = baggage.setEntry(key, { value });
    }
    return propagation.setBaggage(context, baggage);
  }
}
