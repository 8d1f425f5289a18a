import { z } from 'zod';
import { duration, size } from '../../core/config/units.ts';

/** The hard limit when neither `limit` nor `limit_percentage` is written. */
export const DEFAULT_LIMIT_PERCENTAGE = 80;

export const memoryLimiterConfigSchema = z
  .strictObject({
    check_interval: duration({ min: '10ms', max: '1m' })
      .prefault('1s')
      .describe('How often process memory (RSS) is measured. Between checks the state holds, so memory can overshoot by what arrives in one interval: spike_limit must cover it.'),
    limit: size({ min: '1MiB', max: '1024GiB' })
      .optional()
      .describe('Hard limit on process memory (RSS), e.g. "1GiB". Above it spans are refused and a garbage collection is forced. Set this or limit_percentage; with neither, limit_percentage 80 applies.'),
    spike_limit: size({ min: '0B', max: '1024GiB' })
      .optional()
      .describe('Headroom below limit: the soft limit is limit − spike_limit, and above it new spans are refused. Default 20% of limit. Must be below limit.'),
    limit_percentage: z
      .number().int().min(1).max(100)
      .optional()
      .describe('Hard limit as a percentage of the memory available: the cgroup limit (/sys/fs/cgroup/memory.max) when one is set, else the machine\'s total memory. Use instead of limit in containers.'),
    spike_limit_percentage: z
      .number().int().min(0).max(100)
      .optional()
      .describe('Headroom below limit_percentage, in percent of the same total. Default 20% of the hard limit. Must be below limit_percentage.'),
    retry_after: duration({ min: '1ms', max: '10m' })
      .prefault('1s')
      .describe('How long refused senders are told to wait: HTTP Retry-After (rounded up to whole seconds) and gRPC RetryInfo.'),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    if (c.limit !== undefined && c.limit_percentage !== undefined) {
      issue('limit_percentage', 'limit and limit_percentage are both set. Fix: keep one of them.');
    }
    if (c.spike_limit !== undefined && c.limit === undefined) {
      issue('spike_limit', 'spike_limit needs limit (it is a size below limit). Fix: set limit, or use spike_limit_percentage with limit_percentage.');
    }
    if (c.spike_limit_percentage !== undefined && c.limit_percentage === undefined && c.limit !== undefined) {
      issue('spike_limit_percentage', 'spike_limit_percentage goes with limit_percentage, not limit. Fix: use spike_limit with limit.');
    }
    if (c.limit !== undefined && c.spike_limit !== undefined && c.spike_limit >= c.limit) {
      issue('spike_limit', `spike_limit (${c.spike_limit} bytes) is not below limit (${c.limit} bytes), so the soft limit would be zero. Fix: make spike_limit smaller than limit, e.g. 20% of it.`);
    }
    const percentage = c.limit_percentage ?? (c.limit === undefined ? DEFAULT_LIMIT_PERCENTAGE : undefined);
    if (percentage !== undefined && c.spike_limit_percentage !== undefined && c.spike_limit_percentage >= percentage) {
      issue('spike_limit_percentage', `spike_limit_percentage (${c.spike_limit_percentage}) is not below limit_percentage (${percentage}). Fix: make it smaller, e.g. 20% of limit_percentage.`);
    }
  })
  .describe('Refuses spans with a retryable status while process memory is above a soft limit, and forces garbage collection above the hard limit.');

export type MemoryLimiterConfig = z.output<typeof memoryLimiterConfigSchema>;
