import { defineExporter } from '../../core/component.ts';
import { skywalkingKafkaConfigSchema } from './config.ts';
import { SkyWalkingKafkaExporter } from './exporter.ts';

/** `exporters: { skywalking_kafka: ... }`: segments to the OAP's kafka-fetcher topics. */
export const skywalkingKafkaExporterFactory = defineExporter({
  type: 'skywalking_kafka',
  stability: 'alpha',
  description: 'Assembles traces into native SkyWalking segments and produces them to the OAP kafka-fetcher topics.',
  configSchema: skywalkingKafkaConfigSchema,
  create: (settings, config) => new SkyWalkingKafkaExporter(settings, config),
});
