/**
 * The lifecycle every receiver built on one IngestHttpServer shares: start binds once, shutdown
 * stops accepting (503 + Retry-After), waits for in-flight requests until the deadline, then closes
 * every connection; both are idempotent and shutdown is safe without start. Requests cut off at the
 * deadline were never acknowledged, so their senders retry them; nothing is counted as dropped.
 */
import type { ComponentSettings, Host, Receiver } from '../component.ts';
import { parseHostPort } from '../config/units.ts';

/** The part of an IngestHttpServer the lifecycle needs (whatever its request-context type). */
export interface ListeningServer {
  readonly port: number | undefined;
  listen(onFatal: (err: Error) => void): Promise<void>;
  close(deadline: AbortSignal): Promise<void>;
}

export abstract class SingleServerReceiver implements Receiver {
  protected readonly settings: ComponentSettings;
  readonly #endpoint: string;
  readonly #http: ListeningServer;
  #started: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(settings: ComponentSettings, endpoint: string, http: ListeningServer) {
    this.settings = settings;
    this.#endpoint = endpoint;
    this.#http = http;
  }

  /** What it receives, for `describe()` and the start log line ("Zipkin", "W3C spans"). */
  protected abstract readonly label: string;
  /** What `describe()` says after the address, e.g. "(POST /api/v2/spans)". */
  protected abstract readonly routes: string;

  /** The bound port once started (the real one when the endpoint asked for port 0); undefined before. */
  get port(): number | undefined {
    return this.#http.port;
  }

  /** Binds the endpoint; rejects if it cannot. Calling it again returns the same promise. */
  start(host: Host): Promise<void> {
    return (this.#started ??= (async () => {
      if (this.#shutdown !== undefined) return;
      await this.#http.listen((err) => host.reportFatal(this.settings.id, err));
      this.settings.logger.info({ port: this.port }, `${this.label} receiver is listening.`);
    })());
  }

  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      // Let a start() that is still binding finish first, so its server is closed too.
      await this.#started?.catch(() => undefined);
      await this.#http.close(deadline);
    })());
  }

  /** E.g. "Zipkin on 0.0.0.0:9411 (POST ...)", with the bound port once known. */
  describe(): string[] {
    const { host } = parseHostPort(this.#endpoint)!;
    const where = this.port === undefined ? this.#endpoint : `${host.includes(':') ? `[${host}]` : host}:${this.port}`;
    return [`${this.label} on ${where} ${this.routes}`];
  }
}
