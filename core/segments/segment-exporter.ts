/**
 * Exporters whose output is SkyWalking segments (skywalking, skywalking_kafka, debug): a trace
 * assembler composed with sinks (segment-sink.ts). Spans are buffered per trace, whole traces
 * become segments, and the sinks deliver them. Ack point: `consume` resolves once the spans are in
 * the assembler's buffer (which, when over its bounds, builds its oldest traces early rather than
 * refuse). It never refuses for space: what is held is bounded by the admission ledger at the
 * receivers (core/admission/), where the sinks' own "cannot take more" signal (`hasCapacity`) is
 * registered too, so stages in front (batch, tail_sampling) are never refused data they already
 * acknowledged. With `ackAfterExport`, `consume` resolves only once every segment holding the
 * batch's spans was delivered or durably queued (after-export-acks.ts).
 */
import { z } from 'zod';
import type { ComponentSettings, Exporter, Host } from '../component.ts';
import type { ConsumeContext } from '../consumer.ts';
import { ledgerOf } from '../admission/admission-ledger.ts';
import { UnavailableError } from '../errors.ts';
import { countSpans, traceIdsOf, type SpanBatch } from '../model/span-batch.ts';
import { duration } from '../config/units.ts';
import { AfterExportAcks } from './after-export-acks.ts';
import type { AssembledSegment } from './segment-object.ts';
import type { SegmentSink } from './segment-sink.ts';
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
   * `timeoutMs` (then a retryable UnavailableError). Sinks that settle receipts get one per delivery.
   */
  ackAfterExport?: { timeoutMs: number } | undefined;
  /**
   * False for a pipeline's shared assembler over other exporters' sinks: those exporters start and
   * stop their sinks, this one only its assembler. True (the default) for an exporter's own sinks.
   */
  ownsSinks?: boolean;
}

/**
 * An exporter of SkyWalking segments: a trace assembler whose segments go to one or more sinks. Each
 * segment exporter type is this class composed with its sink (`skywalking`: the OAP over gRPC,
 * `skywalking_kafka`, `debug`). When one pipeline lists several of them with the same `assembly`
 * settings, the runtime builds one more of these over all their sinks (`shareAssembly`), so the
 * pipeline holds and builds each trace once, not once per exporter.
 */
export class SegmentExporter implements Exporter {
  readonly mutatesData = false;
  readonly settings: ComponentSettings;
  readonly assembly: AssemblyConfig;
  readonly sinks: readonly SegmentSink[];
  readonly options: SegmentExporterOptions;
  readonly #assembler: TraceAssembler;
  readonly #acks: AfterExportAcks | undefined;
  /** Deliveries per segment that settle a receipt: the sinks that settle receipts. */
  readonly #receiptsPerSegment: number;
  #closing = false;

  constructor(settings: ComponentSettings, assembly: AssemblyConfig, sinks: readonly SegmentSink[], options: SegmentExporterOptions = {}) {
    this.settings = settings;
    this.assembly = assembly;
    this.sinks = sinks;
    this.options = options;
    this.#receiptsPerSegment = sinks.filter((sink) => sink.settlesReceipts).length;
    this.#acks = options.ackAfterExport && this.#receiptsPerSegment > 0 ? new AfterExportAcks(settings.id, options.ackAfterExport.timeoutMs) : undefined;
    if (options.ownsSinks !== false) ledgerOf(settings).addValve(`exporter ${settings.id}`, () => !this.#closing && sinks.some((sink) => !sink.hasCapacity()));
    this.#assembler = new TraceAssembler(settings, assembly, {
      onSegments: (segments, traceId) => this.#deliver(segments, traceId),
      onInstance: (props) => {
        for (const sink of sinks) sink.onInstance?.(props);
      },
    });
  }

  /**
   * One exporter over the sinks of several, for a pipeline that lists them all: undefined unless
   * there are two or more with the same `assembly`. The result acknowledges after export when any of
   * them does (with the longest `ack_timeout`).
   */
  static shareAssembly(settings: ComponentSettings, exporters: readonly SegmentExporter[]): SegmentExporter | undefined {
    if (exporters.length < 2) return undefined;
    const first = JSON.stringify(exporters[0]!.assembly);
    if (exporters.some((e) => JSON.stringify(e.assembly) !== first)) return undefined;
    const timeouts = exporters.map((e) => e.options.ackAfterExport?.timeoutMs).filter((t): t is number => t !== undefined);
    return new SegmentExporter(settings, exporters[0]!.assembly, exporters.flatMap((e) => e.sinks), {
      ackAfterExport: timeouts.length > 0 ? { timeoutMs: Math.max(...timeouts) } : undefined,
      ownsSinks: false,
    });
  }

  describe(): string[] {
    return this.sinks.flatMap((sink) => sink.describe?.() ?? []);
  }

  async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    if (this.#closing) throw new UnavailableError(`Exporter ${this.settings.id} is shutting down.`);
    const acks = this.#acks;
    if (acks === undefined) {
      this.#assembler.add(batch, ctx.wholeTraces === true);
      this.settings.metrics.exporterIncomingSpans.inc({ component: this.settings.id }, countSpans(batch));
      return;
    }
    // Registered before the add, so flushes the add itself triggers are counted.
    const pending = acks.begin(traceIdsOf(batch));
    try {
      this.#assembler.add(batch, ctx.wholeTraces === true);
    } catch (error) {
      pending.promise.catch(() => undefined);
      acks.cancel(pending, new UnavailableError(`Exporter ${this.settings.id} could not take the batch.`));
      throw error;
    }
    this.settings.metrics.exporterIncomingSpans.inc({ component: this.settings.id }, countSpans(batch));
    await acks.settle(pending, (traceId) => this.#assembler.holds(traceId));
  }

  /** Drops the held spans of traces the source took back; batches waiting on them are refused (retryable). */
  holds(traceId: string): boolean {
    return this.#assembler.knows(traceId);
  }

  abandon(traceIds: ReadonlySet<string>): void {
    const spans = this.#assembler.abandon(traceIds);
    this.#acks?.abandonTraces(traceIds, new UnavailableError(`Exporter ${this.settings.id}: the source took these traces back (abandoned).`));
    if (spans > 0) this.settings.logger.debug({ traces: traceIds.size, spans }, 'Dropped the held spans of traces the source took back.');
  }

  async start(host: Host): Promise<void> {
    if (this.options.ownsSinks !== false) for (const sink of this.sinks) await sink.start(host);
    this.#assembler.start();
  }

  #shutdown: Promise<void> | undefined;

  /** Flush every held trace as it is (partial traces included), then drain the sinks it owns. Idempotent. */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#closing = true;
      this.#assembler.stop();
      this.#assembler.flushAll('shutdown');
      if (this.options.ownsSinks !== false) await Promise.all(this.sinks.map((sink) => sink.shutdown(deadline)));
      // A shared assembler's segments are with sinks that stop later; acks still open then are cut off here.
      this.#acks?.abandonAll(new UnavailableError(`Exporter ${this.settings.id} shut down before delivery was confirmed.`));
    })());
  }

  #deliver(segments: AssembledSegment[], traceId: string): void {
    const receipt = this.#acks?.flushed(traceId, segments.length * this.#receiptsPerSegment);
    for (const sink of this.sinks) sink.deliver(segments, sink.settlesReceipts ? receipt : undefined);
  }
}
