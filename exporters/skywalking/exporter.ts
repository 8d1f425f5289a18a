import type { Client } from '@grpc/grpc-js';
import type { ComponentSettings, Host } from '../../core/component.ts';
import type { DeliveryReceipt } from '../../core/segments/after-export-acks.ts';
import type { SegmentSink } from '../../core/segments/segment-sink.ts';
import type { AssembledSegment, InstanceProperties } from '../../core/segments/segment-object.ts';
import type { SkyWalkingConfig } from './config.ts';
import { publishChannelState } from './channel-state.ts';
import { ManagementReporter } from './management-reporter.ts';
import { createOapClient } from './oap-client.ts';
import { SegmentSender } from './segment-sender.ts';

/**
 * The `skywalking` exporter's sink (composed with the trace assembler by SegmentExporter, see
 * factory.ts): sends segments to a SkyWalking OAP over gRPC and keeps their instances alive there.
 * Ack point (`ack`): `buffered` (the default) acknowledges spans once the trace assembler holds
 * them (see SegmentExporter); `after_export` once every segment built from them was answered by the
 * OAP or written to the Redis retry queue. After assembly the sending queue holds the encoded
 * segments until the OAP answered their collect stream; with a `redis` block a failed batch moves
 * to Redis and is retried from there. One gRPC channel carries both segments and management calls.
 */
export class SkyWalkingSink implements SegmentSink {
  readonly settlesReceipts = true;
  readonly #settings: ComponentSettings;
  readonly #config: SkyWalkingConfig;
  readonly #client: Client;
  readonly #sender: SegmentSender;
  readonly #reporter: ManagementReporter;

  /** Reads TLS files at once, so a bad path fails at startup; connects on the first call. */
  constructor(settings: ComponentSettings, config: SkyWalkingConfig) {
    this.#settings = settings;
    this.#config = config;
    this.#client = createOapClient({
      endpoint: config.endpoint,
      tls: config.tls,
      reconnectBackoffMs: { initial: config.retry_on_failure.initial_interval, max: config.retry_on_failure.max_interval },
    });
    this.#sender = new SegmentSender(settings, this.#client, {
      token: config.token,
      timeoutMs: config.timeout,
      maxBatch: config.max_batch,
      numConsumers: config.sending_queue.num_consumers,
      queueSize: config.sending_queue.queue_size,
      maxSegmentSize: config.max_segment_size,
      retry: { initialIntervalMs: config.retry_on_failure.initial_interval, maxIntervalMs: config.retry_on_failure.max_interval },
      redis: config.redis,
    });
    this.#reporter = new ManagementReporter(settings, this.#client, {
      token: config.token,
      timeoutMs: config.timeout,
      keepAliveIntervalMs: config.keep_alive_interval,
      instanceIdleTimeoutMs: config.instance_idle_timeout,
      maxInstances: config.max_instances,
      newInstancesPerSecond: config.new_instances_per_second,
    });
  }

  describe(): string[] {
    const durable = this.#sender.durable;
    return [
      `segments to the OAP at ${this.#config.endpoint} (ack: ${this.#config.ack})`,
      durable
        ? `retries: ${durable.describe()}`
        : `retries: in memory only (bounded by admission.max_bytes); add a redis block for durable retry`,
    ];
  }

  deliver(segments: AssembledSegment[], receipt?: DeliveryReceipt): void {
    for (const { segment } of segments) this.#reporter.touch(segment.service, segment.serviceInstance);
    this.#sender.enqueue(segments, receipt);
  }

  hasCapacity(): boolean {
    return this.#sender.hasCapacity();
  }

  onInstance(props: InstanceProperties): void {
    this.#reporter.add(props);
  }

  async start(_host: Host): Promise<void> {
    if (this.#config.token !== '' && this.#config.tls.insecure) {
      this.#settings.logger.warn(
        { endpoint: this.#config.endpoint },
        'The OAP token is sent without TLS: anyone on the network path can read it. Fix: set tls.insecure: false (and tls.ca_file if the OAP\'s certificate is not from a system CA).',
      );
    }
    if (this.#sender.durable === undefined) {
      this.#settings.logger.info(
        { queueSize: this.#config.sending_queue.queue_size, ack: this.#config.ack },
        'No redis block: failed sends are retried in memory only; segments held during an OAP outage are lost if skybridge crashes.',
      );
    }
    publishChannelState(this.#client, this.#settings.metrics, this.#settings.id);
    this.#settings.metrics.watchInstances(this.#settings.id, { count: () => this.#reporter.size, recent: (limit) => this.#reporter.recent(limit) });
    await this.#sender.start();
    this.#reporter.start();
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    // keepAlives stop first: the instances' last segments are still sent, but no one should be
    // pinged as alive once skybridge goes away.
    this.#reporter.stop();
    this.#settings.metrics.unwatchInstances(this.#settings.id);
    await this.#sender.shutdown(deadline);
    this.#client.close();
  }
}
