import { defineExporter } from '../../core/component.ts';
import { skywalkingKafkaConfigSchema } from './config.ts';
import { SegmentExporter } from '../../core/segments/segment-exporter.ts';
import { SkyWalkingKafkaSink } from './exporter.ts';

/** `exporters: { skywalking_kafka: ... }`: segments to the OAP's kafka-fetcher topics. */
export const skywalkingKafkaExporterFactory = defineExporter({
  type: 'skywalking_kafka',
  stability: 'alpha',
  description: 'Assembles traces into native SkyWalking segments and produces them to the OAP kafka-fetcher topics.',
  configSchema: skywalkingKafkaConfigSchema,
  create: (settings, config) =>
    new SegmentExporter(settings, config.assembly, [new SkyWalkingKafkaSink(settings, config)], {
      ackAfterExport: config.ack === 'after_export' ? { timeoutMs: config.ack_timeout } : undefined,
    }),
});
