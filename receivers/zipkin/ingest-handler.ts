/**
 * What happens to one POSTed body once its format is known: decode, give shared server spans ids of
 * their own, translate, and hand the batch to the next stage. The ack point lives here: success is
 * reported only after `next.consume` resolved, so a sender never hears "202 Accepted" for spans the
 * pipeline refused.
 */
import type { ComponentSettings } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { RefusalLog } from '../../core/telemetry/refusal-log.ts';
import { InvalidInputError, asDecodeError, asSkybridgeError, type SkybridgeError } from '../../core/errors.ts';
import type { ZipkinConfig } from './config.ts';
import { decodeJsonV1 } from './decode-json-v1.ts';
import { decodeJsonV2 } from './decode-json-v2.ts';
import { decodeProto3 } from './decode-proto3.ts';
import { decodeThriftV1 } from './decode-thrift.ts';
import type { DecodedSpans } from './decoded-spans.ts';
import { SharedSpanSplitter } from './shared-span-splitter.ts';
import { LocalAddressBook, translateZipkinSpans, type TranslatedBatch } from './translate.ts';

/** The four Zipkin encodings, named as Zipkin's SpanBytesDecoder names them. */
export type ZipkinFormat = 'JSON_V2' | 'PROTO3' | 'JSON_V1' | 'THRIFT';

const DECODERS: Record<ZipkinFormat, (body: Uint8Array) => DecodedSpans> = {
  JSON_V2: decodeJsonV2,
  PROTO3: decodeProto3,
  JSON_V1: decodeJsonV1,
  THRIFT: decodeThriftV1,
};

/** What to answer a POST with. */
export type IngestResult = { readonly ok: true; readonly accepted: number } | { readonly ok: false; readonly error: SkybridgeError };

/** Decodes Zipkin bodies and feeds them to `next`; one per receiver. */
export class IngestHandler {
  readonly #settings: ComponentSettings;
  readonly #next: TraceConsumer;
  readonly #ctx: ConsumeContext;
  readonly #parseStringTags: boolean;
  /** Local addresses per service across requests, for spans sent without one. */
  readonly #addresses = new LocalAddressBook();
  readonly #splitter = new SharedSpanSplitter();

  constructor(settings: ComponentSettings, config: ZipkinConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#next = next;
    this.#parseStringTags = config.parse_string_tags;
    this.#ctx = { receiver: settings.id, transport: 'http' };
  }

  /**
   * Throws the pipeline's retryable refusal while it has no room, so the HTTP server can refuse a
   * request before reading its body (core/http/ingest-http-server.ts).
   */
  admit(): void {
    this.#next.admit?.();
  }

  /**
   * Decodes `body` (already decompressed) and waits for the next stage to accept it. Never rejects:
   * decode failures and refusals come back as `{ ok: false }`. An empty body is an empty success.
   */
  async ingest(body: Uint8Array, format: ZipkinFormat): Promise<IngestResult> {
    if (body.length === 0) return { ok: true, accepted: 0 };
    let decoded: DecodedSpans;
    let translated: TranslatedBatch;
    try {
      // No room: refuse before decoding, so overload costs neither decode CPU nor decoded memory.
      this.#next.admit?.();
      decoded = DECODERS[format](body);
      this.#splitter.split(decoded.spans);
      translated = translateZipkinSpans(decoded.spans, { parseStringTags: this.#parseStringTags, addresses: this.#addresses });
    } catch (err) {
      return { ok: false, error: asDecodeError(err, 'the Zipkin spans') };
    }
    const rejected = decoded.rejected + translated.rejected;
    const reason = decoded.rejectReason || translated.rejectReason;
    if (translated.spanCount === 0 && rejected > 0) {
      // Nothing usable: say so, rather than a 202 for a request that delivered nothing.
      return { ok: false, error: new InvalidInputError(`No usable span in the ${format} body: ${reason}`) };
    }
    if (translated.spanCount > 0) {
      try {
        await this.#next.consume(translated.batch, this.#ctx);
      } catch (err) {
        // The sender keeps these spans and may resend them, so nothing is counted as dropped here.
        return { ok: false, error: asSkybridgeError(err) };
      }
    }
    if (rejected > 0) {
      // Counted only once the rest was accepted: after a refusal the sender resends, and the same
      // spans would be counted twice.
      this.#settings.metrics.recordDrop(this.#settings.id, 'invalid_input', rejected);
      this.#settings.logger.warn({ transport: 'http', format, rejected_spans: rejected, reason }, 'Accepted a Zipkin request partially; unusable spans were left out.');
    }
    return { ok: true, accepted: translated.spanCount };
  }

  /** Counts one answered request under its HTTP status. */
  answered(status: number): void {
    this.#settings.metrics.receiverRequests.inc({ component: this.#settings.id, transport: 'http', status: String(status) });
  }

  /**
   * Logs one line for a refused request. Backpressure (retryable) is routine under load and goes to
   * debug, where the request metric already shows it; a sender's broken payload goes to warn.
   */
  refused(error: SkybridgeError, format: string): void {
    (this.#refusals ??= new RefusalLog(this.#settings.logger, 'a Zipkin request')).refused(error, { transport: 'http', format, status: error.httpStatus });
  }

  #refusals: RefusalLog | undefined;
}
