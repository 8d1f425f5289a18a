/**
 * The `otlp` receiver: OTLP/gRPC and OTLP/HTTP servers in front of one `next` consumer. Ack point:
 * a request is answered with success only after the next stage accepted its batch; a refusal from
 * downstream becomes the protocol's retryable status, so the sender keeps the data.
 */
import type { ComponentSettings, Host, Receiver } from '../../core/component.ts';
import type { TraceConsumer } from '../../core/consumer.ts';
import type { OtlpConfig } from './config.ts';
import { ExportHandler } from './export-handler.ts';
import { OtlpGrpcServer } from './grpc-server.ts';
import { Handover } from './handover.ts';
import { OtlpHttpServer } from './http-server.ts';

/** Receives OTLP trace exports over gRPC and/or HTTP and hands each batch to `next`. */
export class OtlpReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #grpc: OtlpGrpcServer | undefined;
  readonly #http: OtlpHttpServer | undefined;
  readonly #handover: Handover | undefined;
  readonly #config: OtlpConfig;
  #started: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(settings: ComponentSettings, config: OtlpConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#config = config;
    const logger = settings.logger;
    if (config.handover !== undefined) this.#handover = new Handover(settings, config.handover, next);
    if (config.grpc !== null) this.#grpc = new OtlpGrpcServer(config.grpc, new ExportHandler(settings, next, 'grpc', this.#handover), logger);
    if (config.http !== null) this.#http = new OtlpHttpServer(config.http, new ExportHandler(settings, next, 'http', this.#handover), logger);
  }

  /** The bound OTLP/gRPC port once started (useful with port 0); undefined when disabled or not started. */
  get grpcPort(): number | undefined {
    return this.#grpc?.port;
  }

  /** The bound OTLP/HTTP port once started (useful with port 0); undefined when disabled or not started. */
  get httpPort(): number | undefined {
    return this.#http?.port;
  }

  /** Where to send, for the start summary: each transport's address, and TLS and tokens when on. */
  describe(): string[] {
    const lines: string[] = [];
    const extras = (listener: { tls?: unknown; auth?: unknown }) => [listener.tls ? 'TLS' : '', listener.auth ? 'bearer tokens' : ''].filter(Boolean).join(', ');
    const where = (endpoint: string, port: number | undefined) => (port === undefined ? endpoint : endpoint.replace(/:\d+$/, `:${port}`));
    const g = this.#config.grpc;
    if (g) lines.push(`OTLP/gRPC on ${where(g.endpoint, this.grpcPort)}${extras(g) ? ` (${extras(g)})` : ''}`);
    const h = this.#config.http;
    if (h) lines.push(`OTLP/HTTP on ${where(h.endpoint, this.httpPort)} (POST ${h.path}, protobuf or JSON${extras(h) ? `; ${extras(h)}` : ''})`);
    return lines;
  }

  /**
   * Binds every enabled transport and resolves once all of them listen. If one cannot bind, the
   * others are closed again and the error is rethrown. Calling it again returns the same promise.
   */
  start(host: Host): Promise<void> {
    return (this.#started ??= this.#start(host));
  }

  async #start(host: Host): Promise<void> {
    if (this.#shutdown !== undefined) return;
    await this.#handover?.start();
    const onFatal = (err: Error): void => host.reportFatal(this.#settings.id, err);
    const binds = await Promise.allSettled([this.#grpc?.listen(), this.#http?.listen(onFatal)]);
    const failed = binds.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (failed !== undefined) {
      const now = AbortSignal.abort();
      await Promise.all([this.#grpc?.close(now), this.#http?.close(now)]);
      throw failed.reason;
    }
    this.#settings.logger.info(
      { grpc_port: this.grpcPort, http_port: this.httpPort },
      'OTLP receiver is listening.',
    );
  }

  /**
   * Stops accepting (new requests are answered UNAVAILABLE/503 with a retry delay), waits for
   * in-flight requests until `deadline` aborts, then closes every connection. Idempotent, and safe
   * without `start`. Requests cut off at the deadline were never acknowledged, so their senders
   * retry them; nothing is counted as dropped here.
   */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      // Let a start() that is still binding finish first, so its servers are closed too.
      await this.#started?.catch(() => undefined);
      await Promise.all([this.#grpc?.close(deadline), this.#http?.close(deadline)]);
      this.#handover?.stop();
    })());
  }
}
