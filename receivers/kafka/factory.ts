import { defineReceiver } from '../../core/component.ts';
import { kafkaReceiverConfigSchema } from './config.ts';
import { KafkaReceiver } from './receiver.ts';

/** `receivers: { kafka: ... }`: the gateway side of a Kafka tier. */
export const kafkaReceiverFactory = defineReceiver({
  type: 'kafka',
  stability: 'alpha',
  description: 'Consumes OTLP protobuf spans from Kafka in a consumer group, committing offsets only after export (gateway side of a Kafka tier).',
  configSchema: kafkaReceiverConfigSchema,
  create: (settings, config, next) => new KafkaReceiver(settings, config, next),
});
