/**
 * Counts the spans a receiver's decoder left out and keeps the first reason only, so a body of a
 * thousand bad spans costs one string and the message stays short enough for a response (OTLP's
 * `partial_success.error_message`, Zipkin's 400 text, the drop log line).
 */
export class SpanRejections {
  count = 0;
  readonly #outcome: string;
  #first = '';

  /** @param outcome What happened to the spans, for `message()`: "left out", "rejected for invalid ids"... */
  constructor(outcome: string) {
    this.#outcome = outcome;
  }

  /** `where` locates the span (`spans[7]`, `resource_spans[0].scope_spans[1].spans[7]`), `why` says what is wrong with it. */
  add(where: string, why: string): void {
    if (this.count++ === 0) this.#first = `${where}: ${why}`;
  }

  /** E.g. "2 spans were left out (first: spans[0]: id is missing or zero)."; '' when nothing was rejected. */
  message(): string {
    if (this.count === 0) return '';
    const spans = this.count === 1 ? '1 span was' : `${this.count} spans were`;
    return `${spans} ${this.#outcome} (first: ${this.#first}).`;
  }
}
