/**
 * skybridge's propagator package for OpenTelemetry SDK users (`@skybridge/otel-propagator`, and
 * `skybridge/propagator` inside this repository): SkyWalking `sw8` / `sw8-correlation` propagation
 * next to W3C trace context, so services with SkyWalking agents and services with OTel SDKs share
 * one trace in both directions. See README.md. The package's public surface is this file: its
 * build (tsconfig.build.json) compiles what it reaches and nothing else.
 */
export { SkyWalkingPropagator, type SkyWalkingPropagatorOptions } from './skywalking-propagator.ts';
export { SkyWalkingSpanProcessor, segmentPositionOf, type LocalRoot, type SegmentPosition, type SkyWalkingSpanProcessorOptions } from './skywalking-span-processor.ts';
export { W3CTraceContextPropagator } from './w3c-trace-context-propagator.ts';
export { RandomTraceIdFlagProcessor, type RandomTraceIdFlagProcessorOptions } from './random-trace-id-flag-processor.ts';
export { SW_SPAN_ID_ATTRIBUTE, SW_TRACESTATE_KEY, type SkyWalkingParent } from '../core/propagation/skywalking-continuation.ts';
