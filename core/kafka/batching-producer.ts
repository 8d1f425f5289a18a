/**
 * A kafkajs producer with the batching the Kafka exporters need: messages handed in by many
 * `send` calls wait up to `linger` (or until `maxBatchBytes` / `flushMaxMessages` are reached) and
 * go out in one produce request. Each `send` resolves once the broker acknowledged every one of its
 * messages (with `acks`), and rejects if any was not. kafkajs itself has no linger; its
 * `sendBatch` is one request per call.
 */
import { CompressionTypes, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { KafkaCompression } from './config.ts';
import type { Logger } from '../telemetry/logger.ts';

const COMPRESSION_TYPES: Record<KafkaCompression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

export interface OutgoingMessage {
  topic: string;
  key: string;
  value: Buffer;
}

export interface BatchingProducerOptions {
  acks: -1 | 0 | 1;
  timeoutMs: number;
  compression: KafkaCompression;
  lingerMs: number;
  maxBatchBytes: number;
  flushMaxMessages: number;
  /** Produce requests in flight at once; further flushes wait. */
  maxInFlight?: number;
}

interface Waiter {
  remaining: number;
  failed: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface Pending {
  message: OutgoingMessage;
  waiter: Waiter;
}

export class BatchingProducer {
  readonly #kafka: Kafka;
  readonly #logger: Logger;
  readonly #options: BatchingProducerOptions;
  #producer: Producer | undefined;
  #connecting: Promise<Producer> | undefined;
  #pending: Pending[] = [];
  #pendingBytes = 0;
  #inFlightBytes = 0;
  #inFlight = 0;
  readonly #idle = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(kafka: Kafka, logger: Logger, options: BatchingProducerOptions) {
    this.#kafka = kafka;
    this.#logger = logger;
    this.#options = options;
  }

  /** Bytes waiting for a flush plus bytes in produce requests not yet answered. */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#inFlightBytes;
  }

  /** Connects in the background; a failure is retried by the first flush. */
  start(): void {
    void this.#connect().catch((error: unknown) => {
      this.#logger.warn({ error }, 'Kafka producer could not connect yet; produces retry the connection.');
    });
  }

  /** Resolves once the broker acknowledged all `messages`; rejects when any produce failed. */
  send(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('The Kafka producer is shut down.'));
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { remaining: messages.length, failed: false, resolve, reject };
      for (const message of messages) {
        this.#pending.push({ message, waiter });
        this.#pendingBytes += message.value.length + message.key.length;
      }
      if (this.#pendingBytes >= this.#options.maxBatchBytes || this.#pending.length >= this.#options.flushMaxMessages) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#options.lingerMs);
    });
  }

  /** Sends what is waiting, waits for produces in flight (until `deadline`), disconnects. */
  async shutdown(deadline: AbortSignal): Promise<void> {
    this.#closed = true;
    this.#flush();
    const aborted = new Promise<void>((resolve) => {
      if (deadline.aborted) resolve();
      else deadline.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([this.#whenIdle(), aborted]);
    const producer = this.#producer ?? (await this.#connecting?.catch(() => undefined));
    this.#producer = undefined;
    await Promise.race([producer?.disconnect().catch(() => undefined), aborted]);
  }

  #whenIdle(): Promise<void> {
    if (this.#inFlight === 0 && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  #connect(): Promise<Producer> {
    if (this.#producer !== undefined) return Promise.resolve(this.#producer);
    this.#connecting ??= (async () => {
      const producer = this.#kafka.producer({ allowAutoTopicCreation: true });
      try {
        await producer.connect();
      } catch (error) {
        this.#connecting = undefined;
        await producer.disconnect().catch(() => undefined);
        throw error;
      }
      this.#producer = producer;
      this.#connecting = undefined;
      return producer;
    })();
    return this.#connecting;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const max = this.#options.maxInFlight ?? 4;
    while (this.#pending.length > 0 && this.#inFlight < max) {
      // Take up to the byte / message bounds for this request.
      let bytes = 0;
      let n = 0;
      while (n < this.#pending.length && n < this.#options.flushMaxMessages) {
        const size = this.#pending[n]!.message.value.length + this.#pending[n]!.message.key.length;
        if (n > 0 && bytes + size > this.#options.maxBatchBytes) break;
        bytes += size;
        n++;
      }
      const batch = this.#pending.splice(0, n);
      this.#pendingBytes -= bytes;
      this.#inFlightBytes += bytes;
      this.#inFlight++;
      void this.#produce(batch).finally(() => {
        this.#inFlight--;
        this.#inFlightBytes -= bytes;
        if (this.#pending.length > 0) this.#flush();
        else if (this.#inFlight === 0) {
          for (const resolve of this.#idle) resolve();
          this.#idle.clear();
        }
      });
    }
  }

  async #produce(batch: Pending[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { message } of batch) {
      let list = byTopic.get(message.topic);
      if (list === undefined) byTopic.set(message.topic, (list = []));
      list.push({ key: message.key, value: message.value });
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    try {
      const producer = await this.#connect();
      await producer.sendBatch({
        topicMessages,
        acks: this.#options.acks,
        timeout: this.#options.timeoutMs,
        compression: COMPRESSION_TYPES[this.#options.compression],
      });
    } catch (error) {
      // A producer whose connections broke stays "disconnected" in kafkajs; start over next time.
      const producer = this.#producer;
      this.#producer = undefined;
      void producer?.disconnect().catch(() => undefined);
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const { waiter } of batch) {
        if (waiter.failed) continue;
        waiter.failed = true;
        waiter.reject(failure);
      }
      return;
    }
    for (const { waiter } of batch) {
      if (waiter.failed) continue;
      if (--waiter.remaining === 0) waiter.resolve();
    }
  }
}
