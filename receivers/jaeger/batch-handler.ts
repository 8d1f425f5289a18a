/**
 * What every Jaeger transport does with a decoded batch: translate it, hand it to the next stage,
 * count what was lost and why. The ack point is here: HTTP and gRPC answer success only after
 * `next.consume` resolved. UDP cannot answer at all, so a refusal there is a loss and is counted as
 * `refused_downstream`; over HTTP and gRPC the sender hears the refusal and keeps the spans.
 */
import type { ComponentSettings } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { asSkybridgeError, type SkybridgeError } from '../../core/errors.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import type { JaegerBatch } from './jaeger-batch.ts';
import { translateJaegerBatch } from './translate-jaeger-batch.ts';

/** The receiver's transports, named as their config keys; the `transport` metric label. */
export type JaegerTransport = 'thrift_compact' | 'thrift_binary' | 'thrift_http' | 'grpc';

/** How a batch fared downstream; `spanCount` is the spans handed on (invalid ones excluded). */
export type SubmitResult =
  | { readonly ok: true; readonly spanCount: number }
  | { readonly ok: false; readonly spanCount: number; readonly error: SkybridgeError };

/** Feeds decoded batches of one transport to `next`; see the module comment. */
export class BatchHandler {
  readonly transport: JaegerTransport;
  readonly #settings: ComponentSettings;
  readonly #next: TraceConsumer;
  readonly #ctx: ConsumeContext;
  readonly #datagram: boolean;
  // One log throttle per kind of loss, so each line's count has one unit.
  readonly #badPacketLog = new BurstLog();
  readonly #invalidSpanLog = new BurstLog();
  readonly #queueFullLog = new BurstLog();
  readonly #refusedLog = new BurstLog();

  constructor(settings: ComponentSettings, next: TraceConsumer, transport: JaegerTransport) {
    this.#settings = settings;
    this.#next = next;
    this.transport = transport;
    this.#ctx = { receiver: settings.id, transport };
    this.#datagram = transport === 'thrift_compact' || transport === 'thrift_binary';
  }

  /** The component's logger, for the servers' last-resort error lines. */
  get logger(): ComponentSettings['logger'] {
    return this.#settings.logger;
  }

  /**
   * Throws the pipeline's retryable refusal while it has no room, so the HTTP server can refuse a
   * request before reading its body (core/http/ingest-http-server.ts).
   */
  admit(): void {
    this.#next.admit?.();
  }

  /** Translates and consumes `batch`. Never rejects: a refusal comes back as `{ ok: false }`. */
  async submit(batch: JaegerBatch): Promise<SubmitResult> {
    const { batch: translated, spanCount, invalidSpans } = translateJaegerBatch(batch);
    let error: SkybridgeError | undefined;
    if (spanCount > 0) {
      try {
        await this.#next.consume(translated, this.#ctx);
      } catch (err) {
        error = asSkybridgeError(err);
      }
    }
    // A refused HTTP/gRPC sender resends the same spans, so their invalid ones are counted once, on success.
    if (invalidSpans > 0 && (error === undefined || this.#datagram)) this.#invalid(invalidSpans);
    if (error === undefined) return { ok: true, spanCount };
    if (this.#datagram) this.#lostDatagram(spanCount, error);
    return { ok: false, spanCount, error };
  }

  /** Counts one request or packet under its outcome (`202`, `OK`, `invalid`, `refused`...). */
  answered(status: string): void {
    this.#settings.metrics.receiverRequests.inc({ component: this.#settings.id, transport: this.transport, status });
  }

  /**
   * Counts and logs a packet that could not be decoded (UDP only: its spans are gone). Its spans
   * are unknown, so the drop counts the packet as one.
   */
  droppedPacket(error: SkybridgeError, from: string, reason: 'invalid_input' | 'payload_too_large'): void {
    this.#settings.metrics.recordDrop(this.#settings.id, reason, 1);
    const n = this.#badPacketLog.take();
    if (n !== undefined) {
      this.#settings.logger.warn(
        { transport: this.transport, from, packets: n, reason, error: error.message },
        'Dropped Jaeger UDP packets that could not be used.',
      );
    }
  }

  /** Counts spans of a decoded packet dropped before they reached the pipeline (UDP only). */
  droppedSpans(count: number, reason: 'queue_full'): void {
    this.#settings.metrics.recordDrop(this.#settings.id, reason, count);
    const n = this.#queueFullLog.take(count);
    if (n !== undefined) {
      this.#settings.logger.warn({ transport: this.transport, spans: n, reason }, 'Dropped Jaeger spans: too many packets are waiting for the pipeline.');
    }
  }

  /**
   * Logs one line for a refused HTTP/gRPC request. Backpressure (retryable) is routine under load
   * and goes to debug, where the request metric already shows it; a broken payload goes to warn.
   */
  refused(error: SkybridgeError, status: string): void {
    const fields = { transport: this.transport, status, code: error.code, error: error.message };
    if (error.retryable) this.#settings.logger.debug(fields, 'Refused a Jaeger request; the sender should retry.');
    else this.#settings.logger.warn(fields, 'Refused a Jaeger request.');
  }

  #invalid(count: number): void {
    this.#settings.metrics.recordDrop(this.#settings.id, 'invalid_input', count);
    const n = this.#invalidSpanLog.take(count);
    if (n !== undefined) {
      this.#settings.logger.warn({ transport: this.transport, spans: n }, 'Dropped Jaeger spans whose trace or span id is missing or zero.');
    }
  }

  #lostDatagram(spanCount: number, error: SkybridgeError): void {
    this.#settings.metrics.recordDrop(this.#settings.id, 'refused_downstream', spanCount);
    const n = this.#refusedLog.take(spanCount);
    if (n !== undefined) {
      this.#settings.logger.warn(
        { transport: this.transport, spans: n, code: error.code, error: error.message },
        'Dropped Jaeger UDP spans the pipeline refused; UDP senders cannot be asked to retry.',
      );
    }
  }
}
