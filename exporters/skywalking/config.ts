import { z } from 'zod';
import { assemblySchema } from '../../core/segments/segment-exporter.ts';
import { duration, endpoint, size, tlsClientSchema } from '../../core/config/units.ts';
import { redisRetrySchema } from '../../core/queue/durable-retry/config.ts';

const sendingQueueSchema = z
  .strictObject({
    queue_size: z
      .number().int().min(1).max(10_000_000).default(10_000)
      .describe('Encoded segments held for sending (including the batches in flight) before this exporter refuses new spans with a retryable status. Segments already taken are never dropped for room: memory is bounded by the top-level admission block.'),
    num_consumers: z
      .number().int().min(1).max(64).default(4)
      .describe('Consumers that send batches from the queue concurrently, as num_consumers of the OpenTelemetry Collector\'s sending_queue: each keeps one collect stream (up to max_batch segments) in flight, so one stream\'s round trip does not hold up the queue.'),
  })
  .prefault({})
  .describe('The in-memory queue between trace assembly and the OAP, and the consumers that send from it.');

const retrySchema = z
  .strictObject({
    initial_interval: duration({ min: '1ms', max: '1m' })
      .prefault('500ms')
      .describe('Wait before the first retry of a failed batch; it doubles with every further failure (with full jitter).'),
    max_interval: duration({ min: '1ms', max: '10m' })
      .prefault('30s')
      .describe('Upper bound of the wait between retries; also the longest gRPC reconnect backoff.'),
  })
  .refine((r) => r.max_interval >= r.initial_interval, {
    message: 'max_interval is below initial_interval. Fix: make max_interval at least initial_interval.',
    path: ['max_interval'],
  })
  .prefault({})
  .describe('Retries of batches that failed with a transient error (OAP down, deadline, connection lost). In memory they go on until shutdown; with a redis block they run from Redis until redis.max_attempts or redis.max_age. Permanent errors are never retried.');

export const skywalkingConfigSchema = z
  .strictObject({
    endpoint: endpoint('the OAP gRPC receiver')
      .default('127.0.0.1:11800')
      .describe('OAP gRPC address, "host:port" (core.gRPCPort, 11800 by default, or the receiver-sharing-server port).'),
    token: z
      .string()
      .default('')
      .describe('Sent as gRPC metadata "Authentication" on every call when not empty; must equal the OAP\'s SW_AUTHENTICATION. Use TLS with it.'),
    tls: tlsClientSchema.prefault({}),
    timeout: duration({ min: '10ms', max: '10m' })
      .prefault('10s')
      .describe('Deadline of one call: a whole batch stream, or one management report.'),
    max_batch: z
      .number().int().min(1).max(100_000).default(500)
      .describe('Most segments written on one collect stream. A batch counts as delivered only once the OAP answers the stream.'),
    max_segment_size: size({ min: '1KiB', max: '1GiB' })
      .prefault('48MiB')
      .describe('Largest encoded segment sent. The OAP refuses a larger message (maxMessageSize: 50 MiB by default since SkyWalking 10.1.0, gRPC\'s 4 MiB before), so a larger segment is never sent (an older OAP\'s 4 MiB refusal is handled by splitting the batch): it goes to the dead-letter queue with a redis block, else it is dropped and counted as segment_too_large.'),
    sending_queue: sendingQueueSchema,
    retry_on_failure: retrySchema,
    keep_alive_interval: duration({ min: '10ms', max: '1h' })
      .prefault('20s')
      .describe('How often ManagementService/keepAlive is sent for every instance seen (the Node agent uses 20s).'),
    instance_idle_timeout: duration({ min: '10ms', max: '24h' })
      .prefault('5m')
      .describe('Stop sending keepAlive for an instance when none of its segments was exported for this long, so instances that went away show as gone in SkyWalking.'),
    max_instances: z
      .number().int().min(1).max(10_000_000).default(10_000)
      .describe('Instances remembered for keepAlive at once. Past it, new instances are not reported (their segments still go out, and the OAP still learns them from the segments); counted and logged. Bounds memory and the keepAlive calls per round whatever senders claim to be.'),
    new_instances_per_second: z
      .number().int().min(1).max(100_000).default(100)
      .describe('New instances reported (reportInstanceProperties + first keepAlive) per second at most; the rest wait for later rounds. A burst of made-up instances cannot flood the OAP with management calls.'),
    assembly: assemblySchema,
    redis: redisRetrySchema
      .optional()
      .describe('Durable retry (BullMQ on Redis) for batches whose send failed, with a dead-letter queue. Without it, retries are in memory only and what they hold is lost if skybridge crashes.'),
    ack: z
      .enum(['buffered', 'after_export'])
      .default('buffered')
      .describe('When a receiver may answer success. buffered: once the trace buffer holds the spans (lost if skybridge crashes before export). after_export: once every segment built from them reached the OAP or the redis queue; until then the sender waits.'),
    ack_timeout: duration({ min: '100ms', max: '10m' })
      .prefault('5s')
      .describe('With ack: after_export, how long a batch may wait for its segments before the sender gets a retryable error (it resends; duplicates are recognised). Keep it above assembly.quiet_period and below the senders\' own export timeout (10 s in the OTel SDKs).'),
  })
  .refine((c) => c.ack !== 'after_export' || c.ack_timeout > c.assembly.quiet_period, {
    message: 'ack_timeout must be longer than assembly.quiet_period: a batch cannot be exported before its trace is quiet. Fix: raise ack_timeout or lower assembly.quiet_period.',
    path: ['ack_timeout'],
  })
  .describe('Sends SkyWalking segments to an OAP over gRPC (TraceSegmentReportService/collect), with instance keepAlives.');

export type SkyWalkingConfig = z.output<typeof skywalkingConfigSchema>;
