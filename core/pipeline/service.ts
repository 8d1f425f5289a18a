/**
 * Builds the component graph from a validated config and runs its lifecycle.
 *
 * - Exporters and receivers are one instance per id, shared by every pipeline that lists them;
 *   processors are one instance per pipeline (they hold per-pipeline state, as in the Collector).
 * - A receiver's `next` fans out to the head of every pipeline that lists it; a pipeline's last
 *   processor fans out to its exporters.
 * - A pipeline listing several segment exporters with the same `assembly` gets one shared trace
 *   assembler over their sinks instead of one per exporter (#pipelineExporters).
 * - Everything is built before anything starts; start order is exporters → shared assemblers →
 *   processors → receivers so no stage receives data before its downstream is ready. Shutdown runs
 *   the other way under one deadline, so each stage drains into a consumer that is still live.
 */
import { AdmissionLedger } from '../admission/admission-ledger.ts';
import { admissionLimits } from '../admission/config.ts';
import type { Component, ComponentKind, ComponentSettings, Exporter, Host, Processor, Receiver, WindowCoordinator } from '../component.ts';
import type { TraceConsumer } from '../consumer.ts';
import type { ValidatedConfig } from '../config/validate.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { recordingErrors } from '../telemetry/error-recording-logger.ts';
import type { TraceRecorder } from '../telemetry/trace-view/trace-recorder.ts';
import { SegmentExporter } from '../segments/segment-exporter.ts';
import { Fanout } from './fanout.ts';
import { observeProcessorInput, observeProcessorOutput, observeReceiverOutput } from './observed-consumers.ts';

interface Running<C extends Component> {
  id: string;
  kind: ComponentKind;
  component: C;
}

export interface ServiceOptions {
  metrics: Metrics;
  logger: Logger;
  /** Called when a component reports a fatal error after start (the CLI shuts down and exits non-zero). */
  onFatal?: (componentId: string, error: Error) => void;
  /**
   * Which part of the graph this thread runs (core/workers/). `all` (the default): everything.
   * `{ receiversRouteTo }`: only the receivers, each handing what it decodes to
   * `receiversRouteTo(receiverId)`, the worker router. `pipelines`: everything but the receivers;
   * the thread feeds `headFor(receiverId)`.
   */
  part?: 'all' | 'pipelines' | { receiversRouteTo: (receiverId: string) => TraceConsumer };
  /** The ledger to use instead of a new one (a worker's, sharing its totals with the other threads). */
  admission?: AdmissionLedger;
  /** Handed to components in their settings (ComponentSettings.windows). */
  windows?: WindowCoordinator;
  /** Handed to components in their settings (ComponentSettings.traceRecorder). */
  traceRecorder?: TraceRecorder;
}

export class Service {
  readonly #options: ServiceOptions;
  readonly #receivers: Running<Receiver>[] = [];
  readonly #processors: Running<Processor>[] = [];
  readonly #exporters: Running<Exporter>[] = [];
  /** One trace assembler per pipeline over several segment exporters' sinks (SegmentExporter.shareAssembly). */
  readonly #sharedAssemblers: Running<Exporter>[] = [];
  #started: Running<Component>[] = [];
  #state: 'built' | 'starting' | 'running' | 'stopping' | 'stopped' = 'built';
  #shutdown: Promise<void> | undefined;
  /** Everything acknowledged and not yet delivered, across every component (core/admission/). */
  readonly admission: AdmissionLedger;
  readonly metrics: Metrics;
  /** Per receiver id, what it feeds: the heads of the pipelines that list it. */
  readonly #heads = new Map<string, TraceConsumer>();
  readonly #config: ValidatedConfig;

  constructor(config: ValidatedConfig, options: ServiceOptions) {
    this.#options = options;
    this.#config = config;
    this.metrics = options.metrics;
    this.admission = options.admission ?? new AdmissionLedger(admissionLimits(config.admission), options.metrics);
    const settings = (id: string, kind: ComponentKind): ComponentSettings => ({
      id,
      kind,
      // What a component logs at error level is also its last error on the status page.
      logger: recordingErrors(options.logger.child({ component: id }), (message) => options.metrics.recordLastError(id, message)),
      metrics: options.metrics,
      admission: this.admission,
      ...(options.windows ? { windows: options.windows } : {}),
      ...(options.traceRecorder ? { traceRecorder: options.traceRecorder } : {}),
    });
    const part = options.part ?? 'all';
    if (typeof part === 'object') {
      for (const [id, entry] of config.receivers) {
        if (![...config.pipelines.values()].some((p) => p.receivers.includes(id))) continue;
        const next = observeReceiverOutput(id, part.receiversRouteTo(id), options.metrics, this.admission);
        this.#receivers.push({ id, kind: 'receiver', component: entry.factory.create(settings(id, 'receiver'), entry.config, next) });
      }
      return;
    }

    const exporters = new Map<string, Exporter>();
    for (const [id, entry] of config.exporters) {
      if (!isUsed(config, 'exporters', id)) continue;
      const exporter = entry.factory.create(settings(id, 'exporter'), entry.config);
      exporters.set(id, exporter);
      this.#exporters.push({ id, kind: 'exporter', component: exporter });
    }

    const pipelineHeads = new Map<string, TraceConsumer>();
    for (const [pipelineId, spec] of config.pipelines) {
      let next: TraceConsumer = new Fanout(this.#pipelineExporters(pipelineId, spec.exporters, exporters, config.pipelines.size > 1, settings));
      // Build from the last processor back so each one is handed its `next` at creation.
      for (const procId of [...spec.processors].reverse()) {
        const entry = config.processors.get(procId)!;
        const instanceId = config.pipelines.size > 1 ? `${procId}@${pipelineId}` : procId;
        // Each pipeline's instance reports under its own id (`batch@traces/b`), so its drops, queues
        // and admission account are its own when several pipelines list the processor.
        const processor = entry.factory.create(settings(instanceId, 'processor'), entry.config, observeProcessorOutput(procId, pipelineId, next, options.metrics));
        this.#processors.unshift({ id: instanceId, kind: 'processor', component: processor });
        next = observeProcessorInput(procId, pipelineId, processor, options.metrics);
      }
      pipelineHeads.set(pipelineId, next);
    }

    for (const [id, entry] of config.receivers) {
      const heads = [...config.pipelines.values()].filter((p) => p.receivers.includes(id)).map((p) => pipelineHeads.get(p.id)!);
      if (heads.length === 0) continue;
      const head = heads.length === 1 ? heads[0]! : new Fanout(heads);
      this.#heads.set(id, head);
      if (part === 'pipelines') continue;
      const next = observeReceiverOutput(id, head, options.metrics, this.admission);
      this.#receivers.push({ id, kind: 'receiver', component: entry.factory.create(settings(id, 'receiver'), entry.config, next) });
    }
  }

  /** What receiver `id` feeds (in a worker thread, where the receivers run elsewhere). */
  headFor(receiverId: string): TraceConsumer {
    const head = this.#heads.get(receiverId);
    if (!head) throw new Error(`No pipeline takes spans from receiver ${receiverId}.`);
    return head;
  }

  /** Whether any pipeline holds spans of the trace (see TraceConsumer.holds). */
  holds(traceId: string): boolean | Promise<boolean> {
    return [...this.#heads.values()].some((h) => h.holds?.(traceId) === true);
  }

  /** Drops what every pipeline holds of these traces (see TraceConsumer.abandon). */
  abandon(traceIds: ReadonlySet<string>): void {
    for (const head of new Set(this.#heads.values())) head.abandon?.(traceIds);
  }

  /** The exporters' start lines, each prefixed with its id. */
  exporterLines(): string[] {
    const lines: string[] = [];
    for (const id of this.#config.exporters.keys()) {
      for (const line of this.component(id)?.describe?.() ?? []) lines.push(`${id}: ${line}`);
    }
    return lines;
  }

  /** The receivers' start lines, each prefixed with its id. */
  receiverLines(): string[] {
    const lines: string[] = [];
    for (const id of this.#config.receivers.keys()) {
      for (const line of this.component(id)?.describe?.() ?? []) lines.push(`${id}: ${line}`);
    }
    return lines;
  }

  /**
   * What a pipeline's last stage fans out to: its exporters, except that two or more segment
   * exporters with the same `assembly` are replaced by one shared assembler over all their sinks,
   * so the pipeline holds and builds each trace once. The exporters themselves still start and stop
   * their sinks (and serve any other pipeline that lists them alone).
   */
  #pipelineExporters(
    pipelineId: string,
    ids: readonly string[],
    exporters: Map<string, Exporter>,
    manyPipelines: boolean,
    settings: (id: string, kind: ComponentKind) => ComponentSettings,
  ): Exporter[] {
    const members = ids.map((id) => exporters.get(id)!);
    const segmentIds = ids.filter((id) => exporters.get(id) instanceof SegmentExporter);
    const id = `${segmentIds.join('+')}${manyPipelines ? `@${pipelineId}` : ''}`;
    const shared = SegmentExporter.shareAssembly(settings(id, 'exporter'), segmentIds.map((sid) => exporters.get(sid) as SegmentExporter));
    if (shared === undefined) return members;
    this.#sharedAssemblers.push({ id, kind: 'exporter', component: shared });
    return [...members.filter((e) => !(e instanceof SegmentExporter)), shared];
  }

  get state(): string {
    return this.#state;
  }

  /** A built component by id (tests read bound ports from receivers this way). */
  component<C extends Component = Component>(id: string): C | undefined {
    const all: Running<Component>[] = [...this.#receivers, ...this.#processors, ...this.#sharedAssemblers, ...this.#exporters];
    return all.find((r) => r.id === id)?.component as C | undefined;
  }

  async start(): Promise<void> {
    if (this.#state !== 'built') throw new Error(`Service cannot start from state ${this.#state}.`);
    this.#state = 'starting';
    const host: Host = {
      reportFatal: (componentId, error) => {
        this.#options.logger.error({ component: componentId, error }, 'Component failed after start.');
        this.#options.onFatal?.(componentId, error);
      },
    };
    for (const r of [...this.#exporters, ...this.#sharedAssemblers, ...this.#processors, ...this.#receivers] as Running<Component>[]) {
      try {
        await r.component.start(host);
        this.#started.push(r);
      } catch (error) {
        this.#options.logger.error({ component: r.id, error }, 'Component failed to start; stopping the ones already started.');
        await this.shutdown(5_000);
        throw new Error(`${r.kind} ${r.id} failed to start: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }
    this.#state = 'running';
  }

  /** Receivers first, exporters last, all under one deadline. Idempotent. */
  shutdown(timeoutMs: number): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#state = 'stopping';
      const deadline = AbortSignal.timeout(timeoutMs);
      const order = [...this.#receivers, ...this.#processors, ...this.#sharedAssemblers, ...this.#exporters] as Running<Component>[];
      for (const r of order) {
        try {
          await r.component.shutdown(deadline);
        } catch (error) {
          this.#options.logger.error({ component: r.id, error }, 'Component failed to shut down cleanly.');
        }
      }
      this.#started = [];
      this.#state = 'stopped';
    })());
  }
}

function isUsed(config: ValidatedConfig, section: 'exporters', id: string): boolean {
  for (const p of config.pipelines.values()) if (p[section].includes(id)) return true;
  return false;
}
