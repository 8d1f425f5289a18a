/**
 * What both OTLP decoders (protobuf and JSON) return, and the id rules they share. Spans with unusable
 * ids are left out of the batch and counted, so the receiver can report them in `partial_success`
 * instead of failing the whole request (OTLP specification, "Partial Success").
 */
import type { SpanBatch } from '../../core/model/span-batch.ts';

/** A decoded ExportTraceServiceRequest. */
export interface DecodedTraces {
  /** The accepted spans; resources and scopes left without spans are omitted. */
  readonly batch: SpanBatch;
  /** Spans in `batch`. */
  readonly spanCount: number;
  /** Spans left out because their trace or span id was missing, all zeros or of the wrong length. */
  readonly rejectedSpans: number;
  /** Why spans were rejected (names the first one), for `partial_success.error_message`; '' when none were. */
  readonly rejectMessage: string;
}

/** 16 zero bytes as hex: "no trace id" in W3C trace context, never a valid id. */
export const ZERO_TRACE_ID = '0'.repeat(32);
/** 8 zero bytes as hex: "no span id". */
export const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Checks a span's ids as hex and returns what is wrong with them, or undefined when they are usable.
 * `traceId`/`spanId` are '' when absent; `undefined` means the sender's value had the wrong length.
 */
export function spanIdProblem(traceId: string | undefined, spanId: string | undefined, parentSpanId: string | undefined): string | undefined {
  if (traceId === undefined || (traceId.length !== 32 && traceId !== '')) return 'trace_id must be 16 bytes (32 hex characters)';
  if (traceId === '') return 'trace_id is missing';
  if (traceId === ZERO_TRACE_ID) return 'trace_id is all zeros';
  if (spanId === undefined || (spanId.length !== 16 && spanId !== '')) return 'span_id must be 8 bytes (16 hex characters)';
  if (spanId === '') return 'span_id is missing';
  if (spanId === ZERO_SPAN_ID) return 'span_id is all zeros';
  if (parentSpanId === undefined) return 'parent_span_id must be empty or 8 bytes (16 hex characters)';
  return undefined;
}
