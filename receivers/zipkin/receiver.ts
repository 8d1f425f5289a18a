/**
 * The `zipkin` receiver: the Zipkin HTTP collector API in front of one `next` consumer. Ack point: a
 * POST is answered `202 Accepted` only after the next stage accepted its spans; a refusal from
 * downstream becomes 429/503 with `Retry-After`, so the sender keeps the data.
 */
import type { ComponentSettings, Host, Receiver } from '../../core/component.ts';
import { parseHostPort } from '../../core/config/units.ts';
import type { TraceConsumer } from '../../core/consumer.ts';
import type { ZipkinConfig } from './config.ts';
import { V1_PATH, V2_PATH, ZipkinHttpServer } from './http-server.ts';
import { IngestHandler } from './ingest-handler.ts';

/** Receives Zipkin v1 and v2 spans over HTTP and hands each request's spans to `next`. */
export class ZipkinReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: ZipkinConfig;
  readonly #http: ZipkinHttpServer;
  #started: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(settings: ComponentSettings, config: ZipkinConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#config = config;
    this.#http = new ZipkinHttpServer(config, new IngestHandler(settings, config, next), settings.logger);
  }

  /** The bound port once started (the real one when the endpoint asked for port 0); undefined before. */
  get port(): number | undefined {
    return this.#http.port;
  }

  /** Binds the endpoint; rejects if it cannot. Calling it again returns the same promise. */
  start(host: Host): Promise<void> {
    return (this.#started ??= this.#start(host));
  }

  async #start(host: Host): Promise<void> {
    if (this.#shutdown !== undefined) return;
    await this.#http.listen((err) => host.reportFatal(this.#settings.id, err));
    this.#settings.logger.info({ port: this.port }, 'Zipkin receiver is listening.');
  }

  /**
   * Stops accepting (new requests are answered 503 with a retry delay), waits for in-flight requests
   * until `deadline` aborts, then closes every connection. Idempotent, and safe without `start`.
   * Requests cut off at the deadline were never acknowledged, so their senders retry them; nothing
   * is counted as dropped here.
   */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      // Let a start() that is still binding finish first, so its server is closed too.
      await this.#started?.catch(() => undefined);
      await this.#http.close(deadline);
    })());
  }

  /** E.g. "Zipkin on 0.0.0.0:9411 (POST /api/v2/spans, /api/v1/spans)", with the bound port once known. */
  describe(): string[] {
    const { host } = parseHostPort(this.#config.endpoint)!;
    const where = this.port === undefined ? this.#config.endpoint : `${host.includes(':') ? `[${host}]` : host}:${this.port}`;
    return [`Zipkin on ${where} (POST ${V2_PATH}, ${V1_PATH})`];
  }
}
