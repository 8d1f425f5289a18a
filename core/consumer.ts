import type { SpanBatch } from './model/span-batch.ts';

/** Per-call context handed down the pipeline with a batch. */
export interface ConsumeContext {
  /** The receiver id that accepted the batch (`otlp`, `zipkin/edge`), for metrics and logs. */
  readonly receiver: string;
  /** Transport within the receiver (`grpc`, `http`), for metrics. */
  readonly transport: string;
  /**
   * Set by a stage that already grouped whole traces (tail_sampling after its decision): every
   * trace in the batch is as complete as it will get, so segment exporters build segments at once
   * instead of holding the spans a second time.
   */
  readonly wholeTraces?: boolean;
}

/**
 * One stage's input. `consume` resolves once the batch is accepted by this stage and everything it
 * synchronously hands on to; it rejects with a SkybridgeError when it is not accepted, and the
 * rejection travels back to the receiver, which turns it into the protocol's status. Errors are the
 * backpressure: nothing is acknowledged to a sender before `consume` resolved.
 */
export interface TraceConsumer {
  /** True if `consume` mutates the batch; the fan-out hands such consumers their own copy. */
  readonly mutatesData: boolean;
  consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void>;
  /**
   * The source took these traces back: a Kafka partition moved to another gateway, which reads its
   * uncommitted messages again. Drop every span held for them without deciding or exporting it
   * (the new owner does that, once), and reject with a retryable error the acknowledgements still
   * waiting on them. A stage that holds nothing passes the call on; absent means nothing to drop.
   */
  abandon?(traceIds: ReadonlySet<string>): void;
  /**
   * Throws the retryable refusal (OverloadedError) that `consume` would give for lack of room, so a
   * receiver can refuse a request before it spends CPU and memory decoding it. Present on the
   * `next` the runtime hands receivers (core/pipeline/observed-consumers.ts); absent elsewhere.
   */
  admit?(): void;
  /**
   * True while this stage or a later one holds spans of the trace, or built it so recently that
   * more of its spans would still join it (the flushed-span index). A gateway asks before it hands
   * a trace over to the gateway that owned it before a ring change (receivers/otlp/handover.ts).
   * Absent means: holds nothing. Synchronous within a thread; only the worker router a receiver
   * gets with `workers: N` (core/workers/) answers with a promise, so receivers await it.
   */
  holds?(traceId: string): boolean | Promise<boolean>;
  /**
   * Present on the worker router (core/workers/routed-consumer.ts): takes an OTLP
   * ExportTraceServiceRequest still encoded, splits it by trace without decoding, and lets each
   * owning worker decode its share. The OTLP receiver uses it instead of decoding itself.
   */
  consumeEncodedOtlp?(bytes: Uint8Array, ctx: ConsumeContext): Promise<EncodedConsumeResult>;
}

/** What the workers made of an encoded request (consumeEncodedOtlp). */
export interface EncodedConsumeResult {
  /** Spans in the request, as counted before decoding. */
  spanCount: number;
  /** Spans the decoders left out for invalid ids or times (a partial success). */
  rejectedSpans: number;
  rejectMessage: string;
}

/** Passes `abandon` and `holds` on to `next` (for stages that hold no spans themselves). */
export function forwardTraceCalls(next: TraceConsumer): Pick<TraceConsumer, 'abandon' | 'holds'> {
  return {
    ...(next.abandon === undefined ? {} : { abandon: (traceIds: ReadonlySet<string>) => next.abandon!(traceIds) }),
    ...(next.holds === undefined ? {} : { holds: (traceId: string) => next.holds!(traceId) }),
  };
}
