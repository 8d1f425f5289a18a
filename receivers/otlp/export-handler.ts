/**
 * The part of an OTLP Export call both transports share: decode, hand the batch to the next stage,
 * and say what to answer. The ack point lives here: success is reported only after `next.consume`
 * resolved, so a sender never hears "accepted" for spans the pipeline refused.
 */
import type { ComponentSettings } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import type { SpanBatch } from '../../core/model/span-batch.ts';
import { RefusalLog } from '../../core/telemetry/refusal-log.ts';
import { asDecodeError, asSkybridgeError, NotHeldError, type SkybridgeError } from '../../core/errors.ts';
import { splitByTrace } from '../../core/model/split-by-trace.ts';
import { decodeJsonTraces } from './decode-json.ts';
import { decodeProtobufTraces } from './decode-protobuf.ts';
import type { DecodedTraces } from './decoded-traces.ts';
import type { OtlpEncoding } from './encode-response.ts';
import type { Handover, HandoverMode } from './handover.ts';

/** What to answer an Export request with. */
export type ExportResult =
  /** Everything decodable was accepted downstream; `rejectedSpans` > 0 means a partial success. */
  | { readonly ok: true; readonly rejectedSpans: number; readonly rejectMessage: string }
  /** Nothing was accepted; `error` carries the gRPC/HTTP status and, when retryable, the delay. */
  | { readonly ok: false; readonly error: SkybridgeError };

/** The transports, as used in the `transport` metric label and ConsumeContext. */
export type OtlpTransport = 'grpc' | 'http';

/** Decodes Export requests and feeds them to `next`; one per transport. */
export class ExportHandler {
  readonly #settings: ComponentSettings;
  readonly #next: TraceConsumer;
  readonly #ctx: ConsumeContext;
  readonly #transport: OtlpTransport;
  readonly #handover: Handover | undefined;
  readonly #refusals: RefusalLog;

  constructor(settings: ComponentSettings, next: TraceConsumer, transport: OtlpTransport, handover?: Handover) {
    this.#settings = settings;
    this.#next = next;
    this.#transport = transport;
    this.#handover = handover;
    this.#refusals = new RefusalLog(settings.logger, 'an OTLP request');
    this.#ctx = { receiver: settings.id, transport };
  }

  /**
   * Throws the pipeline's retryable refusal while it has no room, so the HTTP server can refuse a
   * request before reading its body (core/http/ingest-http-server.ts).
   */
  admit(): void {
    this.#next.admit?.();
  }

  /**
   * Decodes `body` and waits for the next stage to accept it. Never rejects: decode failures and
   * refusals come back as `{ ok: false }`.
   */
  async export(body: Uint8Array, encoding: OtlpEncoding, handedOver?: HandoverMode): Promise<ExportResult> {
    if (encoding === 'protobuf' && handedOver === undefined && this.#handover === undefined && this.#next.consumeEncodedOtlp) {
      return this.#exportEncoded(body);
    }
    let decoded: DecodedTraces;
    try {
      // No room: refuse before decoding, so overload costs neither decode CPU nor decoded memory.
      this.#next.admit?.();
      decoded = encoding === 'protobuf' ? decodeProtobufTraces(body) : decodeJsonTraces(body);
    } catch (err) {
      return { ok: false, error: asDecodeError(err, `the OTLP ${encoding === 'protobuf' ? 'protobuf' : 'JSON'} request`) };
    }
    if (decoded.spanCount > 0) {
      try {
        let batch: SpanBatch | undefined = decoded.batch;
        if (handedOver === 'if-held') {
          // Another gateway offers spans of traces it believes this one holds (handover.ts).
          const traceIds = [...splitByTrace(batch).keys()];
          const held = await Promise.all(traceIds.map((traceId) => this.#next.holds?.(traceId) ?? false));
          const notHeld = traceIds.find((_, i) => !held[i]);
          if (notHeld !== undefined) throw new NotHeldError(`Trace ${notHeld} is not held here.`);
        } else if (handedOver === undefined && this.#handover !== undefined) {
          batch = await this.#handover.keepLocal(batch);
        }
        if (batch !== undefined) await this.#next.consume(batch, this.#ctx);
      } catch (err) {
        // The sender keeps these spans and may resend them, so nothing is counted as dropped here.
        return { ok: false, error: asSkybridgeError(err) };
      }
    }
    this.#countRejected(decoded.rejectedSpans, decoded.rejectMessage);
    return { ok: true, rejectedSpans: decoded.rejectedSpans, rejectMessage: decoded.rejectMessage };
  }

  /**
   * With `workers: N`: the request goes to the workers still encoded, split by trace; each decodes
   * its share (core/workers/). Decode failures there come back as InvalidInputError, answered 400.
   */
  async #exportEncoded(body: Uint8Array): Promise<ExportResult> {
    let result;
    try {
      result = await this.#next.consumeEncodedOtlp!(body, this.#ctx);
    } catch (err) {
      return { ok: false, error: asSkybridgeError(err) };
    }
    this.#countRejected(result.rejectedSpans, result.rejectMessage);
    return { ok: true, rejectedSpans: result.rejectedSpans, rejectMessage: result.rejectMessage };
  }

  #countRejected(rejectedSpans: number, rejectMessage: string): void {
    if (rejectedSpans === 0) return;
    // Counted only once the request is answered with success: on a refusal the sender resends and
    // the same spans would otherwise be counted twice.
    this.#settings.metrics.recordDrop(this.#settings.id, 'invalid_input', rejectedSpans);
    this.#settings.logger.warn(
      { transport: this.#transport, rejected_spans: rejectedSpans, reason: rejectMessage },
      'Accepted an OTLP request partially; spans with invalid ids were rejected.',
    );
  }

  /** Counts one answered request under its protocol status (`OK`, `INVALID_ARGUMENT`, `200`, `413`...). */
  answered(status: string): void {
    this.#settings.metrics.receiverRequests.inc({ component: this.#settings.id, transport: this.#transport, status });
  }

  /**
   * Logs one line for a refused request. Backpressure (retryable) is routine under load and goes to
   * debug, where the request metric already shows it; a sender's broken payload goes to warn.
   */
  refused(error: SkybridgeError, status: string): void {
    this.#refusals.refused(error, { transport: this.#transport, status });
  }
}
