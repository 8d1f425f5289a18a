import { defineProcessor } from '../../core/component.ts';
import { batchConfigSchema } from './config.ts';
import { BatchProcessor } from './processor.ts';

export const batchProcessorFactory = defineProcessor({
  type: 'batch',
  stability: 'beta',
  description: 'Groups spans into batches by count, estimated bytes and time, cutting only between traces; acks after the downstream accepted.',
  configSchema: batchConfigSchema,
  create: (settings, config, next) => new BatchProcessor(settings, config, next),
});
