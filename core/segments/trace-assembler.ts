/**
 * The trace buffer in front of segment building: spans are held per trace id (core/traces/
 * trace-buffer.ts) until the trace is whole (every parent present) and quiet, or until `max_wait`
 * from its first span, then turned into segments in one go. This is what lets a stateless-looking
 * exporter fill SkyWalking refs, which need the parent's segment id, span number, service,
 * instance, endpoint and peer.
 *
 * Bounds: `max_traces` and `max_spans`. Past them the oldest trace is flushed early as it is
 * (counted as `evicted`), so memory stays bounded without losing accepted spans.
 */
import type { ComponentSettings } from '../component.ts';
import type { SpanBatch } from '../model/span-batch.ts';
import { DecidedSpanIndex } from '../traces/decided-span-index.ts';
import { TraceBuffer, type HeldTrace } from '../traces/trace-buffer.ts';
import { buildSegments, type HeldSpan, type SpanPlacement } from './segment-builder.ts';
import type { AssembledSegment, InstanceProperties } from './segment-object.ts';
import type { AssemblyConfig } from './segment-exporter.ts';
import { identifyService, instanceProperties, type ServiceIdentity } from './service-identity.ts';

export interface AssemblerCallbacks {
  /**
   * Finished segments: every span held for `traceId` (the OTel trace id), built at once. Called
   * synchronously from `add`, the flush timer or `flushAll`, once per flushed trace.
   */
  onSegments(segments: AssembledSegment[], traceId: string): void;
  /** A (service, instance) seen for the first time. */
  onInstance(props: InstanceProperties): void;
}

export type FlushReason = 'complete' | 'timeout' | 'evicted' | 'shutdown';

/** Instances remembered for `onInstance`; past this the set restarts (a re-report is harmless). */
const MAX_REMEMBERED_INSTANCES = 100_000;

export class TraceAssembler {
  readonly #settings: ComponentSettings;
  readonly #config: AssemblyConfig;
  readonly #callbacks: AssemblerCallbacks;
  readonly #buffer: TraceBuffer<HeldSpan>;
  /** Where every recently flushed span went: late children's refs and duplicate detection. */
  readonly #index: DecidedSpanIndex<SpanPlacement>;
  readonly #instances = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: ComponentSettings, config: AssemblyConfig, callbacks: AssemblerCallbacks) {
    this.#settings = settings;
    this.#config = config;
    this.#callbacks = callbacks;
    this.#index = new DecidedSpanIndex(config.flushed_index_size);
    this.#buffer = new TraceBuffer<HeldSpan>(
      { quietPeriodMs: config.quiet_period, maxWaitMs: config.max_wait, maxTraces: config.max_traces, maxSpans: config.max_spans },
      {
        onReady: (trace, reason) => this.#flush(this.#buffer.remove(trace.traceId)!, reason),
        // The oversized reason never comes: the assembler sets no per-trace bound.
        onEvict: (trace) => this.#flush(trace, 'evicted'),
        decidedSpans: (traceId) => this.#index.trace(traceId),
      },
    );
    const component = settings.id;
    settings.metrics.queueCapacity.set({ component, queue: 'trace_buffer_spans' }, config.max_spans);
    settings.metrics.queueCapacity.set({ component, queue: 'trace_buffer_traces' }, config.max_traces);
  }

  get heldSpans(): number {
    return this.#buffer.heldSpans;
  }

  /** True while spans of `traceId` are held (they will be in its next flush). */
  holds(traceId: string): boolean {
    return this.#buffer.get(traceId) !== undefined;
  }

  get heldTraces(): number {
    return this.#buffer.heldTraces;
  }

  /**
   * Buffer a batch. Never throws for data reasons; duplicates are counted and skipped. With
   * `wholeTraces` the batch's traces are built into segments at once (an earlier stage already
   * waited for them), so their spans are never held twice.
   */
  add(batch: SpanBatch, wholeTraces = false): void {
    const touched = wholeTraces ? new Set<string>() : undefined;
    const now = Date.now();
    let duplicates = 0;
    for (const rs of batch.resourceSpans) {
      const identity = identifyService(rs.resource.attributes);
      this.#noteInstance(identity);
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          const trace = this.#buffer.add({ span, scope: ss.scope, identity, receivedAtMs: now }, now);
          if (trace === undefined) duplicates++;
          else touched?.add(trace.traceId);
        }
      }
    }
    if (duplicates > 0) this.#settings.metrics.recordDrop(this.#settings.id, 'duplicate', duplicates, true);
    if (touched) {
      for (const traceId of touched) {
        const trace = this.#buffer.remove(traceId);
        if (trace) this.#flush(trace, 'complete');
      }
    }
    this.#buffer.enforceBounds();
    this.#updateGauges();
  }

  start(): void {
    if (this.#timer) return;
    // Tick a few times per quiet period so a whole trace leaves within ~1.25 × quiet_period.
    const interval = Math.max(10, Math.min(250, Math.floor(this.#config.quiet_period / 4)));
    this.#timer = setInterval(() => this.tick(Date.now()), interval);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Flush every trace that is ready at `now`. Public for tests that drive time themselves. */
  tick(now: number): void {
    this.#buffer.tick(now);
    this.#updateGauges();
  }

  /**
   * Drops the held spans of these traces without building segments (the source took them back);
   * returns how many spans were dropped. Spans of theirs flushed earlier stay in the index.
   */
  abandon(traceIds: ReadonlySet<string>): number {
    let spans = 0;
    for (const traceId of traceIds) spans += this.#buffer.remove(traceId)?.spans.size ?? 0;
    if (spans > 0) this.#settings.metrics.recordDrop(this.#settings.id, 'abandoned', spans, true);
    this.#updateGauges();
    return spans;
  }

  flushAll(reason: FlushReason): void {
    for (const trace of this.#buffer.drain()) this.#flush(trace, reason);
    this.#updateGauges();
  }

  #noteInstance(identity: ServiceIdentity): void {
    if (this.#instances.has(identity.key)) return;
    if (this.#instances.size >= MAX_REMEMBERED_INSTANCES) this.#instances.clear();
    this.#instances.add(identity.key);
    this.#callbacks.onInstance(instanceProperties(identity));
  }

  /** Builds the segments of a trace already taken out of the buffer. */
  #flush(trace: HeldTrace<HeldSpan>, reason: FlushReason): void {
    const traceId = trace.traceId;
    const component = this.#settings.id;
    const metrics = this.#settings.metrics;
    metrics.assemblerEvents.inc({ component, event: `flush_${reason}` });
    let result;
    try {
      const flushed = this.#index.trace(traceId);
      result = buildSegments(traceId, [...trace.spans.values()], (tid, spanId) => (tid === traceId ? flushed?.get(spanId) : this.#index.get(tid, spanId)));
    } catch (error) {
      // A translation bug must not take the process down or silently lose the trace's spans.
      metrics.recordDrop(component, 'translation_failed', trace.spans.size);
      this.#settings.logger.error({ error, traceId }, 'Could not build segments for a trace; its spans were dropped.');
      return;
    }
    if (result.orphanRefs > 0) metrics.assemblerEvents.inc({ component, event: 'orphan_ref' }, result.orphanRefs);
    if (reason === 'evicted') {
      this.#settings.logger.debug({ traceId, spans: trace.spans.size }, 'Trace buffer full; flushed the oldest trace early.');
    }
    this.#index.addAll(traceId, result.placements);
    this.#callbacks.onSegments(result.segments, traceId);
  }

  #updateGauges(): void {
    const component = this.#settings.id;
    this.#settings.metrics.queueSize.set({ component, queue: 'trace_buffer_spans' }, this.#buffer.heldSpans);
    this.#settings.metrics.queueSize.set({ component, queue: 'trace_buffer_traces' }, this.#buffer.heldTraces);
  }
}
