import { defineProcessor } from '../../core/component.ts';
import { memoryLimiterConfigSchema } from './config.ts';
import { MemoryLimiterProcessor, type MemoryLimiterDeps } from './processor.ts';

/**
 * The factory, with the memory source and GC hook replaceable: tests build a collector whose
 * memory_limiter reads a fake memory figure instead of the real RSS.
 */
export function createMemoryLimiterFactory(deps: MemoryLimiterDeps = {}) {
  return defineProcessor({
    type: 'memory_limiter',
    stability: 'beta',
    description: 'Refuses spans with a retryable status while process memory (RSS) is above a soft limit; forces GC above the hard limit.',
    configSchema: memoryLimiterConfigSchema,
    create: (settings, config, next) => new MemoryLimiterProcessor(settings, config, next, deps),
  });
}

export const memoryLimiterFactory = createMemoryLimiterFactory();
