/**
 * tail_sampling: holds spans per trace (core/traces/trace-buffer.ts) until the trace is ready,
 * classifies it with the policies (policies.ts), and keeps or drops it: drop policies win, must-keep
 * traces pass at once, the rest compete for the `sample_n_per_3_secs` budget of their window
 * (budget.ts). Kept traces go on as whole traces (`wholeTraces`), so a segment exporter builds them
 * at once and the spans are held once, not twice. Late spans follow the remembered decision.
 *
 * Ack point: `consume` resolves once the spans are in the buffer (memory), or with `ack:
 * after_decision` once their traces were decided and the kept ones accepted downstream
 * (decision-acks.ts). Kept traces are handed on from the decision timer; while the next stage
 * refuses them, they are retried and `consume` refuses new spans with a retryable status, so
 * backpressure reaches the senders.
 */
import { ledgerOf, type LedgerAccount } from '../../core/admission/admission-ledger.ts';
import type { ComponentSettings, Processor } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { asSkybridgeError, OverloadedError, UnavailableError } from '../../core/errors.ts';
import type { InstrumentationScope, Resource, ResourceSpans, Span, SpanBatch } from '../../core/model/span-batch.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import { estimateSpanBytes } from '../../core/traces/span-size.ts';
import { TraceBuffer, type EvictReason, type HeldTrace } from '../../core/traces/trace-buffer.ts';
import { WINDOW_MS, WindowBudget, type ClosedWindow } from './budget.ts';
import { BUDGET_POLICY, type TailSamplingConfig } from './config.ts';
import { DecisionAcks } from './decision-acks.ts';
import { DecisionCache } from './decision-cache.ts';
import { PolicySet, type Classification, type SampledSpan } from './policies.ts';

/** Most spans handed on in one batch when releasing kept traces. */
const RELEASE_BATCH_SPANS = 4096;
const MAX_RELEASES_IN_FLIGHT = 4;
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 5_000;

type Trace = HeldTrace<SampledSpan>;
type EarlyReason = EvictReason | 'shutdown';

export interface TailSamplingOptions {
  /** Milliseconds since the epoch; tests pass a fake clock and call `tick` themselves. */
  clock?: () => number;
}

export class TailSamplingProcessor implements Processor {
  readonly mutatesData = false;
  readonly #settings: ComponentSettings;
  readonly #config: TailSamplingConfig;
  readonly #next: TraceConsumer;
  readonly #clock: () => number;
  readonly #buffer: TraceBuffer<SampledSpan>;
  readonly #policies: PolicySet;
  /** Undefined when sample_n_per_3_secs is 0: every trace no drop policy matched is kept. */
  readonly #budget: WindowBudget | undefined;
  readonly #decisions: DecisionCache;
  /** Set with ack: after_decision. */
  readonly #acks: DecisionAcks | undefined;
  readonly #releaseContext: ConsumeContext;
  /** Kept traces waiting to be handed on, oldest first. */
  #outbox: Trace[] = [];
  #outboxSpans = 0;
  /** Estimated heap of the outbox's traces (and of those in flight), for the admission ledger. */
  #outboxBytes = 0;
  /** Buffer and outbox, in the admission ledger until kept traces are accepted downstream. */
  readonly #account: LedgerAccount;
  /** Kept traces in batches handed on and not yet answered (their spans stay in #outboxSpans). */
  #inFlight = 0;
  /** The next stage refused the last release (retryable): new spans are refused too. */
  #refusing = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = RETRY_INITIAL_MS;
  #closing = false;
  /** The shutdown deadline, once shutting down: retries of releases stop when it aborts. */
  #deadline: AbortSignal | undefined;
  /** The clock at the start of the current consume, tick or shutdown. */
  #now = 0;
  #shutdown: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** With `workers: N`: the last `through` reported to the main thread (see #settleAcrossWorkers). */
  #reportedThrough = Number.NEGATIVE_INFINITY;
  /** Window settlements waiting for the other workers; shutdown waits for them. */
  readonly #settling = new Set<Promise<void>>();
  readonly #earlyLog = new BurstLog();
  readonly #refusedLog = new BurstLog();

  constructor(settings: ComponentSettings, config: TailSamplingConfig, next: TraceConsumer, options: TailSamplingOptions = {}) {
    this.#settings = settings;
    this.#config = config;
    this.#next = next;
    this.#clock = options.clock ?? Date.now;
    this.#policies = new PolicySet(config);
    this.#budget = config.sample_n_per_3_secs > 0 ? new WindowBudget(config.sample_n_per_3_secs, config.decision_wait) : undefined;
    this.#decisions = new DecisionCache(config.decision_cache_size);
    this.#acks = config.ack === 'after_decision' ? new DecisionAcks(settings.id, config.ack_timeout) : undefined;
    this.#account = ledgerOf(settings).account(`${settings.id}/tail_sampling`);
    this.#releaseContext = { receiver: settings.id, transport: 'tail_sampling', wholeTraces: true };
    this.#buffer = new TraceBuffer<SampledSpan>(
      {
        quietPeriodMs: config.quiet_period,
        maxWaitMs: config.decision_wait,
        maxTraces: config.max_traces,
        // Spans are bounded through bytes and spans per trace; a count bound would only duplicate them.
        maxSpans: Number.POSITIVE_INFINITY,
        maxBytes: config.max_buffer_bytes,
        maxSpansPerTrace: config.max_spans_per_trace,
      },
      {
        onReady: (trace) => this.#onReady(trace),
        onEvict: (trace, reason) => this.#decideEarly(trace, reason),
        sizeOf: (entry) => estimateSpanBytes(entry.span),
      },
    );
    const metrics = settings.metrics;
    metrics.queueCapacity.set({ component: settings.id, queue: 'trace_buffer_traces' }, config.max_traces);
    metrics.queueCapacity.set({ component: settings.id, queue: 'trace_buffer_bytes' }, config.max_buffer_bytes);
    metrics.queueCapacity.set({ component: settings.id, queue: 'decision_cache' }, config.decision_cache_size);
  }

  get heldTraces(): number {
    return this.#buffer.heldTraces;
  }

  get heldSpans(): number {
    return this.#buffer.heldSpans;
  }

  async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    if (this.#closing) throw new UnavailableError(`Processor ${this.#settings.id} is shutting down.`);
    if (this.#refusing) throw new OverloadedError(`Processor ${this.#settings.id}: the next stage is refusing kept traces; retry later.`);
    const now = (this.#now = this.#clock());
    let late: Map<Resource, { rs: ResourceSpans; scopes: Map<InstrumentationScope, Span[]> }> | undefined;
    let lateKept = 0;
    let lateDropped = 0;
    let duplicates = 0;
    // Spans of one trace usually come together: look its decision up once per run.
    let lastTraceId = '';
    let decision: boolean | undefined;
    const buffered = this.#acks ? new Set<string>() : undefined;
    for (const rs of batch.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          if (span.traceId !== lastTraceId) {
            lastTraceId = span.traceId;
            decision = this.#decisions.get(lastTraceId);
          }
          if (decision === true) {
            late ??= new Map();
            let r = late.get(rs.resource);
            if (!r) late.set(rs.resource, (r = { rs: { resource: rs.resource, schemaUrl: rs.schemaUrl, scopeSpans: [] }, scopes: new Map() }));
            let spans = r.scopes.get(ss.scope);
            if (!spans) {
              r.scopes.set(ss.scope, (spans = []));
              r.rs.scopeSpans.push({ scope: ss.scope, schemaUrl: ss.schemaUrl, spans });
            }
            spans.push(span);
            lateKept++;
          } else if (decision === false) {
            lateDropped++;
          } else {
            const entry: SampledSpan = { span, scope: ss.scope, resource: rs.resource, resourceSchemaUrl: rs.schemaUrl, scopeSchemaUrl: ss.schemaUrl };
            if (this.#buffer.add(entry, now) === undefined) duplicates++;
            // A duplicate is held too: its batch waits for the trace's decision all the same.
            buffered?.add(span.traceId);
          }
        }
      }
    }
    const { id: component, metrics } = this.#settings;
    if (duplicates > 0) metrics.recordDrop(component, 'duplicate', duplicates, true);
    // Registered before enforceBounds, which may decide some of these traces at once.
    const decided = buffered ? this.#acks!.wait(buffered) : undefined;
    if (lateDropped > 0) {
      metrics.samplingLateSpans.inc({ component, decision: 'dropped' }, lateDropped);
      metrics.recordDrop(component, 'sampled_out', lateDropped, true);
    }
    this.#buffer.enforceBounds();
    this.#updateGauges();
    this.#pump();
    if (late) {
      metrics.samplingLateSpans.inc({ component, decision: 'kept' }, lateKept);
      // An ordinary batch: the segment exporter holds these a quiet period and refs their parents
      // through its index of flushed spans.
      const forwarded = this.#next.consume({ resourceSpans: [...late.values()].map((r) => r.rs) }, { receiver: ctx.receiver, transport: ctx.transport });
      if (decided) await Promise.all([decided, forwarded]);
      else await forwarded;
    } else if (decided) {
      await decided;
    }
  }

  /**
   * The source took these traces back (Kafka rebalance): held and not-yet-released kept traces are
   * dropped undecided, their batches refused (retryable), and the next stage told the same. Traces
   * in a release already handed on are the next stage's to abandon.
   */
  abandon(traceIds: ReadonlySet<string>): void {
    let spans = 0;
    for (const traceId of traceIds) {
      const trace = this.#buffer.remove(traceId);
      if (trace === undefined) continue;
      spans += trace.spans.size;
      this.#budget?.withdraw(traceId);
    }
    this.#outbox = this.#outbox.filter((trace) => {
      if (!traceIds.has(trace.traceId)) return true;
      spans += trace.spans.size;
      this.#outboxSpans -= trace.spans.size;
      this.#outboxBytes -= trace.bytes;
      return false;
    });
    this.#settings.metrics.recordDrop(this.#settings.id, 'abandoned', spans, true);
    this.#acks?.failed(traceIds, new UnavailableError(`Processor ${this.#settings.id}: the source took these traces back (abandoned).`));
    this.#updateGauges();
    this.#next.abandon?.(traceIds);
  }

  holds(traceId: string): boolean {
    return this.#buffer.get(traceId) !== undefined || this.#outbox.some((t) => t.traceId === traceId) || this.#next.holds?.(traceId) === true;
  }

  async start(): Promise<void> {
    if (this.#timer) return;
    // A few ticks per quiet period, and at most 250 ms apart so windows close on time.
    const interval = Math.max(10, Math.min(250, Math.floor(this.#config.quiet_period / 4)));
    this.#timer = setInterval(() => this.tick(), interval);
    this.#timer.unref();
  }

  /** Decides ready traces and closes due windows. Public for tests that drive a fake clock. */
  tick(now = this.#clock()): void {
    this.#now = now;
    this.#buffer.tick(now);
    if (this.#budget) this.#closeWindows(this.#budget.closeDue(now), Math.floor((now - this.#config.decision_wait) / WINDOW_MS) - 1);
    this.#updateGauges();
    this.#pump();
  }

  /**
   * Decides every held trace now, as if all were ready and every window closed now, then hands the
   * kept ones on until the deadline. What is still undelivered at the deadline is counted as
   * `shutdown_timeout`. Idempotent.
   */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#closing = true;
      this.#deadline = deadline;
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#now = this.#clock();
      // Every trace not yet ready is treated as ready now, and every window closes now: the budget
      // still holds (the kept candidates are the best of what arrived), only its traces are partial.
      for (const trace of [...this.#buffer.traces()]) {
        // Skip traces already gone (pushed out of a window by a better one just before).
        if (!trace.parked && this.#buffer.get(trace.traceId) === trace) this.#onReady(trace);
      }
      this.#closeWindows(this.#budget?.closeAll() ?? [], Number.POSITIVE_INFINITY);
      await Promise.race([Promise.all(this.#settling), new Promise<void>((resolve) => deadline.addEventListener('abort', () => resolve(), { once: true }))]);
      for (const trace of this.#buffer.drain()) this.#decideEarly(trace, 'shutdown'); // none expected
      this.#updateGauges();
      const aborted = new Promise<void>((resolve) => deadline.addEventListener('abort', () => resolve(), { once: true }));
      // A pending backoff is cut short once; later refusals wait their backoff as usual.
      if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      while ((this.#outbox.length > 0 || this.#inFlight > 0) && !deadline.aborted) {
        this.#pump();
        await Promise.race([new Promise((resolve) => setTimeout(resolve, 10)), aborted]);
      }
      if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      // Batches still in flight are the next stage's to answer; a late refusal is counted then.
      const waiting = this.#outbox.reduce((n, t) => n + t.spans.size, 0);
      if (waiting > 0) {
        this.#settings.metrics.recordDrop(this.#settings.id, 'shutdown_timeout', waiting);
        this.#settings.logger.warn({ spans: waiting, traces: this.#outbox.length }, 'Shutdown deadline passed before these kept traces were handed on; they were dropped.');
        for (const trace of this.#outbox) this.#outboxBytes -= trace.bytes;
        this.#outbox = [];
        this.#outboxSpans -= waiting;
      }
      this.#acks?.failAll(new UnavailableError(`Processor ${this.#settings.id} shut down before the batch's traces were handed on.`));
      this.#updateGauges();
    })());
  }

  /**
   * Keeps the candidates that won their window's slots. Every window up to `through` is closed
   * here; with `workers: N` that is what the other workers wait for (#settleAcrossWorkers).
   */
  #closeWindows(closed: readonly ClosedWindow[], through: number): void {
    if (this.#settings.windows) {
      this.#settleAcrossWorkers(closed, through);
      return;
    }
    for (const window of closed) {
      for (const traceId of window.kept) {
        const trace = this.#buffer.remove(traceId);
        if (trace) this.#decide(trace, true, BUDGET_POLICY);
      }
      this.#settings.metrics.samplingWindowKept.observe({ component: this.#settings.id }, window.reserved + window.kept.length);
    }
  }

  /**
   * With `workers: N` each worker sees only its share of the traces, so a window's N slots are
   * settled for the whole process (core/workers/window-hub.ts): this worker reports its kept
   * candidates and the slots it spent, and keeps those of its candidates that are among the best of
   * every worker's. Until the answer they stay parked in the buffer. Windows closed or not, the
   * progress (`through`) is reported once per window, so no window waits on a worker with nothing in it.
   */
  #settleAcrossWorkers(closed: readonly ClosedWindow[], through: number): void {
    if (closed.length === 0 && through <= this.#reportedThrough) return;
    this.#reportedThrough = Math.max(this.#reportedThrough, through);
    const settled = this.#settings
      .windows!.settle(this.#settings.id, this.#config.sample_n_per_3_secs, through, closed.map((w) => ({ index: w.index, reserved: w.reserved, kept: w.kept })))
      .then((keptIds) => {
        const keep = new Set(keptIds);
        for (const window of closed) {
          let kept = 0;
          for (const traceId of window.kept) {
            // More spans may have come meanwhile and made it a candidate of a later window.
            this.#budget?.withdraw(traceId);
            const trace = this.#buffer.remove(traceId);
            if (!trace) continue;
            if (keep.has(traceId)) kept++;
            this.#decide(trace, keep.has(traceId), BUDGET_POLICY);
          }
          this.#settings.metrics.samplingWindowKept.observe({ component: this.#settings.id }, window.reserved + kept);
        }
        this.#updateGauges();
        this.#pump();
      });
    if (closed.length === 0) return;
    this.#settling.add(settled);
    void settled.finally(() => this.#settling.delete(settled));
  }

  /** The buffer reports a ready trace (still held). */
  #onReady(trace: Trace): void {
    const budget = this.#budget;
    const c = this.#policies.classify(trace);
    const member = budget?.memberWindow(trace.traceId);
    if (c.verdict === 'drop') {
      if (member !== undefined) budget!.withdraw(trace.traceId);
      this.#decide(this.#buffer.remove(trace.traceId)!, false, c.policy!, c);
    } else if (c.verdict === 'keep') {
      if (budget) {
        if (member !== undefined) budget.withdraw(trace.traceId);
        this.#dropPushedOut(budget.reserve(member ?? budget.windowFor(c.startMs, this.#now)));
      }
      this.#decide(this.#buffer.remove(trace.traceId)!, true, c.policy!, c);
    } else if (!budget) {
      this.#decide(this.#buffer.remove(trace.traceId)!, true, BUDGET_POLICY);
    } else if (member !== undefined) {
      // Already holds a slot (more spans came since); it waits for its window's close.
      this.#buffer.park(trace);
    } else {
      const offer = budget.offer(budget.windowFor(c.startMs, this.#now), trace.traceId);
      this.#dropPushedOut(offer.pushedOut);
      if (offer.admitted) this.#buffer.park(trace);
      else this.#decide(this.#buffer.remove(trace.traceId)!, false, BUDGET_POLICY);
    }
  }

  /**
   * A trace taken out before it was ready (evicted, oversized, shutdown) is decided now with what
   * arrived: drop and must-keep as usual; a candidate is kept if its window still has a slot for
   * it, which it then spends, and dropped otherwise. Never silent: counted and logged.
   */
  #decideEarly(trace: Trace, reason: EarlyReason): void {
    const budget = this.#budget;
    const c = this.#policies.classify(trace);
    let kept: boolean;
    let policy: string;
    if (c.verdict === 'drop') {
      budget?.withdraw(trace.traceId);
      kept = false;
      policy = c.policy!;
    } else if (c.verdict === 'keep' || !budget) {
      if (budget) {
        const member = budget.withdraw(trace.traceId);
        this.#dropPushedOut(budget.reserve(member ?? budget.windowFor(c.startMs, this.#now)));
      }
      kept = true;
      policy = c.policy ?? BUDGET_POLICY;
    } else {
      policy = BUDGET_POLICY;
      const member = budget.withdraw(trace.traceId);
      const w = member ?? budget.windowFor(c.startMs, this.#now);
      kept = member !== undefined || budget.wouldAdmit(w, trace.traceId);
      if (kept) this.#dropPushedOut(budget.reserve(w));
    }
    const decision = kept ? 'kept' : 'dropped';
    if (reason !== 'shutdown') {
      this.#settings.metrics.samplingEarlyDecisions.inc({ component: this.#settings.id, reason, decision });
      const count = this.#earlyLog.take();
      if (count !== undefined) {
        this.#settings.logger.warn(
          { reason, traces: count, traceId: trace.traceId, spans: trace.spans.size, decision, heldTraces: this.#buffer.heldTraces, heldBytes: this.#buffer.heldBytes },
          reason === 'oversized'
            ? 'A trace passed max_spans_per_trace and was decided early; its later spans follow the decision.'
            : 'Trace buffer over max_traces or max_buffer_bytes: the oldest traces were decided early.',
        );
      }
    }
    this.#decide(trace, kept, policy, c.verdict === 'candidate' ? undefined : c);
  }

  /** Members pushed out of their window's slots: they would lose at the close too. */
  #dropPushedOut(traceIds: string[]): void {
    for (const id of traceIds) {
      const trace = this.#buffer.remove(id);
      if (trace) this.#decide(trace, false, BUDGET_POLICY);
    }
  }

  /** Records a decision for a trace already out of the buffer, and keeps or drops its spans. */
  #decide(trace: Trace, kept: boolean, policy: string, c?: Classification): void {
    const { id: component, metrics } = this.#settings;
    const decision = kept ? 'kept' : 'dropped';
    this.#decisions.set(trace.traceId, kept);
    metrics.samplingTraces.inc({ component, policy, decision });
    if (this.#closing) metrics.samplingEarlyDecisions.inc({ component, reason: 'shutdown', decision });
    if (c) for (const name of c.matched) metrics.samplingPolicyMatches.inc({ component, policy: name });
    if (kept) {
      this.#outbox.push(trace);
      this.#outboxSpans += trace.spans.size;
      this.#outboxBytes += trace.bytes;
      this.#acks?.kept(trace.traceId);
    } else {
      metrics.recordDrop(component, 'sampled_out', trace.spans.size, true);
      this.#acks?.dropped(trace.traceId);
    }
  }

  /**
   * Hands kept traces on, up to MAX_RELEASES_IN_FLIGHT batches at a time (a next stage that holds
   * its promise until export, like batch with wait_for_result, must not throttle decisions). Does
   * nothing while waiting to retry a refusal.
   */
  #pump(): void {
    while (this.#inFlight < MAX_RELEASES_IN_FLIGHT && this.#outbox.length > 0 && this.#retryTimer === undefined) {
      let count = 0;
      let spans = 0;
      while (count < this.#outbox.length && (count === 0 || spans + this.#outbox[count]!.spans.size <= RELEASE_BATCH_SPANS)) {
        spans += this.#outbox[count]!.spans.size;
        count++;
      }
      this.#inFlight++;
      void this.#release(this.#outbox.splice(0, count), spans);
    }
  }

  async #release(traces: Trace[], spans: number): Promise<void> {
    const { id: component, metrics, logger } = this.#settings;
    let bytes = 0;
    for (const trace of traces) bytes += trace.bytes;
    try {
      await this.#next.consume(toBatch(traces), this.#releaseContext);
      this.#acks?.released(traces.map((t) => t.traceId));
      this.#refusing = false;
      this.#retryDelayMs = RETRY_INITIAL_MS;
      this.#outboxSpans -= spans;
      this.#outboxBytes -= bytes;
    } catch (err) {
      const error = asSkybridgeError(err);
      if (error.retryable && !this.#deadline?.aborted) {
        // Back to the front, and a pause before anything is tried again; meanwhile `consume`
        // refuses new spans so the senders hold them.
        this.#outbox.unshift(...traces);
        this.#refusing = true;
        const n = this.#refusedLog.take();
        if (n !== undefined) logger.warn({ code: error.code, error: error.message, refusals: n, heldSpans: this.#outboxSpans }, 'The next stage refused kept traces; retrying, and refusing new spans meanwhile.');
        if (this.#retryTimer === undefined) {
          this.#retryTimer = setTimeout(() => {
            this.#retryTimer = undefined;
            this.#pump();
          }, error.retryAfterMs ?? this.#retryDelayMs);
          this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, RETRY_MAX_MS);
        }
      } else {
        this.#outboxSpans -= spans;
        this.#outboxBytes -= bytes;
        const reason = error.retryable ? 'shutdown_timeout' : 'refused_downstream';
        metrics.recordDrop(component, reason, spans);
        this.#acks?.failed(traces.map((t) => t.traceId), error);
        const n = this.#refusedLog.take();
        if (n !== undefined) logger.warn({ code: error.code, error: error.message, spans, reason }, 'The next stage did not take kept traces; they were dropped.');
      }
    } finally {
      this.#inFlight--;
      // Nothing left to push back on: whatever the last answer was, stop refusing.
      if (this.#outbox.length === 0 && this.#inFlight === 0) this.#refusing = false;
      this.#updateGauges();
      this.#pump();
    }
  }

  #updateGauges(): void {
    const { id: component, metrics } = this.#settings;
    metrics.queueSize.set({ component, queue: 'trace_buffer_traces' }, this.#buffer.heldTraces);
    metrics.queueSize.set({ component, queue: 'trace_buffer_spans' }, this.#buffer.heldSpans);
    metrics.queueSize.set({ component, queue: 'trace_buffer_bytes' }, this.#buffer.heldBytes);
    metrics.queueSize.set({ component, queue: 'decision_cache' }, this.#decisions.size);
    metrics.queueSize.set({ component, queue: 'kept_awaiting_release' }, this.#outboxSpans);
    this.#account.holdNow(this.#buffer.heldBytes + this.#outboxBytes, this.#buffer.heldSpans + this.#outboxSpans);
  }
}

/** Whole traces as one batch, grouped back by resource and scope. */
function toBatch(traces: readonly Trace[]): SpanBatch {
  const resources = new Map<Resource, { rs: ResourceSpans; scopes: Map<InstrumentationScope, Span[]> }>();
  for (const trace of traces) {
    for (const s of trace.spans.values()) {
      let r = resources.get(s.resource);
      if (!r) resources.set(s.resource, (r = { rs: { resource: s.resource, schemaUrl: s.resourceSchemaUrl, scopeSpans: [] }, scopes: new Map() }));
      let spans = r.scopes.get(s.scope);
      if (!spans) {
        r.scopes.set(s.scope, (spans = []));
        r.rs.scopeSpans.push({ scope: s.scope, schemaUrl: s.scopeSchemaUrl, spans });
      }
      spans.push(s.span);
    }
  }
  return { resourceSpans: [...resources.values()].map((r) => r.rs) };
}
