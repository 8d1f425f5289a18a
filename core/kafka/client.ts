/**
 * Creates kafkajs clients whose log lines go to the component's pino logger (kafkajs's own logger
 * prints to the console), at warn and above: kafkajs logs every retried connection at error, which
 * would drown a broker outage in lines, so those are folded one per burst.
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import type { TlsClientConfig } from '../config/units.ts';
import type { Logger } from '../telemetry/logger.ts';
import { registerKafkaCodecs } from './codecs.ts';
import type { KafkaAuthConfig } from './config.ts';
import { BurstLog } from '../telemetry/burst-log.ts';

export interface KafkaClientOptions {
  brokers: readonly string[];
  clientId: string;
  /** Per-request timeout (ms); kafkajs default 30 s. */
  requestTimeoutMs?: number;
  /** Retries inside the client for one request (kafkajs `retry.retries`). */
  retries?: number;
  /** The component's `tls:` block; plaintext when absent or insecure. */
  tls?: TlsClientConfig;
  /** The component's `auth:` block. */
  auth?: KafkaAuthConfig;
}

const SASL_MECHANISM = { PLAIN: 'plain', 'SCRAM-SHA-256': 'scram-sha-256', 'SCRAM-SHA-512': 'scram-sha-512' } as const;

/** kafkajs `ssl`: files read now, so a wrong path fails the component's start. */
function sslOptions(tls: TlsClientConfig | undefined): { ssl?: object } {
  if (tls === undefined || tls.insecure) return {};
  const file = (path: string | undefined, what: string) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`Cannot read the Kafka TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const ca = file(tls.ca_file, 'CA (ca_file)');
  const cert = file(tls.cert_file, 'client certificate (cert_file)');
  const key = file(tls.key_file, 'client key (key_file)');
  return {
    ssl: {
      rejectUnauthorized: true,
      ...(ca ? { ca: [ca] } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(tls.server_name_override ? { servername: tls.server_name_override } : {}),
    },
  };
}

export function createKafka(logger: Logger, options: KafkaClientOptions): Kafka {
  registerKafkaCodecs();
  const burst = new BurstLog();
  const sasl = options.auth?.sasl;
  if (sasl?.mechanism === 'PLAIN' && (options.tls === undefined || options.tls.insecure)) {
    logger.warn('Kafka SASL/PLAIN sends the password without TLS (tls.insecure is true): anyone on the network path can read it.');
  }
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...sslOptions(options.tls),
    ...(sasl ? { sasl: { mechanism: SASL_MECHANISM[sasl.mechanism], username: sasl.username, password: sasl.password } as SASLOptions } : {}),
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
