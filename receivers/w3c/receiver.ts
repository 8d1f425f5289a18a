/**
 * The `w3c` receiver: spans from producers that only have W3C trace context (proxies, scripts,
 * browsers' backends) in front of one `next` consumer. Ack point: a POST is answered `202` only
 * after the next stage accepted its spans; a refusal from downstream becomes 429/503 with
 * `Retry-After`, so the sender keeps the data.
 */
import type { ComponentSettings, Host, Receiver } from '../../core/component.ts';
import { parseHostPort } from '../../core/config/units.ts';
import type { TraceConsumer } from '../../core/consumer.ts';
import type { W3cConfig } from './config.ts';
import { W3cHttpServer } from './http-server.ts';
import { W3cIngestHandler } from './ingest-handler.ts';

export class W3cReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: W3cConfig;
  readonly #http: W3cHttpServer;
  #started: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(settings: ComponentSettings, config: W3cConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#config = config;
    this.#http = new W3cHttpServer(config, new W3cIngestHandler(settings, next), settings.logger);
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
    this.#settings.logger.info({ port: this.port }, 'W3C span receiver is listening.');
  }

  /**
   * Stops accepting (new requests are answered 503 with a retry delay), waits for in-flight requests
   * until `deadline` aborts, then closes every connection. Idempotent, and safe without `start`.
   */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      await this.#started?.catch(() => undefined);
      await this.#http.close(deadline);
    })());
  }

  /** E.g. "W3C spans on 0.0.0.0:9412 (POST /v1/w3c/spans)". */
  describe(): string[] {
    const { host } = parseHostPort(this.#config.endpoint)!;
    const where = this.port === undefined ? this.#config.endpoint : `${host.includes(':') ? `[${host}]` : host}:${this.port}`;
    return [`W3C spans on ${where} (POST ${this.#config.path})`];
  }
}
