/**
 * What happens to one POST once its headers are read: decode the body under the W3C context and
 * hand the spans to the next stage. The ack point lives here: success is reported only after
 * `next.consume` resolved, so a producer never hears "202 Accepted" for spans the pipeline refused.
 */
import type { ComponentSettings } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { RefusalLog } from '../../core/telemetry/refusal-log.ts';
import { asDecodeError, asSkybridgeError, type SkybridgeError } from '../../core/errors.ts';
import { decodeW3cSpans, type DecodedW3cSpans, type W3cRequestContext } from './decode-w3c-spans.ts';

export type W3cIngestResult = { readonly ok: true; readonly ids: DecodedW3cSpans['ids'] } | { readonly ok: false; readonly error: SkybridgeError };

export class W3cIngestHandler {
  readonly #settings: ComponentSettings;
  readonly #next: TraceConsumer;
  readonly #ctx: ConsumeContext;

  constructor(settings: ComponentSettings, next: TraceConsumer) {
    this.#settings = settings;
    this.#next = next;
    this.#ctx = { receiver: settings.id, transport: 'http' };
  }

  /**
   * Throws the pipeline's retryable refusal while it has no room, so the HTTP server can refuse a
   * request before reading its body (core/http/ingest-http-server.ts).
   */
  admit(): void {
    this.#next.admit?.();
  }

  /** Decodes and forwards; never rejects (failures come back as `{ ok: false }`). */
  async ingest(body: Buffer, ctx: W3cRequestContext): Promise<W3cIngestResult> {
    let decoded: DecodedW3cSpans;
    try {
      this.#next.admit?.();
      decoded = decodeW3cSpans(ctx, body);
    } catch (err) {
      return { ok: false, error: asDecodeError(err, 'the W3C spans') };
    }
    if (decoded.ids.length > 0) {
      try {
        await this.#next.consume(decoded.batch, this.#ctx);
      } catch (err) {
        // The producer keeps these spans and may resend them (same ids), so nothing is dropped here.
        return { ok: false, error: asSkybridgeError(err) };
      }
    }
    return { ok: true, ids: decoded.ids };
  }

  answered(status: number): void {
    this.#settings.metrics.receiverRequests.inc({ component: this.#settings.id, transport: 'http', status: String(status) });
  }

  /** Backpressure (retryable) is routine under load and goes to debug; a broken request to warn. */
  refused(error: SkybridgeError): void {
    (this.#refusals ??= new RefusalLog(this.#settings.logger, 'a W3C span request')).refused(error, { transport: 'http', status: error.httpStatus });
  }

  #refusals: RefusalLog | undefined;
}
