/**
 * Self-telemetry. The pipeline wraps every component with these counters so no component hand-rolls
 * its own (the Collector's obsreport idea). Each Telemetry owns its own prom-client Registry so two
 * pipelines in one process (tests) never share counters.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { registerRuntimeMetrics, type RuntimeScope } from './runtime-metrics.ts';

/**
 * Why spans were dropped. A closed union keeps the `reason` label's cardinality bounded.
 * `intentional` drops (sampling, duplicates) are policy; the rest are losses someone must look at.
 */
export type DropReason =
  | 'invalid_input'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'refused_downstream'
  | 'buffer_full'
  | 'queue_full'
  | 'duplicate'
  | 'export_rejected'
  | 'export_retries_exhausted'
  | 'shutdown_timeout'
  | 'sampled_out'
  | 'memory_limit'
  | 'translation_failed'
  /** The destination refused one segment for its size, permanently (and no dead-letter queue took it). */
  | 'segment_too_large'
  /** Handed back to the source (a Kafka partition's new owner reads the spans again); not a loss. */
  | 'abandoned';

/** Longest last-error message kept (a label value: long ones would bloat every scrape). */
const LAST_ERROR_CHARS = 300;
/** Instances per exporter and thread listed by skybridge_exporter_recent_instance_seen_timestamp_seconds. */
const RECENT_INSTANCES = 20;

/** What an exporter that keeps instances alive tells the metrics about them, when asked. */
export interface InstanceSource {
  count(): number;
  /** The `limit` instances with the latest segments, newest first. */
  recent(limit: number): { service: string; instance: string; lastSeenMs: number }[];
}

export class Metrics {
  readonly registry = new Registry();

  /** `runtime`: whose Node runtime metrics this registry carries (a worker thread names itself). */
  constructor(runtime: RuntimeScope = { thread: isMainThread ? 'main' : `thread-${threadId}`, processWide: isMainThread }) {
    registerRuntimeMetrics(this.registry, runtime);
  }

  readonly receiverAcceptedSpans = new Counter({
    name: 'skybridge_receiver_accepted_spans_total',
    help: 'Spans a receiver decoded and the next stage accepted.',
    labelNames: ['component', 'transport'] as const,
    registers: [this.registry],
  });
  readonly receiverRefusedSpans = new Counter({
    name: 'skybridge_receiver_refused_spans_total',
    help: 'Spans a receiver answered with an error for (the sender keeps them, or learns they are invalid).',
    labelNames: ['component', 'transport', 'reason'] as const,
    registers: [this.registry],
  });
  readonly receiverRequests = new Counter({
    name: 'skybridge_receiver_requests_total',
    help: 'Requests a receiver answered, by protocol status.',
    labelNames: ['component', 'transport', 'status'] as const,
    registers: [this.registry],
  });
  readonly droppedSpans = new Counter({
    name: 'skybridge_dropped_spans_total',
    help: 'Spans dropped after they were accepted or while decoding, by reason.',
    labelNames: ['component', 'reason', 'intentional'] as const,
    registers: [this.registry],
  });
  readonly processorIncomingSpans = new Counter({
    name: 'skybridge_processor_incoming_spans_total',
    help: 'Spans handed to a processor instance (one per pipeline that lists the processor).',
    labelNames: ['component', 'pipeline'] as const,
    registers: [this.registry],
  });
  readonly processorOutgoingSpans = new Counter({
    name: 'skybridge_processor_outgoing_spans_total',
    help: 'Spans a processor instance passed on.',
    labelNames: ['component', 'pipeline'] as const,
    registers: [this.registry],
  });
  readonly exporterIncomingSpans = new Counter({
    name: 'skybridge_exporter_incoming_spans_total',
    help: 'Spans handed to an exporter and accepted by it.',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly exporterSentSegments = new Counter({
    name: 'skybridge_exporter_sent_segments_total',
    help: 'SkyWalking segments delivered to the destination.',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly exporterSentSpans = new Counter({
    name: 'skybridge_exporter_sent_spans_total',
    help: 'Spans delivered to the destination inside segments.',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly exporterSendFailedSegments = new Counter({
    name: 'skybridge_exporter_send_failed_segments_total',
    help: 'Segment sends that failed (each failed attempt counts; retried sends are not drops).',
    labelNames: ['component', 'reason'] as const,
    registers: [this.registry],
  });
  readonly exportLatency = new Histogram({
    name: 'skybridge_exporter_receive_to_export_seconds',
    help: 'Time from a span batch being received to its segments being delivered.',
    labelNames: ['component'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueSize = new Gauge({
    name: 'skybridge_queue_size',
    help: 'Items currently held in a bounded queue or buffer.',
    labelNames: ['component', 'queue'] as const,
    registers: [this.registry],
  });
  readonly queueCapacity = new Gauge({
    name: 'skybridge_queue_capacity',
    help: 'Capacity of a bounded queue or buffer, in the same unit as skybridge_queue_size.',
    labelNames: ['component', 'queue'] as const,
    registers: [this.registry],
  });
  readonly admissionHeldBytes = new Gauge({
    name: 'skybridge_admission_held_bytes',
    help: 'Estimated bytes accepted and not yet delivered, per holder (the admission ledger).',
    labelNames: ['holder'] as const,
    registers: [this.registry],
  });
  readonly admissionHeldSpans = new Gauge({
    name: 'skybridge_admission_held_spans',
    help: 'Spans accepted and not yet delivered, per holder (the admission ledger).',
    labelNames: ['holder'] as const,
    registers: [this.registry],
  });
  readonly admissionLimitBytes = new Gauge({
    name: 'skybridge_admission_limit_bytes',
    help: 'admission.max_bytes: receivers refuse new data while the held bytes reach it.',
    registers: [this.registry],
  });
  readonly admissionLimitSpans = new Gauge({
    name: 'skybridge_admission_limit_spans',
    help: 'admission.max_spans: receivers refuse new data while the held spans reach it.',
    registers: [this.registry],
  });
  readonly instancesNotReported = new Counter({
    name: 'skybridge_exporter_instances_not_reported_total',
    help: 'New service instances not reported to the OAP (reportInstanceProperties, keepAlive) because max_instances were already remembered; their segments are still sent.',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly exporterConnectionState = new Gauge({
    name: 'skybridge_exporter_connection_state',
    help: 'An exporter\'s gRPC channel to its destination: 1 for the state it is in (idle, connecting, ready, transient_failure, shutdown), 0 for the others; with workers: N, the threads in each state.',
    labelNames: ['component', 'state'] as const,
    registers: [this.registry],
  });
  readonly componentLastError = new Gauge({
    name: 'skybridge_component_last_error_timestamp_seconds',
    help: 'When a component last met an error, with its message (one series per component and thread: the previous message\'s series is removed), for the status page.',
    labelNames: ['component', 'message'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly exporterInstances = new Gauge({
    name: 'skybridge_exporter_instances',
    help: 'Service instances an exporter reports to the OAP and keeps alive (with workers: N, summed over threads, which keep their own).',
    labelNames: ['component'] as const,
    registers: [this.registry],
    collect: () => this.#collectInstances(),
  });
  readonly exporterRecentInstances = new Gauge({
    name: 'skybridge_exporter_recent_instance_seen_timestamp_seconds',
    help: `When the ${RECENT_INSTANCES} most recently seen instances of each exporter (and thread) last had a segment exported, for the status page.`,
    labelNames: ['component', 'service', 'instance'] as const,
    aggregator: 'max',
    registers: [this.registry],
    collect: () => this.#collectInstances(),
  });
  readonly assemblerEvents = new Counter({
    name: 'skybridge_assembler_events_total',
    help: 'Trace-assembly events: traces flushed (complete/timeout/evicted/shutdown), late spans, orphan refs, self links (span links to the span itself or its own segment, dropped), span_id_reused (a span sent with the id of another held span, kept under a derived id); on an OTLP receiver with handover: handed_over, kept_not_held, kept_unreachable.',
    labelNames: ['component', 'event'] as const,
    registers: [this.registry],
  });
  readonly durableRetryJobs = new Counter({
    name: 'skybridge_durable_retry_jobs_total',
    help: 'Jobs of an exporter\'s durable retry queue (Redis), by event: queued, delivered, retried (an attempt failed), dead_lettered, refused_full (a bound was reached), unavailable (Redis unreachable).',
    labelNames: ['component', 'event'] as const,
    registers: [this.registry],
  });
  readonly deadLetteredSpans = new Counter({
    name: 'skybridge_dead_lettered_spans_total',
    help: 'Spans moved to an exporter\'s dead-letter queue, by reason (permanent_error, max_attempts, max_age, corrupt_payload). Kept in Redis for `skybridge dlq replay`; not counted as drops.',
    labelNames: ['component', 'reason'] as const,
    registers: [this.registry],
  });

  readonly batchSizeSpans = new Histogram({
    name: 'skybridge_batch_size_spans',
    help: 'Spans in each batch the batch processor sent on.',
    labelNames: ['component'] as const,
    buckets: [1, 8, 32, 128, 512, 1024, 2048, 4096, 8192, 16384],
    registers: [this.registry],
  });
  readonly batchSizeBytes = new Histogram({
    name: 'skybridge_batch_size_bytes',
    help: 'Estimated OTLP-encoded size of each batch the batch processor sent on.',
    labelNames: ['component'] as const,
    buckets: [1024, 16384, 65536, 262144, 1048576, 4194304, 16777216],
    registers: [this.registry],
  });
  readonly batchFlushes = new Counter({
    name: 'skybridge_batch_flushes_total',
    help: 'Batches the batch processor sent on, by what triggered them (size, bytes, timeout, shutdown, abandon).',
    labelNames: ['component', 'reason'] as const,
    registers: [this.registry],
  });
  readonly memoryLimiterRefusedSpans = new Counter({
    name: 'skybridge_memory_limiter_refused_spans_total',
    help: 'Spans the memory limiter refused with a retryable status while memory was above its soft limit (the sender keeps them; not a drop).',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly memoryLimiterState = new Gauge({
    name: 'skybridge_memory_limiter_state',
    help: 'Memory limiter state: 0 below the soft limit (accepting), 1 above soft (refusing), 2 above hard (refusing and forcing GC).',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly memoryLimiterUsedBytes = new Gauge({
    name: 'skybridge_memory_limiter_used_bytes',
    help: 'Process memory (RSS) at the memory limiter\'s last check.',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly baggageEntries = new Counter({
    name: 'skybridge_baggage_filter_entries_total',
    help: 'Baggage entries the baggage filter handled per entry span: outcome kept, masked (redacted) or dropped, with the reason.',
    labelNames: ['component', 'outcome', 'reason'] as const,
    registers: [this.registry],
  });

  readonly samplingTraces = new Counter({
    name: 'skybridge_tail_sampling_traces_total',
    help: 'Traces tail_sampling decided, by decision (kept, dropped) and the policy that decided (a policy name, sample_n_per_3_secs for the budget, honour_sampled_flag).',
    labelNames: ['component', 'policy', 'decision'] as const,
    registers: [this.registry],
  });
  readonly samplingPolicyMatches = new Counter({
    name: 'skybridge_tail_sampling_policy_matched_traces_total',
    help: 'Traces each tail_sampling policy matched (a trace can match several; drop policies are checked first and a dropped trace is not checked further).',
    labelNames: ['component', 'policy'] as const,
    registers: [this.registry],
  });
  readonly samplingLateSpans = new Counter({
    name: 'skybridge_tail_sampling_late_spans_total',
    help: 'Spans that arrived after their trace was decided and followed that decision (kept: passed on; dropped: dropped).',
    labelNames: ['component', 'decision'] as const,
    registers: [this.registry],
  });
  readonly samplingEarlyDecisions = new Counter({
    name: 'skybridge_tail_sampling_early_decisions_total',
    help: 'Traces decided before they were ready: evicted (buffer bounds), oversized (max_spans_per_trace) or shutdown.',
    labelNames: ['component', 'reason', 'decision'] as const,
    registers: [this.registry],
  });
  readonly samplingWindowKept = new Summary({
    name: 'skybridge_tail_sampling_window_kept_traces',
    help: 'Traces kept per 3-second window (budget plus must-keep), observed when a window closes; _sum/_count is the effective mean.',
    labelNames: ['component'] as const,
    percentiles: [0.5, 0.9, 0.99, 1],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers: [this.registry],
  });

  readonly kafkaMessages = new Counter({
    name: 'skybridge_kafka_messages_total',
    help: 'Kafka messages by outcome: produced (acknowledged by the broker), produce_failed, consumed (fetched), completed (its spans exported or deliberately dropped), undecodable.',
    labelNames: ['component', 'topic', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly kafkaConsumerEvents = new Counter({
    name: 'skybridge_kafka_consumer_events_total',
    help: 'Kafka consumer group events: rebalance, partition_paused, partition_resumed, commit, commit_failed, abandoned (in-flight messages of partitions lost in a rebalance).',
    labelNames: ['component', 'event'] as const,
    registers: [this.registry],
  });
  readonly kafkaAssignedPartitions = new Gauge({
    name: 'skybridge_kafka_assigned_partitions',
    help: 'Partitions of its topic this consumer group member owns since its last join (0 while it is not in the group); a gateway at 0 beside busy peers gets no work.',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });

  readonly #lastErrors = new Map<string, string>();
  readonly #instanceSources = new Map<string, InstanceSource>();

  /**
   * Remembers a component's latest error for the status page. Cheap enough for error paths (one
   * gauge series per component); the message is cut to one line of LAST_ERROR_CHARS.
   */
  recordLastError(component: string, message: string): void {
    const line = message.replace(/\s+/g, ' ').trim().slice(0, LAST_ERROR_CHARS);
    const previous = this.#lastErrors.get(component);
    if (previous !== undefined && previous !== line) this.componentLastError.remove({ component, message: previous });
    this.#lastErrors.set(component, line);
    this.componentLastError.set({ component, message: line }, Date.now() / 1000);
  }

  /** An exporter's instances, read only when the metrics are scraped (never per segment). */
  watchInstances(component: string, source: InstanceSource): void {
    this.#instanceSources.set(component, source);
  }

  unwatchInstances(component: string): void {
    this.#instanceSources.delete(component);
  }

  #collectInstances(): void {
    this.exporterInstances.reset();
    this.exporterRecentInstances.reset();
    for (const [component, source] of this.#instanceSources) {
      this.exporterInstances.set({ component }, source.count());
      for (const seen of source.recent(RECENT_INSTANCES)) {
        this.exporterRecentInstances.set({ component, service: seen.service, instance: seen.instance }, seen.lastSeenMs / 1000);
      }
    }
  }

  /** The one way to count a drop, so every drop has a reason and shows on /metrics. */
  recordDrop(component: string, reason: DropReason, count: number, intentional = false): void {
    if (count <= 0) return;
    this.droppedSpans.inc({ component, reason, intentional: String(intentional) }, count);
  }
}
