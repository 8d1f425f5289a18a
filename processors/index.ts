/**
 * Every processor skybridge ships, listed explicitly. Trace assembly itself lives in the segment
 * exporters (core/segments); the processors that work on whole traces (tail_sampling, batch,
 * baggage_filter, memory_limiter) arrive with issue #6.
 */
import type { ProcessorFactory } from '../core/component.ts';

export const processorFactories: readonly ProcessorFactory[] = [];
