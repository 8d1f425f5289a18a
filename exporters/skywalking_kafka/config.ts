import { z } from 'zod';
import { duration, size } from '../../core/config/units.ts';
import { brokersSchema, clientIdSchema, kafkaAuthSchema, kafkaTlsSchema, producerSchema, topicName } from '../../core/kafka/config.ts';
import { assemblySchema } from '../../core/segments/segment-exporter.ts';

export const skywalkingKafkaConfigSchema = z
  .strictObject({
    brokers: brokersSchema,
    client_id: clientIdSchema,
    tls: kafkaTlsSchema,
    auth: kafkaAuthSchema,
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9._-]*$/, { message: 'expected letters, digits, ".", "_" or "-". Fix: use the OAP\'s SW_NAMESPACE value.' })
      .default('')
      .describe('The OAP\'s SW_NAMESPACE: when set, topics are "<namespace>-skywalking-segments" and "<namespace>-skywalking-managements", as the OAP kafka-fetcher and the Java agent name them.'),
    topic_segments: topicName('segments').optional().describe('Overrides the segments topic (default [namespace-]skywalking-segments).'),
    topic_managements: topicName('management messages').optional().describe('Overrides the management topic (default [namespace-]skywalking-managements).'),
    producer: producerSchema,
    max_segment_size: size({ min: '1KiB', max: '1GiB' })
      .prefault('1MB')
      .describe("Largest encoded segment produced. A Kafka broker refuses a message above its message.max.bytes (1 MB by default) for good, so a larger segment is dropped and counted (segment_too_large) instead of retried forever; raise both together."),
    sending_queue: z
      .strictObject({
        queue_size: z
          .number().int().min(1).max(10_000_000).default(10_000)
          .describe('Segments held until Kafka acknowledged them (including those being retried). When full, new spans are refused with a retryable status.'),
      })
      .prefault({})
      .describe('The bounded in-memory queue between trace assembly and Kafka.'),
    retry_on_failure: z
      .strictObject({
        initial_interval: duration({ min: '1ms', max: '1m' }).prefault('500ms').describe('Wait before the first retry of a failed produce; doubles per failure, with full jitter.'),
        max_interval: duration({ min: '1ms', max: '10m' }).prefault('30s').describe('Longest wait between retries. Retries go on until shutdown.'),
      })
      .prefault({})
      .describe('Retries of segments whose produce failed (in memory: lost if skybridge crashes while Kafka is down).'),
    keep_alive_interval: duration({ min: '10ms', max: '1h' }).prefault('20s').describe('How often a keepAlive (InstancePingPkg) is produced for every instance seen.'),
    instance_idle_timeout: duration({ min: '10ms', max: '24h' }).prefault('5m').describe('Stop keepAlives for an instance with no segment for this long.'),
    assembly: assemblySchema,
    ack: z
      .enum(['buffered', 'after_export'])
      .default('buffered')
      .describe('When the previous stage is acknowledged: buffered (the trace buffer holds the spans) or after_export (Kafka acknowledged every segment built from them).'),
    ack_timeout: duration({ min: '100ms', max: '10m' })
      .prefault('5s')
      .describe('With ack: after_export, how long a batch may wait for its segments before a retryable error.'),
  })
  .refine((c) => c.ack !== 'after_export' || c.ack_timeout > c.assembly.quiet_period, {
    message: 'ack_timeout must be longer than assembly.quiet_period. Fix: raise ack_timeout or lower assembly.quiet_period.',
    path: ['ack_timeout'],
  })
  .describe('Produces native SkyWalking segments and instance reports to the topics the OAP kafka-fetcher reads.');

export type SkyWalkingKafkaConfig = z.output<typeof skywalkingKafkaConfigSchema>;

/** `[namespace-]skywalking-segments` / `-managements`, as the OAP's AbstractKafkaHandler.getTopic names them. */
export function topicsOf(config: SkyWalkingKafkaConfig): { segments: string; managements: string } {
  const prefix = config.namespace === '' ? '' : `${config.namespace}-`;
  return {
    segments: config.topic_segments ?? `${prefix}skywalking-segments`,
    managements: config.topic_managements ?? `${prefix}skywalking-managements`,
  };
}
