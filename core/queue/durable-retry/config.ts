import { z } from 'zod';
import { duration, size } from '../../config/units.ts';

/**
 * The `redis` block of an exporter with durable retry. Absent: the exporter retries in memory only.
 * Shared by every exporter that sends encoded segments (skywalking today, skywalking_kafka later).
 */
export const redisRetrySchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^rediss?:\/\/[^\s]+$/, {
        message: 'expected a Redis URL such as "redis://127.0.0.1:6379" or "rediss://user:pass@redis:6380/1". Fix: start it with redis:// (or rediss:// for TLS).',
      })
      .describe('Redis to keep failed batches in: redis://[user:password@]host:port[/db], or rediss:// for TLS.'),
    key_prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, { message: 'expected letters, digits, "_", "." or "-". Fix: drop the other characters (":" separates BullMQ\'s own key parts).' })
      .default('skybridge')
      .describe('First part of every key. The queue is "<key_prefix>:<exporter id>", so replicas with the same prefix and exporter id share one queue (any of them resumes what another left).'),
    max_queue_bytes: size({ min: '1KiB', max: '64GiB' })
      .prefault('256MiB')
      .describe('Payload bytes kept in Redis (compressed, as stored), pending and dead-lettered together. When full, new batches stay in memory and the exporter refuses new spans with a retryable status.'),
    max_jobs: z
      .number().int().min(1).max(10_000_000).default(100_000)
      .describe('Jobs kept in Redis, pending and dead-lettered together; one job is one failed batch (up to max_batch segments). When full, as for max_queue_bytes.'),
    max_attempts: z
      .number().int().min(1).max(1_000_000).default(1000)
      .describe('Attempts of a job from Redis before it goes to the dead-letter queue (the first, in-memory attempt is not counted).'),
    max_age: duration({ min: '1s', max: '30d' })
      .prefault('6h')
      .describe('A job older than this (since it entered Redis) goes to the dead-letter queue at its next attempt.'),
    concurrency: z
      .number().int().min(1).max(64).default(2)
      .describe('Jobs sent from Redis at the same time by one skybridge.'),
  })
  .describe('Durable retry: batches whose send failed are kept in a BullMQ queue on Redis, retried with backoff, and dead-lettered after max_attempts or max_age. A restarted skybridge resumes them.');

export type RedisRetryConfig = z.output<typeof redisRetrySchema>;
