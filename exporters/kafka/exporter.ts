import type { ComponentSettings, Exporter, Host } from '../../core/component.ts';
import type { ConsumeContext } from '../../core/consumer.ts';
import { UnavailableError } from '../../core/errors.ts';
import { BatchingProducer, type OutgoingMessage } from '../../core/kafka/batching-producer.ts';
import { createKafka } from '../../core/kafka/client.ts';
import { encodeExportTraceServiceRequest } from '../../core/model/otlp-protobuf-encoder.ts';
import { countSpans, type SpanBatch } from '../../core/model/span-batch.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import type { KafkaExporterConfig } from './config.ts';
import { halve, splitByTrace } from '../../core/model/split-by-trace.ts';

/** Bytes waiting in the producer beyond which new batches are refused (retryable), in max_batch_bytes. */
const BUFFER_FACTOR = 16;

/**
 * The agent side of a Kafka tier: every batch becomes OTLP `ExportTraceServiceRequest` messages,
 * one trace per message, keyed by the trace id (so the default murmur2 partitioner puts a trace in
 * one partition, and one gateway sees all of it). Ack point: `consume` resolves only once Kafka
 * acknowledged every message of the batch (with `producer.required_acks`, all in-sync replicas by
 * default); a failed produce rejects with a retryable UnavailableError, so the sender keeps its
 * spans and resends (OTLP answers 503 / UNAVAILABLE). Nothing is held in skybridge between tries.
 */
export class KafkaExporter implements Exporter {
  readonly mutatesData = false;
  readonly #settings: ComponentSettings;
  readonly #config: KafkaExporterConfig;
  readonly #producer: BatchingProducer;
  readonly #failureLog = new BurstLog();
  #closing = false;

  constructor(settings: ComponentSettings, config: KafkaExporterConfig) {
    this.#settings = settings;
    this.#config = config;
    const kafka = createKafka(settings.logger, {
      brokers: config.brokers,
      clientId: config.client_id,
      tls: config.tls,
      auth: config.auth,
      requestTimeoutMs: config.producer.timeout,
      retries: config.producer.max_retries,
    });
    this.#producer = new BatchingProducer(kafka, settings.logger, {
      acks: config.producer.required_acks,
      timeoutMs: config.producer.timeout,
      compression: config.producer.compression,
      lingerMs: config.producer.linger,
      maxBatchBytes: config.producer.max_batch_bytes,
      flushMaxMessages: config.producer.flush_max_messages,
    });
  }

  describe(): string[] {
    const p = this.#config.producer;
    return [`OTLP protobuf to Kafka topic "${this.#config.topic}" at ${this.#config.brokers.join(',')} (keyed by trace id, acks ${p.required_acks}, ${p.compression})`];
  }

  async start(_host: Host): Promise<void> {
    this.#producer.start();
  }

  async consume(batch: SpanBatch, _ctx: ConsumeContext): Promise<void> {
    const id = this.#settings.id;
    if (this.#closing) throw new UnavailableError(`Exporter ${id} is shutting down.`);
    if (this.#producer.bufferedBytes > this.#config.producer.max_batch_bytes * BUFFER_FACTOR) {
      throw new UnavailableError(`Exporter ${id}: Kafka is not keeping up (${this.#producer.bufferedBytes} bytes waiting).`);
    }
    const spans = countSpans(batch);
    this.#settings.metrics.exporterIncomingSpans.inc({ component: id }, spans);
    const messages: OutgoingMessage[] = [];
    let tooLarge = 0;
    for (const [traceId, traceBatch] of splitByTrace(batch)) tooLarge += this.#encode(traceId, traceBatch, messages);
    if (tooLarge > 0) {
      // A single span above max_message_bytes can never be produced; resending would not help.
      this.#settings.metrics.recordDrop(id, 'payload_too_large', tooLarge);
      this.#settings.logger.warn({ spans: tooLarge, max_message_bytes: this.#config.producer.max_message_bytes }, 'Dropped spans larger than producer.max_message_bytes on their own.');
    }
    const topic = this.#config.topic;
    try {
      await this.#producer.send(messages);
    } catch (error) {
      this.#settings.metrics.kafkaMessages.inc({ component: id, topic, outcome: 'produce_failed' }, messages.length);
      const count = this.#failureLog.take();
      if (count !== undefined) this.#settings.logger.warn({ error, failures: count }, 'Producing to Kafka failed; the sender gets a retryable error.');
      throw new UnavailableError(`Exporter ${id}: producing to Kafka failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.#settings.metrics.kafkaMessages.inc({ component: id, topic, outcome: 'produced' }, messages.length);
    this.#settings.metrics.exporterSentSpans.inc({ component: id }, spans - tooLarge);
  }

  /** Encodes one trace as one message, or several if it is over max_message_bytes. Returns spans dropped. */
  #encode(traceId: string, batch: SpanBatch, out: OutgoingMessage[]): number {
    const value = encodeExportTraceServiceRequest(batch);
    if (value.length + traceId.length <= this.#config.producer.max_message_bytes) {
      out.push({ topic: this.#config.topic, key: traceId, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) });
      return 0;
    }
    if (countSpans(batch) <= 1) return countSpans(batch);
    const [a, b] = halve(batch);
    return this.#encode(traceId, a, out) + this.#encode(traceId, b, out);
  }

  #shutdown: Promise<void> | undefined;

  /** Sends what is waiting and waits for the acknowledgements (consumers still waiting get them). */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#closing = true;
      await this.#producer.shutdown(deadline);
    })());
  }
}
