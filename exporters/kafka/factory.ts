import { defineExporter } from '../../core/component.ts';
import { kafkaExporterConfigSchema } from './config.ts';
import { KafkaExporter } from './exporter.ts';

/** `exporters: { kafka: ... }`: the agent side of a Kafka tier. */
export const kafkaExporterFactory = defineExporter({
  type: 'kafka',
  stability: 'alpha',
  description: 'Produces spans to Kafka as OTLP protobuf, one trace per message keyed by trace id (agent side of a Kafka tier).',
  configSchema: kafkaExporterConfigSchema,
  create: (settings, config) => new KafkaExporter(settings, config),
});
