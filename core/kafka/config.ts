/**
 * Config blocks the Kafka components share: where the cluster is, who we are, and how a producer
 * batches and acknowledges. Key names follow the OpenTelemetry Collector's Kafka exporter and
 * receiver where they overlap (`brokers`, `client_id`, `producer.compression`,
 * `producer.max_message_bytes`, `producer.required_acks`), so a Collector config reads the same.
 */
import { z } from 'zod';
import { duration, parseHostPort, size, tlsClientSchema } from '../config/units.ts';

/**
 * `brokers`: a list of "host:port", or one comma-separated string (what `${KAFKA_BROKERS:kafka:9092}`
 * substitutes to).
 */
export const brokersSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((input, ctx) => {
    const list = (Array.isArray(input) ? input : input.split(',')).map((b) => b.trim()).filter((b) => b !== '');
    if (list.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'no broker given. Fix: list at least one "host:port", e.g. ["kafka:9092"].' });
      return z.NEVER;
    }
    for (const b of list) {
      if (parseHostPort(b) === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected "host:port" for a Kafka broker, got ${JSON.stringify(b)}. Fix: write it like "kafka:9092".` });
        return z.NEVER;
      }
    }
    return list;
  })
  .prefault(['localhost:9092'])
  .describe('Bootstrap brokers, "host:port" each (a list, or one comma-separated string).');

export const clientIdSchema = z.string().min(1).default('skybridge').describe('Kafka client id, shown in broker logs and quotas.');

/** `tls:` to the brokers: the same block as the skywalking exporter's (plaintext unless `insecure: false`). */
export const kafkaTlsSchema = tlsClientSchema.prefault({}).describe('TLS to the brokers (insecure: false turns it on; ca_file, cert_file/key_file for client certificates, server_name_override).');

/** `auth:` the broker's SASL, in the OpenTelemetry Collector's shape (`auth.sasl`). */
export const kafkaAuthSchema = z
  .strictObject({
    sasl: z
      .strictObject({
        mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']).describe('SASL mechanism the broker\'s listener enables.'),
        username: z.string().min(1),
        password: z.string().min(1).describe('Write it as a ${ENV_VAR} reference.'),
      })
      .describe('SASL authentication (managed services: Confluent Cloud and Event Hubs use PLAIN, MSK and Aiven SCRAM).'),
  })
  .optional()
  .describe('Authentication to the brokers. Absent: none.');

export type KafkaAuthConfig = z.output<typeof kafkaAuthSchema>;

/** A topic name as Kafka allows it (legal characters, at most 249 of them). */
export const topicName = (what: string) =>
  z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, {
    message: `expected a Kafka topic name for ${what} (letters, digits, ".", "_", "-"; at most 249). Fix: rename the topic.`,
  });

/** Record batch compression; snappy, lz4 and zstd come from core/kafka/codecs.ts. Consumers read all of them. */
export const compressionSchema = z
  .enum(['none', 'gzip', 'snappy', 'lz4', 'zstd'])
  .default('gzip')
  .describe('Record batch compression: none, gzip, snappy, lz4 or zstd (the kafka receiver reads all of them whatever this says).');

export type KafkaCompression = z.output<typeof compressionSchema>;

export const producerSchema = z
  .strictObject({
    compression: compressionSchema,
    max_message_bytes: z
      .number().int().min(1024).max(100 * 1024 * 1024).default(1_000_000)
      .describe('Largest message produced (bytes, before compression). Keep it at or below the topic\'s max.message.bytes; larger content is split (a trace into several messages with the same key).'),
    required_acks: z
      .union([z.literal(-1), z.literal(0), z.literal(1), z.literal('all')])
      .transform((v): -1 | 0 | 1 => (v === 'all' ? -1 : v))
      .default(-1)
      .describe('Broker acknowledgement a produce waits for: -1 (all in-sync replicas; the default, "all" is an alias), 1 (the leader), 0 (none: data can be lost).'),
    linger: duration({ min: '0ms', max: '10s' })
      .prefault('10ms')
      .describe('How long messages wait to be sent together with others (one produce request per flush).'),
    max_batch_bytes: size({ min: '1KiB', max: '64MiB' })
      .prefault('1MiB')
      .describe('A flush starts as soon as this many bytes of messages are waiting, without waiting out linger.'),
    flush_max_messages: z
      .number().int().min(1).max(1_000_000).default(10_000)
      .describe('A flush starts as soon as this many messages are waiting.'),
    timeout: duration({ min: '100ms', max: '5m' })
      .prefault('5s')
      .describe('How long the broker may take to acknowledge one produce request.'),
    max_retries: z
      .number().int().min(0).max(100).default(5)
      .describe('Retries of a failed produce request inside the Kafka client (connection lost, leader moved) before it counts as failed.'),
  })
  .prefault({})
  .describe('How messages are batched, compressed and acknowledged.');
export type ProducerConfig = z.output<typeof producerSchema>;
