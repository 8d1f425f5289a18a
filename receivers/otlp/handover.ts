/**
 * Gateway-side handover of traces in flight when the set of gateways changes (the `loadbalancing`
 * exporter's ring; exporters/loadbalancing/README.md). Agents learn a change at different moments,
 * so for a while the spans of one trace can reach two gateways: the old owner from agents that did
 * not switch yet, the new owner from those that did. The new owner hands them to the old one:
 *
 * - For `grace` after this gateway saw the ring change, the spans of a trace it does not hold whose
 *   owner under the previous ring is another gateway still in the ring are sent there (`take`):
 *   every span of a moved trace then meets on its old owner while agents disagree. A previous
 *   owner that left the ring (it is being removed) only gets spans of traces it still holds.
 * - After `grace`, until twice `grace`, only traces the old owner still holds go there (`if-held`:
 *   it answers FAILED_PRECONDITION when it does not, and this gateway keeps them).
 * - A gateway that is not in the ring at all (just added, before its own lookup saw itself; or
 *   being removed) hands what it does not hold to the ring's owner (`take`).
 * - For `grace` after this gateway (re)started, traces it does not hold are offered (`if-held`) to
 *   the gateway that owns them when this one is left out: agents sent them there while it was
 *   down, and each agent takes it back into its ring at its own moment.
 *
 * A handed-over request carries `x-skybridge-handover` and is never handed on again. When the other
 * gateway cannot be reached, the spans stay here. The sender's acknowledgement waits for the
 * handover's answer, so nothing is acknowledged that no gateway took.
 */
import { Metadata, status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import type { ComponentSettings } from '../../core/component.ts';
import type { TraceConsumer } from '../../core/consumer.ts';
import { rawBytes } from '../../core/grpc/raw-method.ts';
import { encodeExportTraceServiceRequest } from '../../core/model/otlp-protobuf-encoder.ts';
import type { SpanBatch } from '../../core/model/span-batch.ts';
import { splitByTrace } from '../../core/model/split-by-trace.ts';
import { HashRing, traceKey } from '../../core/routing/hash-ring.ts';
import { createResolver, type Resolver } from '../../core/routing/resolver.ts';
import { createGrpcClient } from '../../core/grpc/client.ts';
import type { OtlpConfig } from './config.ts';

export const HANDOVER_HEADER = 'x-skybridge-handover';
export type HandoverMode = 'take' | 'if-held';
type HandoverConfig = NonNullable<OtlpConfig['handover']>;

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export class Handover {
  readonly #settings: ComponentSettings;
  readonly #config: HandoverConfig;
  readonly #next: TraceConsumer;
  readonly #resolver: Resolver;
  #ring = new HashRing([]);
  #previous: HashRing | undefined;
  #changedAt = Number.NEGATIVE_INFINITY;
  #startedAt = Number.NEGATIVE_INFINITY;
  readonly #clients = new Map<string, Client>();

  constructor(settings: ComponentSettings, config: HandoverConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#config = config;
    this.#next = next;
    this.#resolver = createResolver(config.resolver, settings.logger);
  }

  async start(): Promise<void> {
    this.#startedAt = Date.now();
    await this.#resolver.start((endpoints) => {
      if (this.#ring.size > 0) {
        this.#previous = this.#ring;
        this.#changedAt = Date.now();
      }
      this.#ring = new HashRing(endpoints);
    });
  }

  stop(): void {
    this.#resolver.stop();
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  /**
   * Hands the traces of `batch` that belong elsewhere to their gateway; returns what stays here
   * (undefined when nothing does).
   */
  async keepLocal(batch: SpanBatch): Promise<SpanBatch | undefined> {
    const self = this.#config.self;
    const sinceChange = Date.now() - this.#changedAt;
    const outsideRing = this.#ring.size > 0 && !this.#ring.endpoints.includes(self);
    let previous = sinceChange < 2 * this.#config.grace ? this.#previous : undefined;
    // Just (re)started: while this gateway was away its traces went to the next gateway on the ring.
    if (previous === undefined && !outsideRing && Date.now() - this.#startedAt < this.#config.grace && this.#ring.size > 1) {
      previous = new HashRing(this.#ring.endpoints.filter((e) => e !== self));
    }
    if (!outsideRing && previous === undefined) return batch;
    // A previous owner that left the ring is stopping: it gets only what it still holds.
    const modeFor = (target: string): HandoverMode =>
      outsideRing || (sinceChange < this.#config.grace && this.#ring.endpoints.includes(target)) ? 'take' : 'if-held';
    // (After a restart the other gateway only ever gets what it holds: `sinceChange` is infinite.)

    const traces = splitByTrace(batch);
    const away = new Map<string, SpanBatch[]>();
    const local: SpanBatch[] = [];
    // Asked all at once: with `workers: N` each answer comes from the trace's worker thread.
    const held = await Promise.all([...traces.keys()].map((traceId) => this.#next.holds?.(traceId) ?? false));
    let i = 0;
    for (const [traceId, traceBatch] of traces) {
      const target = held[i++] ? undefined : (outsideRing ? this.#ring : previous!).ownerOf(traceKey(traceId));
      if (target === undefined || target === self) local.push(traceBatch);
      else {
        const list = away.get(target);
        if (list) list.push(traceBatch);
        else away.set(target, [traceBatch]);
      }
    }
    const results = await Promise.all(
      [...away].map(async ([target, batches]) => ((await this.#send(target, merge(batches), modeFor(target))) ? [] : batches)),
    );
    local.push(...results.flat());
    if (local.length === 0) return undefined;
    return merge(local);
  }

  /** True when `target` took the spans; false when it did not hold them or could not be reached. */
  #send(target: string, batch: SpanBatch, mode: HandoverMode): Promise<boolean> {
    let client = this.#clients.get(target);
    if (!client) {
      client = createGrpcClient({ endpoint: target, tls: this.#config.tls, reconnectBackoffMs: { initial: 100, max: 1000 } });
      this.#clients.set(target, client);
    }
    const bytes = encodeExportTraceServiceRequest(batch);
    const metadata = new Metadata();
    metadata.set(HANDOVER_HEADER, mode);
    if (this.#config.token !== '') metadata.set('authorization', `Bearer ${this.#config.token}`);
    const metrics = this.#settings.metrics;
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        EXPORT_PATH,
        rawBytes,
        rawBytes,
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        metadata,
        { deadline: Date.now() + this.#config.timeout },
        (error: ServiceError | null) => {
          const outcome = error === null ? 'handed_over' : error.code === GrpcStatus.FAILED_PRECONDITION ? 'kept_not_held' : 'kept_unreachable';
          metrics.assemblerEvents.inc({ component: this.#settings.id, event: outcome });
          resolve(error === null);
        },
      );
    });
  }
}

function merge(batches: SpanBatch[]): SpanBatch {
  return batches.length === 1 ? batches[0]! : { resourceSpans: batches.flatMap((b) => b.resourceSpans) };
}
