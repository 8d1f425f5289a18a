/**
 * The trace buffer in front of segment building: spans are held per trace id (core/traces/
 * trace-buffer.ts) until the trace is whole (every parent present) and quiet, or until `max_wait`
 * from its first span, then turned into segments in one go. This is what lets a stateless-looking
 * exporter fill SkyWalking refs, which need the parent's segment id, span number, service,
 * instance, endpoint and peer.
 *
 * Bounds: `max_traces` and `max_spans`; past them the oldest trace is built early as it is
 * (counted as `evicted`). A trace past `max_spans_per_trace` is built at once with what it holds
 * (`oversized`); its later spans form further segments that ref the earlier ones. Nothing is
 * dropped for space: memory is bounded upstream by the admission ledger, where the held spans are
 * accounted (estimated heap bytes and spans) until their segments are handed on.
 *
 * Building is paced: traces that are due wait in a queue that is worked off in slices of about
 * BUILD_SLICE_MS, each slice in its own turn of the event loop, so a burst of flushes (a quiet
 * period's traffic at once, a huge trace) never holds health checks and receivers up for long.
 */
import { ledgerOf, type LedgerAccount } from '../admission/admission-ledger.ts';
import type { ComponentSettings } from '../component.ts';
import type { SpanBatch } from '../model/span-batch.ts';
import { estimateSpanBytes } from '../traces/span-size.ts';
import { TraceBuffer, type HeldTrace } from '../traces/trace-buffer.ts';
import { buildSegments, type HeldSpan } from './segment-builder.ts';
import { FlushedSpanIndex } from './flushed-span-index.ts';
import { sameSpan, withDerivedId } from './reused-span-ids.ts';
import { BurstLog } from '../telemetry/burst-log.ts';
import type { AssembledSegment, InstanceProperties } from './segment-object.ts';
import type { AssemblyConfig } from './segment-exporter.ts';
import { identifyService, instanceProperties, type ServiceIdentity } from './service-identity.ts';

export interface AssemblerCallbacks {
  /**
   * Finished segments: every span held for `traceId` (the OTel trace id), built at once. Called
   * from `add`, the flush timer, a build slice or `flushAll`, once per flushed trace.
   */
  onSegments(segments: AssembledSegment[], traceId: string): void;
  /** A (service, instance) seen for the first time. */
  onInstance(props: InstanceProperties): void;
}

export type FlushReason = 'complete' | 'timeout' | 'evicted' | 'oversized' | 'shutdown';

/** Instances remembered for `onInstance`; past this the set restarts (a re-report is harmless). */
const MAX_REMEMBERED_INSTANCES = 100_000;
/** Longest stretch of segment building in one turn of the event loop. */
const BUILD_SLICE_MS = 10;

interface DueTrace {
  trace: HeldTrace<HeldSpan>;
  reason: FlushReason;
}

export class TraceAssembler {
  readonly #settings: ComponentSettings;
  readonly #config: AssemblyConfig;
  readonly #callbacks: AssemblerCallbacks;
  readonly #buffer: TraceBuffer<HeldSpan>;
  /** Where every recently flushed span went: late children's refs and duplicate detection. */
  readonly #index: FlushedSpanIndex;
  readonly #instances = new Set<string>();
  readonly #account: LedgerAccount;
  /** Gauge children bound once: set on every batch, so no label hashing on the hot path. */
  readonly #heldSpansGauge;
  readonly #heldTracesGauge;
  /** Traces taken out of the buffer and waiting for a build slice, oldest first. */
  #due: DueTrace[] = [];
  #dueHead = 0;
  /** Trace id → number of its entries in #due (a trace can be due more than once: oversized pieces). */
  readonly #dueIds = new Map<string, number>();
  #dueSpans = 0;
  #dueBytes = 0;
  #sliceScheduled: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Spans dropped because a span with their id was already exported: said in the log, folded per minute. */
  readonly #exportedAgainLog = new BurstLog(60_000);

  constructor(settings: ComponentSettings, config: AssemblyConfig, callbacks: AssemblerCallbacks) {
    this.#settings = settings;
    this.#config = config;
    this.#callbacks = callbacks;
    this.#index = new FlushedSpanIndex(config.flushed_index_size);
    this.#account = ledgerOf(settings).account(`${settings.id}/trace_buffer`);

    this.#buffer = new TraceBuffer<HeldSpan>(
      {
        quietPeriodMs: config.quiet_period,
        maxWaitMs: config.max_wait,
        maxTraces: config.max_traces,
        maxSpans: config.max_spans,
        maxSpansPerTrace: config.max_spans_per_trace,
      },
      {
        onReady: (trace, reason) => this.#makeDue(this.#buffer.remove(trace.traceId)!, reason),
        onEvict: (trace, reason) => this.#makeDue(trace, reason),
        decidedSpans: (traceId) => this.#index.trace(traceId),
        sizeOf: (entry) => estimateSpanBytes(entry.span),
      },
    );
    const component = settings.id;
    this.#heldSpansGauge = settings.metrics.queueSize.labels({ component, queue: 'trace_buffer_spans' });
    this.#heldTracesGauge = settings.metrics.queueSize.labels({ component, queue: 'trace_buffer_traces' });
    settings.metrics.queueCapacity.set({ component, queue: 'trace_buffer_spans' }, config.max_spans);
    settings.metrics.queueCapacity.set({ component, queue: 'trace_buffer_traces' }, config.max_traces);
  }

  /** Spans held, including traces due and not yet built. */
  get heldSpans(): number {
    return this.#buffer.heldSpans + this.#dueSpans;
  }

  get heldTraces(): number {
    return this.#buffer.heldTraces + this.#dueIds.size;
  }

  /** True while spans of `traceId` are held (they will be in one of its next flushes). */
  holds(traceId: string): boolean {
    return this.#buffer.get(traceId) !== undefined || this.#dueIds.has(traceId);
  }

  /** Held, or flushed recently enough that a late span of it still gets its refs (flushed-span index). */
  knows(traceId: string): boolean {
    return this.holds(traceId) || this.#index.trace(traceId) !== undefined;
  }

  /**
   * Buffer a batch. Never throws for data reasons; duplicates are counted and skipped. With
   * `wholeTraces` the batch's traces are built at once (an earlier stage already waited for them),
   * so their spans are never held twice.
   */
  add(batch: SpanBatch, wholeTraces = false): void {
    const touched = wholeTraces ? new Set<string>() : undefined;
    const now = Date.now();
    const perTrace = this.#config.max_spans_per_trace;
    let duplicates = 0;
    let reused = 0;
    let exportedAgain = 0;
    for (const rs of batch.resourceSpans) {
      const identity = identifyService(rs.resource.attributes);
      this.#noteInstance(identity);
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          let entry: HeldSpan = { span, scope: ss.scope, identity, receivedAtMs: now };
          const holder = this.#buffer.get(span.traceId)?.spans.get(span.spanId);
          if (holder !== undefined && !sameSpan(holder, entry)) {
            // Another span with this span's id: kept under an id of its own (reused-span-ids.ts).
            entry = withDerivedId(entry);
            reused++;
          } else if (holder === undefined && this.#index.has(span.traceId, span.spanId)) {
            exportedAgain++;
          }
          const trace = this.#buffer.add(entry, now);
          if (trace === undefined) duplicates++;
          else {
            touched?.add(trace.traceId);
            // Within one batch too: a trace never grows past its bound before it is built.
            if (trace.spans.size > perTrace) this.#buffer.enforceBounds();
          }
        }
      }
    }
    if (duplicates > 0) this.#settings.metrics.recordDrop(this.#settings.id, 'duplicate', duplicates, true);
    if (reused > 0) this.#settings.metrics.assemblerEvents.inc({ component: this.#settings.id, event: 'span_id_reused' }, reused);
    if (exportedAgain > 0) {
      const spans = this.#exportedAgainLog.take(exportedAgain);
      if (spans !== undefined) {
        this.#settings.logger.warn(
          { spans },
          'Dropped spans whose ids were already exported in segments (re-sent by their sender, or an id reused after its trace was built); counted in skybridge_dropped_spans_total{reason="duplicate"}. Repeats are folded into one line a minute.',
        );
      }
    }
    if (touched) {
      for (const traceId of touched) {
        const trace = this.#buffer.remove(traceId);
        if (trace) this.#makeDue(trace, 'complete');
      }
    }
    this.#buffer.enforceBounds();
    this.#buildSlice();
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
    this.#buildSlice();
  }

  /**
   * Drops the held spans of these traces without building segments (the source took them back);
   * returns how many spans were dropped. Spans of theirs flushed earlier stay in the index.
   */
  abandon(traceIds: ReadonlySet<string>): number {
    let spans = 0;
    for (const traceId of traceIds) spans += this.#buffer.remove(traceId)?.spans.size ?? 0;
    if (this.#dueIds.size > 0) {
      for (let i = this.#dueHead; i < this.#due.length; i++) {
        const due = this.#due[i]!;
        if (!traceIds.has(due.trace.traceId) || due.trace.spans.size === 0) continue;
        spans += due.trace.spans.size;
        this.#forgetDue(due);
        due.trace.spans.clear();
      }
    }
    if (spans > 0) this.#settings.metrics.recordDrop(this.#settings.id, 'abandoned', spans, true);
    this.#syncHoldings();
    return spans;
  }

  /** Builds everything held, due or not, at once (shutdown). */
  flushAll(reason: FlushReason): void {
    for (const trace of this.#buffer.drain()) this.#makeDue(trace, reason);
    this.#buildSlice(Number.POSITIVE_INFINITY);
  }

  #noteInstance(identity: ServiceIdentity): void {
    if (this.#instances.has(identity.key)) return;
    if (this.#instances.size >= MAX_REMEMBERED_INSTANCES) this.#instances.clear();
    this.#instances.add(identity.key);
    this.#callbacks.onInstance(instanceProperties(identity));
  }

  #makeDue(trace: HeldTrace<HeldSpan>, reason: FlushReason): void {
    this.#due.push({ trace, reason });
    this.#dueIds.set(trace.traceId, (this.#dueIds.get(trace.traceId) ?? 0) + 1);
    this.#dueSpans += trace.spans.size;
    this.#dueBytes += trace.bytes;
  }

  #forgetDue(due: DueTrace): void {
    const id = due.trace.traceId;
    const left = (this.#dueIds.get(id) ?? 1) - 1;
    if (left === 0) this.#dueIds.delete(id);
    else this.#dueIds.set(id, left);
    this.#dueSpans -= due.trace.spans.size;
    this.#dueBytes -= due.trace.bytes;
  }

  /** Builds due traces, oldest first, for about `budgetMs`; schedules the rest for the next turn. */
  #buildSlice(budgetMs = BUILD_SLICE_MS): void {
    const started = performance.now();
    while (this.#dueHead < this.#due.length) {
      const due = this.#due[this.#dueHead]!;
      this.#due[this.#dueHead++] = undefined as unknown as DueTrace;
      if (due.trace.spans.size > 0) {
        this.#forgetDue(due);
        this.#flush(due.trace, due.reason);
      }
      if (performance.now() - started >= budgetMs) break;
    }
    if (this.#dueHead === this.#due.length) {
      this.#due = [];
      this.#dueHead = 0;
    } else if (this.#dueHead > 4096 && this.#dueHead * 2 > this.#due.length) {
      this.#due = this.#due.slice(this.#dueHead);
      this.#dueHead = 0;
    }
    if (this.#dueHead < this.#due.length && this.#sliceScheduled === undefined) {
      this.#sliceScheduled = setImmediate(() => {
        this.#sliceScheduled = undefined;
        this.#buildSlice();
      });
    }
    this.#syncHoldings();
  }

  /** Builds the segments of a trace already taken out of the buffer. */
  #flush(trace: HeldTrace<HeldSpan>, reason: FlushReason): void {
    const traceId = trace.traceId;
    const component = this.#settings.id;
    const metrics = this.#settings.metrics;
    metrics.assemblerEvents.inc({ component, event: `flush_${reason}` });
    let result;
    const held = [...trace.spans.values()];
    try {
      const flushed = this.#index.trace(traceId);
      result = buildSegments(
        traceId,
        held,
        (tid, spanId) => (tid === traceId ? flushed?.get(spanId) : this.#index.get(tid, spanId)),
        { maxSegmentSpans: this.#config.max_segment_spans },
      );
    } catch (error) {
      // A translation bug must not take the process down or silently lose the trace's spans.
      metrics.recordDrop(component, 'translation_failed', trace.spans.size);
      this.#settings.logger.error({ error, traceId }, 'Could not build segments for a trace; its spans were dropped.');
      return;
    }
    if (result.orphanRefs > 0) metrics.assemblerEvents.inc({ component, event: 'orphan_ref' }, result.orphanRefs);
    if (result.selfLinks > 0) metrics.assemblerEvents.inc({ component, event: 'self_link' }, result.selfLinks);
    if (reason === 'evicted' || reason === 'oversized') {
      this.#settings.logger.debug({ traceId, spans: trace.spans.size, reason }, 'Built a trace early (buffer or per-trace bound).');
    }
    this.#index.add(traceId, result.placements);
    this.#callbacks.onSegments(result.segments, traceId);
    // References only (no copies): the trace view keeps what was built anyway, within its bounds.
    this.#settings.traceRecorder?.record(component, traceId, held, result.segments, result.placements);
  }

  /** Moves the ledger account and the gauges to what the buffer and the due queue hold now. */
  #syncHoldings(): void {
    const spans = this.#buffer.heldSpans + this.#dueSpans;
    this.#account.holdNow(this.#buffer.heldBytes + this.#dueBytes, spans);
    this.#heldSpansGauge.set(spans);
    this.#heldTracesGauge.set(this.heldTraces);
  }
}
