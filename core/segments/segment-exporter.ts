/**
 * Base for exporters whose output is SkyWalking segments (skywalking gRPC, debug, later Kafka).
 * It owns the trace assembler: spans are buffered per trace, whole traces become segments, and a
 * subclass only delivers finished segments. Ack point: `consume` resolves once the spans are in the
 * assembler's buffer (which, when over its bounds, builds its oldest traces early rather than
 * refuse). It never refuses for space: what is held is bounded by the admission ledger at the
 * receivers (core/admission/), where the subclass's own "cannot take more" signal (`hasCapacity`)
 * is registered too, so stages in front (batch, tail_sampling) are never refused data they already
 * acknowledged. With `ackAfterExport` (a subclass opts in), `consume` resolves only once every
 * segment holding the batch's spans was delivered or durably queued (after-export-acks.ts).
 */
import { z } from 'zod';
import type { ComponentSettings, Exporter, Host } from '../component.ts';
import type { ConsumeContext } from '../consumer.ts';
import { ledgerOf } from '../admission/admission-ledger.ts';
import { UnavailableError } from '../errors.ts';
import { countSpans, traceIdsOf, type SpanBatch } from '../model/span-batch.ts';
import { duration } from '../config/units.ts';
import { AfterExportAcks, type DeliveryReceipt } from './after-export-acks.ts';
import type { AssembledSegment, InstanceProperties } from './segment-object.ts';
import { TraceAssembler } from './trace-assembler.ts';

export const assemblySchema = z
  .strictObject({
    quiet_period: duration({ min: '10ms', max: '5m' })
      .prefault('1s')
      .describe('A trace whose root has arrived is turned into segments once no span of it arrived for this long.'),
    max_wait: duration({ min: '10ms', max: '30m' })
      .prefault('10s')
      .describe('Longest a trace is held from its first span, even if spans (such as its root) are still missing.'),
    max_traces: z
      .number().int().min(1).max(10_000_000).default(50_000)
      .describe('Traces held at once; past it the oldest traces are built early (not dropped).'),
    max_spans: z
      .number().int().min(1).max(100_000_000).default(1_000_000)
      .describe('Spans held at once across all traces; past it the oldest traces are built early (not dropped). Memory is bounded by the top-level admission block.'),
    max_spans_per_trace: z
      .number().int().min(1).max(10_000_000).default(10_000)
      .describe('Spans one trace may gather before what it holds is built at once; later spans of it join by refs. Keeps a runaway trace from one long build.'),
    max_segment_spans: z
      .number().int().min(10).max(1_000_000).default(300)
      .describe("Spans in one segment, as the agents' span_limit_per_segment; a larger local tree is split into CrossThread-linked segments."),
    flushed_index_size: z
      .number().int().min(0).max(100_000_000).default(200_000)
      .describe('Spans remembered after their trace was flushed, so late spans still get correct refs and duplicates are recognised.'),
  })
  .prefault({})
  .describe('How spans are grouped into whole traces before they become segments.');
export type AssemblyConfig = z.output<typeof assemblySchema>;

export interface SegmentExporterOptions {
  /**
   * Acknowledge a batch only once its segments were delivered or durably queued, within
   * `timeoutMs` (then a retryable UnavailableError). The subclass must settle every receipt
   * `deliver` gets.
   */
  ackAfterExport?: { timeoutMs: number } | undefined;
}

export abstract class SegmentExporter implements Exporter {
  readonly mutatesData = false;
  protected readonly settings: ComponentSettings;
  protected readonly assembler: TraceAssembler;
  #closing = false;
  readonly #acks: AfterExportAcks | undefined;

  constructor(settings: ComponentSettings, assembly: AssemblyConfig, options: SegmentExporterOptions = {}) {
    this.settings = settings;
    this.#acks = options.ackAfterExport ? new AfterExportAcks(settings.id, options.ackAfterExport.timeoutMs) : undefined;
    ledgerOf(settings).addValve(`exporter ${settings.id}`, () => !this.#closing && !this.hasCapacity());
    this.assembler = new TraceAssembler(settings, assembly, {
      onSegments: (segments, traceId) => this.deliver(segments, this.#acks?.flushed(traceId, segments.length)),
      onInstance: (props) => this.onInstance(props),
    });
  }

  /**
   * Take ownership of finished segments (enqueue or write them). Must not throw. With
   * `ackAfterExport`, `receipt` is set: call its `done()` or `lost()` once per segment.
   */
  protected abstract deliver(segments: AssembledSegment[], receipt?: DeliveryReceipt): void;
  /** False while the delivery queue is full: receivers then refuse new spans with a retryable status. */
  protected abstract hasCapacity(): boolean;
  /** Called once per (service, instance) the assembler meets, with properties from resource attributes. */
  protected onInstance(_props: InstanceProperties): void {}
  protected abstract startTransport(host: Host): Promise<void>;
  /** Drain the delivery queue within the deadline; count what is cut off as shutdown_timeout drops. */
  protected abstract shutdownTransport(deadline: AbortSignal): Promise<void>;

  async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    if (this.#closing) throw new UnavailableError(`Exporter ${this.settings.id} is shutting down.`);
    const acks = this.#acks;
    if (acks === undefined) {
      this.assembler.add(batch, ctx.wholeTraces === true);
      this.settings.metrics.exporterIncomingSpans.inc({ component: this.settings.id }, countSpans(batch));
      return;
    }
    // Registered before the add, so flushes the add itself triggers are counted.
    const pending = acks.begin(traceIdsOf(batch));
    try {
      this.assembler.add(batch, ctx.wholeTraces === true);
    } catch (error) {
      pending.promise.catch(() => undefined);
      acks.cancel(pending, new UnavailableError(`Exporter ${this.settings.id} could not take the batch.`));
      throw error;
    }
    this.settings.metrics.exporterIncomingSpans.inc({ component: this.settings.id }, countSpans(batch));
    await acks.settle(pending, (traceId) => this.assembler.holds(traceId));
  }

  /** Drops the held spans of traces the source took back; batches waiting on them are refused (retryable). */
  abandon(traceIds: ReadonlySet<string>): void {
    const spans = this.assembler.abandon(traceIds);
    this.#acks?.abandonTraces(traceIds, new UnavailableError(`Exporter ${this.settings.id}: the source took these traces back (abandoned).`));
    if (spans > 0) this.settings.logger.debug({ traces: traceIds.size, spans }, 'Dropped the held spans of traces the source took back.');
  }

  async start(host: Host): Promise<void> {
    await this.startTransport(host);
    this.assembler.start();
  }

  #shutdown: Promise<void> | undefined;

  /** Flush every held trace as it is (partial traces included), then drain the transport. Idempotent. */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#closing = true;
      this.assembler.stop();
      this.assembler.flushAll('shutdown');
      await this.shutdownTransport(deadline);
      this.#acks?.abandonAll(new UnavailableError(`Exporter ${this.settings.id} shut down before delivery was confirmed.`));
    })());
  }
}
