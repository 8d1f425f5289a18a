import { z } from 'zod';
import { brokersSchema, clientIdSchema, kafkaAuthSchema, kafkaTlsSchema, producerSchema, topicName } from '../../core/kafka/config.ts';

export const kafkaExporterConfigSchema = z
  .strictObject({
    brokers: brokersSchema,
    topic: topicName('the spans').default('otlp_spans').describe('Topic the OTLP messages go to (the Collector\'s traces default, otlp_spans).'),
    encoding: z
      .enum(['otlp_proto'])
      .default('otlp_proto')
      .describe('Message format: otlp_proto, one ExportTraceServiceRequest per message (what the Collector\'s Kafka receiver reads with encoding otlp_proto).'),
    client_id: clientIdSchema,
    tls: kafkaTlsSchema,
    auth: kafkaAuthSchema,
    producer: producerSchema,
  })
  .describe('Produces spans to Kafka as OTLP protobuf, one trace per message, keyed by trace id.');

export type KafkaExporterConfig = z.output<typeof kafkaExporterConfigSchema>;
