import { defineProcessor } from '../../core/component.ts';
import { baggageFilterConfigSchema } from './config.ts';
import { BaggageFilterProcessor } from './processor.ts';

export const baggageFilterProcessorFactory = defineProcessor({
  type: 'baggage_filter',
  stability: 'alpha',
  description: 'Turns baggage carried on spans into tags on each process\'s entry span: allowed keys only, secrets masked or dropped, whole entries.',
  configSchema: baggageFilterConfigSchema,
  create: (settings, config, next) => new BaggageFilterProcessor(settings, config, next),
});
