/**
 * Trace Context Level 2's random-trace-id flag (0x02) for the OpenTelemetry JS SDK, which sets a
 * new span's flags to SAMPLED or NONE only and so loses the bit. W3C requires a participant to keep
 * it as received for the same trace id (set stays set, unset stays unset); this processor copies it
 * from the parent span context onto each span when it starts, so W3CTraceContextPropagator sends it
 * on. With `markNewTraces` it also sets the bit on spans that start a trace, which the spec
 * recommends when the trace id generator is random (the SDK's default one is).
 *
 * It changes the span's own SpanContext object, the one `span.spanContext()` returns, before any
 * child or propagator reads it.
 */
import type { Context } from '@opentelemetry/api';
import type { Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TRACE_FLAG_RANDOM } from '../core/propagation/traceparent.ts';

export interface RandomTraceIdFlagProcessorOptions {
  /** Set the flag on spans without a parent (their trace id came from the SDK's generator). */
  markNewTraces?: boolean;
}

export class RandomTraceIdFlagProcessor implements SpanProcessor {
  readonly #markNewTraces: boolean;

  constructor(options: RandomTraceIdFlagProcessorOptions = {}) {
    this.#markNewTraces = options.markNewTraces === true;
  }

  onStart(span: Span, _parentContext: Context): void {
    const ctx = span.spanContext();
    const parent = span.parentSpanContext;
    const random = parent ? parent.traceId === ctx.traceId && (parent.traceFlags & TRACE_FLAG_RANDOM) !== 0 : this.#markNewTraces;
    if (random) ctx.traceFlags |= TRACE_FLAG_RANDOM;
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
