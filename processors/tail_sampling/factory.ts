import { defineProcessor } from '../../core/component.ts';
import { tailSamplingConfigSchema } from './config.ts';
import { TailSamplingProcessor } from './processor.ts';

export const tailSamplingFactory = defineProcessor({
  type: 'tail_sampling',
  stability: 'alpha',
  description: 'Keeps whole traces by policy (errors, latency, keep/drop rules) within a SkyWalking-style budget of traces per 3 seconds, the same choice on every replica.',
  configSchema: tailSamplingConfigSchema,
  create: (settings, config, next) => new TailSamplingProcessor(settings, config, next),
});
