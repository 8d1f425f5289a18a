import { DEFAULT_LIMIT_PERCENTAGE, type MemoryLimiterConfig } from './config.ts';

export interface MemoryLimits {
  /** Above it: refuse, and force GC when the runtime exposes it. */
  hard: number;
  /** Above it: refuse new spans. */
  soft: number;
}

/** Hard and soft limits in bytes; `total` is only read for the percentage forms. */
export function resolveLimits(config: MemoryLimiterConfig, total: () => number): MemoryLimits {
  if (config.limit !== undefined) {
    const spike = config.spike_limit ?? Math.floor(config.limit * 0.2);
    return { hard: config.limit, soft: config.limit - spike };
  }
  const bytes = total();
  const percentage = config.limit_percentage ?? DEFAULT_LIMIT_PERCENTAGE;
  const hard = Math.floor((bytes * percentage) / 100);
  const spike = config.spike_limit_percentage === undefined ? Math.floor(hard * 0.2) : Math.floor((bytes * config.spike_limit_percentage) / 100);
  return { hard, soft: hard - spike };
}
