/**
 * What every Zipkin decoder returns, and how it reports a single unusable span. A body that cannot be
 * parsed at all is refused whole (InvalidInputError → 400); a span inside a parsable body whose ids or
 * fields are unusable is left out and counted, so one bad span does not cost the rest of the batch.
 * Zipkin's protocol has no partial-success answer, so the count goes to the drop metric.
 */
import type { ZipkinSpan } from './zipkin-span.ts';

/** Thrown inside a decoder for one span; the list decoder catches it and moves to the next span. */
export class SpanProblem extends Error {
  override readonly name = 'SpanProblem';
}

/** Decoded spans plus the count of those left out. */
export interface DecodedSpans {
  readonly spans: ZipkinSpan[];
  /** Spans left out because of a SpanProblem. */
  readonly rejected: number;
  /** Why (names the first rejected span); '' when none was. */
  readonly rejectReason: string;
}
