/**
 * The top-level `workers:` key: how many threads run the pipelines (core/workers/,
 * docs/architecture.md "Where a trace is assembled").
 */
import { z } from 'zod';

export const workersConfigSchema = z
  .union([z.literal('auto'), z.number().int().min(1).max(256)])
  .optional()
  .describe(
    'Threads that run the pipelines, each for its share of trace ids; the receivers stay in the main thread. ' +
      '`auto`: the CPUs the process may use (its affinity and cgroup CPU quota). ' +
      'Default 1 (see docs/architecture.md "Worker threads" for why not `auto` yet).',
  );

export type WorkersConfig = z.output<typeof workersConfigSchema>;
