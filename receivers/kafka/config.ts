import { z } from 'zod';
import { duration } from '../../core/config/units.ts';
import { brokersSchema, clientIdSchema, kafkaAuthSchema, kafkaTlsSchema, topicName } from '../../core/kafka/config.ts';

export const kafkaReceiverConfigSchema = z
  .strictObject({
    brokers: brokersSchema,
    topic: topicName('the spans').default('otlp_spans').describe('Topic to consume (what the kafka exporter, or a Collector\'s Kafka exporter, writes).'),
    encoding: z
      .enum(['otlp_proto'])
      .default('otlp_proto')
      .describe('Message format: otlp_proto, one ExportTraceServiceRequest per message.'),
    group_id: z.string().min(1).default('skybridge').describe('Consumer group; the gateways of one tier share it and split the partitions.'),
    client_id: clientIdSchema,
    tls: kafkaTlsSchema,
    auth: kafkaAuthSchema,
    initial_offset: z
      .enum(['latest', 'earliest'])
      .default('latest')
      .describe('Where a group with no committed offset starts: latest (new messages only) or earliest.'),
    session_timeout: duration({ min: '1s', max: '5m' }).prefault('10s').describe('A member silent this long is dropped from the group and its partitions reassigned.'),
    heartbeat_interval: duration({ min: '100ms', max: '1m' }).prefault('3s').describe('How often the member tells the group coordinator it is alive.'),
    rebalance_timeout: duration({ min: '1s', max: '10m' }).prefault('60s').describe('How long the coordinator waits for every member to rejoin during a rebalance.'),
    max_fetch_wait: duration({ min: '10ms', max: '10s' }).prefault('250ms').describe('Longest the broker holds a fetch waiting for data.'),
    max_in_flight_messages: z
      .number().int().min(1).max(1_000_000).default(5_000)
      .describe('Messages handed to the pipeline and not yet finished (exported or dropped) at once; fetching waits beyond this. With ack: after_export, messages stay in flight for about the trace quiet period, so size this to throughput × quiet period.'),
    commit_interval: duration({ min: '10ms', max: '1m' }).prefault('1s').describe('How often finished offsets are committed.'),
    error_backoff: z
      .strictObject({
        initial_interval: duration({ min: '1ms', max: '1m' }).prefault('250ms').describe('Wait before the first retry of a message the pipeline refused with a retryable error.'),
        max_interval: duration({ min: '1ms', max: '10m' }).prefault('10s').describe('Longest wait between retries (the wait doubles, with jitter, and honours the refusal\'s retry-after).'),
      })
      .prefault({})
      .describe('While a partition has a refused message it is paused and the message retried with this backoff.'),
  })
  .describe('Consumes OTLP protobuf spans from Kafka in a consumer group; commits an offset only once every span at or below it was exported or deliberately dropped.');

export type KafkaReceiverConfig = z.output<typeof kafkaReceiverConfigSchema>;
