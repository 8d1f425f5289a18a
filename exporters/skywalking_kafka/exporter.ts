import { backoffDelayMs, sleep } from '../../core/retry/backoff.ts';
import type { ComponentSettings, Host } from '../../core/component.ts';
import { ExportFailedError, UnavailableError } from '../../core/errors.ts';
import { ledgerOf, type LedgerAccount } from '../../core/admission/admission-ledger.ts';
import { BatchingProducer, type OutgoingMessage } from '../../core/kafka/batching-producer.ts';
import { createKafka } from '../../core/kafka/client.ts';
import type { DeliveryReceipt } from '../../core/segments/after-export-acks.ts';
import type { SegmentSink } from '../../core/segments/segment-sink.ts';
import type { AssembledSegment, InstanceProperties } from '../../core/segments/segment-object.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import { encodeInstancePingPkg, encodeInstanceProperties, encodeSegment } from '../skywalking/codec.ts';
import { topicsOf, type SkyWalkingKafkaConfig } from './config.ts';

interface InstanceEntry {
  service: string;
  serviceInstance: string;
  layer: string;
  lastSeenMs: number;
}

/**
 * Sends segments to the OAP through Kafka, the way the OAP's kafka-fetcher reads them
 * (docs/skywalking-model.md "Kafka"): each `SegmentObject` as its own message on `[namespace-]skywalking-segments`
 * keyed by segment id (the Java agent's key), `InstanceProperties` on `[namespace-]skywalking-managements`
 * keyed `register-<instance>`, and `InstancePingPkg` keepAlives there keyed by the instance name.
 *
 * Ack point: `buffered` (default) as every SegmentExporter; `after_export` once Kafka acknowledged every
 * segment built from the batch. Failed produces are retried in memory with backoff until shutdown;
 * what is still unsent then is counted as `shutdown_timeout` drops.
 */
export class SkyWalkingKafkaSink implements SegmentSink {
  readonly settlesReceipts = true;
  readonly settings: ComponentSettings;
  readonly #config: SkyWalkingKafkaConfig;
  readonly #topics: { segments: string; managements: string };
  readonly #producer: BatchingProducer;
  readonly #instances = new Map<string, InstanceEntry>();
  readonly #stop = new AbortController();
  readonly #tasks = new Set<Promise<void>>();
  readonly #failureLog = new BurstLog();
  /** Segments handed to `deliver` and not yet acknowledged by Kafka (or given up). */
  #queued = 0;
  /** Their encoded bytes and spans, in the admission ledger until Kafka acknowledged them. */
  readonly #account: LedgerAccount;
  readonly #tooLargeLog = new BurstLog();
  #keepAliveTimer: NodeJS.Timeout | undefined;

  constructor(settings: ComponentSettings, config: SkyWalkingKafkaConfig) {
    this.settings = settings;
    this.#config = config;
    this.#topics = topicsOf(config);
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
    settings.metrics.queueCapacity.set({ component: settings.id, queue: 'sending_queue' }, config.sending_queue.queue_size);
    this.#account = ledgerOf(settings).account(`${settings.id}/sending_queue`);
  }

  describe(): string[] {
    return [`segments to Kafka topics "${this.#topics.segments}" and "${this.#topics.managements}" at ${this.#config.brokers.join(',')} (ack: ${this.#config.ack})`];
  }

  hasCapacity(): boolean {
    return this.#queued < this.#config.sending_queue.queue_size;
  }

  deliver(segments: AssembledSegment[], receipt?: DeliveryReceipt): void {
    const now = Date.now();
    const messages: OutgoingMessage[] = [];
    let spans = 0;
    let bytes = 0;
    for (const { segment } of segments) {
      const value = encodeSegment(segment);
      this.#touch(segment.service, segment.serviceInstance, now);
      if (value.length > this.#config.max_segment_size) {
        this.#dropTooLarge(segment.traceSegmentId, segment.spans.length, value.length);
        receipt?.lost(new ExportFailedError(`A segment of ${value.length} bytes is larger than max_segment_size; Kafka would refuse it.`));
        continue;
      }
      spans += segment.spans.length;
      bytes += value.length;
      messages.push({ topic: this.#topics.segments, key: segment.traceSegmentId, value });
    }
    if (messages.length === 0) return;
    const count = messages.length;
    this.#queued += count;
    this.#account.add(bytes, spans);
    this.#gauge();
    this.#track(
      this.#produceWithRetry(messages).then((sent) => {
        this.#queued -= count;
        this.#account.release(bytes, spans);
        this.#gauge();
        const { metrics, id } = this.settings;
        if (!sent) {
          metrics.recordDrop(id, 'shutdown_timeout', spans);
          const error = new UnavailableError(`Exporter ${id} shut down before Kafka acknowledged the segments.`);
          for (let i = 0; i < count; i++) receipt?.lost(error);
          return;
        }
        metrics.exporterSentSegments.inc({ component: id }, count);
        metrics.exporterSentSpans.inc({ component: id }, spans);
        metrics.kafkaMessages.inc({ component: id, topic: this.#topics.segments, outcome: 'produced' }, count);
        const done = Date.now();
        for (const { receivedAtMs } of segments) metrics.exportLatency.observe({ component: id }, (done - receivedAtMs) / 1000);
        for (let i = 0; i < count; i++) receipt?.done();
      }),
    );
  }

  onInstance(props: InstanceProperties): void {
    this.#touch(props.service, props.serviceInstance, Date.now(), props.layer);
    this.#track(
      this.#produceWithRetry([
        { topic: this.#topics.managements, key: `register-${props.serviceInstance}`, value: encodeInstanceProperties(props) },
      ]).then(() => undefined),
    );
  }

  async start(_host: Host): Promise<void> {
    this.#producer.start();
    const round = (): void => {
      const now = Date.now();
      const messages: OutgoingMessage[] = [];
      for (const [key, entry] of this.#instances) {
        if (now - entry.lastSeenMs > this.#config.instance_idle_timeout) {
          this.#instances.delete(key);
          continue;
        }
        const ping = { service: entry.service, serviceInstance: entry.serviceInstance, layer: entry.layer };
        messages.push({ topic: this.#topics.managements, key: entry.serviceInstance, value: encodeInstancePingPkg(ping) });
      }
      // keepAlives are not retried: the next round sends fresh ones.
      if (messages.length > 0) void this.#producer.send(messages).catch(() => undefined);
      this.#keepAliveTimer = setTimeout(round, this.#config.keep_alive_interval);
      this.#keepAliveTimer.unref();
    };
    this.#keepAliveTimer = setTimeout(round, 0);
    this.#keepAliveTimer.unref();
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    clearTimeout(this.#keepAliveTimer);
    // Segments flushed by the shutdown get one more try while the deadline lasts; retries stop at it.
    deadline.addEventListener('abort', () => this.#stop.abort(), { once: true });
    if (deadline.aborted) this.#stop.abort();
    await Promise.race([Promise.allSettled([...this.#tasks]), sleep(1e9, this.#stop.signal)]);
    this.#stop.abort();
    await Promise.allSettled([...this.#tasks]);
    await this.#producer.shutdown(deadline);
  }

  #touch(service: string, serviceInstance: string, now: number, layer?: string): void {
    const key = `${service}\n${serviceInstance}`;
    const entry = this.#instances.get(key);
    if (entry === undefined) this.#instances.set(key, { service, serviceInstance, layer: layer ?? '', lastSeenMs: now });
    else {
      entry.lastSeenMs = now;
      if (layer !== undefined) entry.layer = layer;
    }
  }

  /** A permanent refusal we can see coming: never produced, counted, logged once per burst. */
  #dropTooLarge(traceSegmentId: string, spans: number, bytes: number): void {
    this.settings.metrics.recordDrop(this.settings.id, 'segment_too_large', spans);
    const total = this.#tooLargeLog.take(spans);
    if (total !== undefined) {
      this.settings.logger.warn(
        { traceSegmentId, bytes, maxSegmentSize: this.#config.max_segment_size, spans: total },
        'A segment is larger than max_segment_size (the broker would refuse it); it is dropped. Raise max_segment_size with the broker\'s message.max.bytes, or lower assembly.max_segment_spans.',
      );
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  #gauge(): void {
    this.settings.metrics.queueSize.set({ component: this.settings.id, queue: 'sending_queue' }, this.#queued);
  }

  /** True once Kafka acknowledged `messages`; false if shutdown ended the retries first. */
  async #produceWithRetry(messages: OutgoingMessage[]): Promise<boolean> {
    const { initial_interval, max_interval } = this.#config.retry_on_failure;
    for (let attempt = 1; ; attempt++) {
      if (this.#stop.signal.aborted) return false;
      try {
        await this.#producer.send(messages);
        return true;
      } catch (error) {
        const { metrics, id, logger } = this.settings;
        metrics.exporterSendFailedSegments.inc({ component: id, reason: 'kafka_produce' }, messages.length);
        metrics.kafkaMessages.inc({ component: id, topic: messages[0]!.topic, outcome: 'produce_failed' }, messages.length);
        const count = this.#failureLog.take();
        if (count !== undefined) logger.warn({ error, failures: count }, 'Producing segments to Kafka failed; retrying.');
        await sleep(backoffDelayMs({ initialIntervalMs: initial_interval, maxIntervalMs: max_interval }, attempt), this.#stop.signal);
      }
    }
  }
}
