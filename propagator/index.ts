/**
 * skybridge's propagator package for OpenTelemetry SDK users (`skybridge/propagator`): SkyWalking
 * `sw8` / `sw8-correlation` propagation next to W3C trace context, so services with SkyWalking
 * agents and services with OTel SDKs share one trace in both directions. See README.md.
 */
export { SkyWalkingPropagator, type SkyWalkingPropagatorOptions } from './skywalking-propagator.ts';
export { SkyWalkingSpanProcessor, segmentPositionOf, type LocalRoot, type SegmentPosition, type SkyWalkingSpanProcessorOptions } from './skywalking-span-processor.ts';
export { W3CTraceContextPropagator } from './w3c-trace-context-propagator.ts';
export { RandomTraceIdFlagProcessor, type RandomTraceIdFlagProcessorOptions } from './random-trace-id-flag-processor.ts';
export { SW_SPAN_ID_ATTRIBUTE, SW_TRACESTATE_KEY, type SkyWalkingParent } from '../core/propagation/skywalking-continuation.ts';
