/**
 * Every processor skybridge ships, listed explicitly, one line each. Trace assembly itself lives
 * in the segment exporters (core/segments).
 */
import type { ProcessorFactory } from '../core/component.ts';
import { tailSamplingFactory } from './tail_sampling/factory.ts';
import { memoryLimiterFactory } from './memory_limiter/factory.ts';
import { batchProcessorFactory } from './batch/factory.ts';
import { baggageFilterProcessorFactory } from './baggage_filter/factory.ts';

export const processorFactories: readonly ProcessorFactory[] = [
  tailSamplingFactory,
  memoryLimiterFactory,
  batchProcessorFactory,
  baggageFilterProcessorFactory,
];
