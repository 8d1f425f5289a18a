import type { Client } from '@grpc/grpc-js';
import type { ComponentSettings, Host } from '../../core/component.ts';
import { SegmentExporter } from '../../core/segments/segment-exporter.ts';
import type { AssembledSegment, InstanceProperties } from '../../core/segments/segment-object.ts';
import type { SkyWalkingConfig } from './config.ts';
import { ManagementReporter } from './management-reporter.ts';
import { createOapClient } from './oap-client.ts';
import { SegmentSender } from './segment-sender.ts';

/**
 * Sends assembled segments to a SkyWalking OAP over gRPC and keeps their instances alive there.
 * Ack point: spans are acknowledged once the trace assembler holds them (see SegmentExporter);
 * from there the sending queue holds the encoded segments until the OAP answered their collect
 * stream. One gRPC channel carries both segments and management calls.
 */
export class SkyWalkingExporter extends SegmentExporter {
  readonly #client: Client;
  readonly #sender: SegmentSender;
  readonly #reporter: ManagementReporter;

  /** Reads TLS files at once, so a bad path fails at startup; connects on the first call. */
  constructor(settings: ComponentSettings, config: SkyWalkingConfig) {
    super(settings, config.assembly);
    this.#client = createOapClient({
      endpoint: config.endpoint,
      tls: config.tls,
      reconnectBackoffMs: { initial: config.retry_on_failure.initial_interval, max: config.retry_on_failure.max_interval },
    });
    this.#sender = new SegmentSender(settings, this.#client, {
      token: config.token,
      timeoutMs: config.timeout,
      maxBatch: config.max_batch,
      queueSize: config.sending_queue.queue_size,
      retry: { initialIntervalMs: config.retry_on_failure.initial_interval, maxIntervalMs: config.retry_on_failure.max_interval },
    });
    this.#reporter = new ManagementReporter(settings, this.#client, {
      token: config.token,
      timeoutMs: config.timeout,
      keepAliveIntervalMs: config.keep_alive_interval,
      instanceIdleTimeoutMs: config.instance_idle_timeout,
    });
  }

  protected override deliver(segments: AssembledSegment[]): void {
    for (const { segment } of segments) this.#reporter.touch(segment.service, segment.serviceInstance);
    this.#sender.enqueue(segments);
  }

  protected override hasCapacity(): boolean {
    return this.#sender.hasCapacity();
  }

  protected override onInstance(props: InstanceProperties): void {
    this.#reporter.add(props);
  }

  protected override async startTransport(_host: Host): Promise<void> {
    this.#sender.start();
    this.#reporter.start();
  }

  protected override async shutdownTransport(deadline: AbortSignal): Promise<void> {
    // keepAlives stop first: the instances' last segments are still sent, but no one should be
    // pinged as alive once skybridge goes away.
    this.#reporter.stop();
    await this.#sender.shutdown(deadline);
    this.#client.close();
  }
}
