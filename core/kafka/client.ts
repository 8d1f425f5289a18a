/**
 * Creates kafkajs clients whose log lines go to the component's pino logger (kafkajs's own logger
 * prints to the console), at warn and above: kafkajs logs every retried connection at error, which
 * would drown a broker outage in lines, so those are folded one per burst.
 */
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../telemetry/logger.ts';
import { BurstLog } from '../telemetry/burst-log.ts';

export interface KafkaClientOptions {
  brokers: readonly string[];
  clientId: string;
  /** Per-request timeout (ms); kafkajs default 30 s. */
  requestTimeoutMs?: number;
  /** Retries inside the client for one request (kafkajs `retry.retries`). */
  retries?: number;
}

export function createKafka(logger: Logger, options: KafkaClientOptions): Kafka {
  const burst = new BurstLog();
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: 3_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: { retries: options.retries ?? 5, initialRetryTime: 100, maxRetryTime: 2_000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...fields } = entry.log;
      if (entry.level <= logLevel.ERROR) {
        const count = burst.take();
        if (count !== undefined) logger.warn({ kafka: fields, namespace: entry.namespace, count }, `Kafka client: ${message}`);
      } else logger.debug({ kafka: fields, namespace: entry.namespace }, `Kafka client: ${message}`);
    },
  });
}
