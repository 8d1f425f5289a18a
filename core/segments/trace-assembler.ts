/**
 * The trace buffer: spans are held per trace id until the trace is whole (every parent present)
 * and quiet, or until `max_wait` from its first span, then turned into segments in one go. This is
 * what lets a stateless-looking exporter fill SkyWalking refs, which need the parent's segment id,
 * span number, service, instance, endpoint and peer.
 *
 * Bounds: `max_traces` and `max_spans`. Past them the oldest trace is flushed early as it is
 * (counted as `evicted`), so memory stays bounded without losing accepted spans.
 */
import type { ComponentSettings } from '../component.ts';
import type { SpanBatch } from '../model/span-batch.ts';
import { buildSegments, type HeldSpan } from './segment-builder.ts';
import { otelSpanIdFromSkyWalking, skyWalkingParentFromTracestate } from '../propagation/skywalking-continuation.ts';
import type { Span } from '../model/span-batch.ts';
import type { AssembledSegment, InstanceProperties } from './segment-object.ts';
import type { AssemblyConfig } from './segment-exporter.ts';
import { FlushedSpanIndex } from './flushed-span-index.ts';
import { identifyService, instanceProperties, type ServiceIdentity } from './service-identity.ts';

export interface AssemblerCallbacks {
  /** Finished segments. Called synchronously from `add`, the flush timer or `flushAll`. */
  onSegments(segments: AssembledSegment[]): void;
  /** A (service, instance) seen for the first time. */
  onInstance(props: InstanceProperties): void;
}

export type FlushReason = 'complete' | 'timeout' | 'evicted' | 'shutdown';

interface HeldTrace {
  spans: Map<string, HeldSpan>;
  /** Parent span ids referenced but not held (nor flushed before). Empty = the trace is whole. */
  missingParents: Set<string>;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** Instances remembered for `onInstance`; past this the set restarts (a re-report is harmless). */
const MAX_REMEMBERED_INSTANCES = 100_000;

/** The span's parent is a SkyWalking agent's span (it will never arrive as an OTel span). */
function continuesSkyWalkingAgent(span: Span): boolean {
  if (!span.traceState) return false;
  const sw = skyWalkingParentFromTracestate(span.traceState);
  return sw !== undefined && otelSpanIdFromSkyWalking(sw.parentSegmentId, sw.parentSpanId) === span.parentSpanId;
}

export class TraceAssembler {
  readonly #settings: ComponentSettings;
  readonly #config: AssemblyConfig;
  readonly #callbacks: AssemblerCallbacks;
  readonly #traces = new Map<string, HeldTrace>();
  readonly #index: FlushedSpanIndex;
  readonly #instances = new Set<string>();
  #heldSpans = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: ComponentSettings, config: AssemblyConfig, callbacks: AssemblerCallbacks) {
    this.#settings = settings;
    this.#config = config;
    this.#callbacks = callbacks;
    this.#index = new FlushedSpanIndex(config.flushed_index_size);
    const component = settings.id;
    settings.metrics.queueCapacity.set({ component, queue: 'trace_buffer_spans' }, config.max_spans);
    settings.metrics.queueCapacity.set({ component, queue: 'trace_buffer_traces' }, config.max_traces);
  }

  get heldSpans(): number {
    return this.#heldSpans;
  }

  get heldTraces(): number {
    return this.#traces.size;
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
          const traceId = span.traceId;
          const flushed = this.#index.trace(traceId);
          if (flushed?.has(span.spanId)) {
            duplicates++;
            continue;
          }
          let trace = this.#traces.get(traceId);
          if (!trace) {
            trace = { spans: new Map(), missingParents: new Set(), firstSeenMs: now, lastSeenMs: now };
            this.#traces.set(traceId, trace);
          } else if (trace.spans.has(span.spanId)) {
            duplicates++;
            continue;
          }
          trace.spans.set(span.spanId, { span, scope: ss.scope, identity, receivedAtMs: now });
          touched?.add(traceId);
          trace.lastSeenMs = now;
          trace.missingParents.delete(span.spanId);
          const parent = span.parentSpanId;
          if (parent && !trace.spans.has(parent) && !flushed?.has(parent) && !continuesSkyWalkingAgent(span)) trace.missingParents.add(parent);
          this.#heldSpans++;
        }
      }
    }
    if (duplicates > 0) this.#settings.metrics.recordDrop(this.#settings.id, 'duplicate', duplicates, true);
    if (touched) {
      for (const traceId of touched) {
        const trace = this.#traces.get(traceId);
        if (trace) this.#flush(traceId, trace, 'complete');
      }
    }
    this.#enforceBounds();
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
    const { quiet_period, max_wait } = this.#config;
    for (const [traceId, trace] of this.#traces) {
      if (now - trace.firstSeenMs >= max_wait) this.#flush(traceId, trace, 'timeout');
      else if (now - trace.lastSeenMs >= quiet_period && trace.missingParents.size === 0) this.#flush(traceId, trace, 'complete');
    }
    this.#updateGauges();
  }

  flushAll(reason: FlushReason): void {
    for (const [traceId, trace] of this.#traces) this.#flush(traceId, trace, reason);
    this.#updateGauges();
  }

  #noteInstance(identity: ServiceIdentity): void {
    if (this.#instances.has(identity.key)) return;
    if (this.#instances.size >= MAX_REMEMBERED_INSTANCES) this.#instances.clear();
    this.#instances.add(identity.key);
    this.#callbacks.onInstance(instanceProperties(identity));
  }

  #enforceBounds(): void {
    const { max_traces, max_spans } = this.#config;
    // Oldest first: Map iteration follows insertion, i.e. first-seen order.
    for (const [traceId, trace] of this.#traces) {
      if (this.#traces.size <= max_traces && this.#heldSpans <= max_spans) break;
      this.#flush(traceId, trace, 'evicted');
    }
  }

  #flush(traceId: string, trace: HeldTrace, reason: FlushReason): void {
    this.#traces.delete(traceId);
    this.#heldSpans -= trace.spans.size;
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
    this.#callbacks.onSegments(result.segments);
  }

  #updateGauges(): void {
    const component = this.#settings.id;
    this.#settings.metrics.queueSize.set({ component, queue: 'trace_buffer_spans' }, this.#heldSpans);
    this.#settings.metrics.queueSize.set({ component, queue: 'trace_buffer_traces' }, this.#traces.size);
  }
}
