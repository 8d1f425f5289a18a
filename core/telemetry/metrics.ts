/**
 * Self-telemetry. The pipeline wraps every component with these counters so no component hand-rolls
 * its own (the Collector's obsreport idea). Each Telemetry owns its own prom-client Registry so two
 * pipelines in one process (tests) never share counters.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
  | 'translation_failed';

export class Metrics {
  readonly registry = new Registry();

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
    help: 'Spans handed to a processor.',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly processorOutgoingSpans = new Counter({
    name: 'skybridge_processor_outgoing_spans_total',
    help: 'Spans a processor passed on.',
    labelNames: ['component'] as const,
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
  readonly assemblerEvents = new Counter({
    name: 'skybridge_assembler_events_total',
    help: 'Trace-assembly events: traces flushed (complete/timeout/evicted/shutdown), late spans, orphan refs.',
    labelNames: ['component', 'event'] as const,
    registers: [this.registry],
  });

  /** The one way to count a drop, so every drop has a reason and shows on /metrics. */
  recordDrop(component: string, reason: DropReason, count: number, intentional = false): void {
    if (count <= 0) return;
    this.droppedSpans.inc({ component, reason, intentional: String(intentional) }, count);
  }
}
