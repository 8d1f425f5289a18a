/**
 * The HTTP shell every receiver that takes POSTed spans shares, on plain `node:http`: bind and close,
 * path and method routing (404, or 405 with `Allow: POST`), the Content-Encoding check, 503 with
 * `Retry-After` while closing, the admission check before any body byte is read, the bounded
 * decompressing body read, and every error answered with its HTTP status (plus `Retry-After` when
 * retryable). A subclass adds only its protocol: which media types it reads (`classify`), what it
 * does with a body (`ingest`), what a refusal looks like (`refusalBody`), and how answers are counted
 * and refusals logged.
 *
 * Closing stops listening and ends idle keep-alive connections at once; busy ones end after their
 * answer, which carries `Connection: close` from then on. `close` resolves when the last of them is
 * answered, or destroys every connection still open when its deadline aborts.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '../config/units.ts';
import { BearerTokens, type BearerAuthConfig } from '../auth/bearer-tokens.ts';
import { SkybridgeError, UnauthenticatedError, UnavailableError, asSkybridgeError } from '../errors.ts';
import { reloadOnChange, tlsServerOptions, type TlsServerConfig } from '../tls/server-tls.ts';
import type { Logger } from '../telemetry/logger.ts';
import { applyConnectionLimits, checkingIntervalMs, type HttpConnectionLimits } from './connection-limits.ts';
import { parseContentCoding, readBody, type ContentCoding } from './read-body.ts';

/** How long a sender refused during shutdown should wait before trying again (or another instance). */
const SHUTDOWN_RETRY_AFTER_MS = 1000;

/** The settings every ingest server has. */
export interface IngestHttpServerOptions {
  /** `host:port` to bind; port 0 picks a free one. */
  readonly endpoint: string;
  /** The paths that accept POST. */
  readonly paths: readonly string[];
  /** The plain-text answer to a request for any other path. */
  readonly notFoundMessage: string;
  /** The most bytes a body may have, on the wire and again after decompression. */
  readonly maxBodySize: number;
  /** The listener's `connections:` block (connection-limits.ts). */
  readonly connections: HttpConnectionLimits;
  /** The listener's `tls:` block (core/tls/server-tls.ts); plaintext when absent. */
  readonly tls?: TlsServerConfig | null;
  /** The listener's `auth:` block (core/auth/bearer-tokens.ts); no authentication when absent. */
  readonly auth?: BearerAuthConfig | null;
  /** For the last-resort error line: who failed (`"OTLP/HTTP"`) and its `transport` field. */
  readonly name: string;
  readonly transport: string;
  readonly logger: Logger;
  /**
   * Throws the pipeline's retryable refusal while it has no room (the receiver's `next.admit`),
   * checked before any body byte is read: under overload a refused request costs the headers, not
   * a buffered body (up to `maxBodySize` per connection) and its decode. Absent: never refuses here.
   */
  readonly admit?: () => void;
}

/** A success answer; no `body` means an empty one (as in `202 Accepted`). */
export interface IngestAnswer {
  readonly status: number;
  readonly contentType?: string;
  readonly body?: Buffer;
}

/** The body of an answer that refuses a request; the status and `Retry-After` come from the error. */
export interface RefusalBody {
  readonly contentType: string;
  readonly body: Buffer;
}

/**
 * Serves POSTs whose body is of kind `K` (an encoding or format, known from the headers); see the
 * module comment.
 */
export abstract class IngestHttpServer<K> {
  readonly #options: IngestHttpServerOptions;
  readonly #server: http.Server;
  readonly #tokens: BearerTokens | undefined;
  #stopReloading: (() => void) | undefined;
  #closing = false;
  #port: number | undefined;

  constructor(options: IngestHttpServerOptions) {
    this.#options = options;
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.#onRequest(req, res).catch((err: unknown) => {
        // Only a bug gets here (every expected failure is answered); it must not take the process down.
        options.logger.error({ transport: options.transport, error: err }, `${options.name} request handling failed.`);
        res.destroy();
      });
    };
    const serverOptions = { connectionsCheckingInterval: checkingIntervalMs(options.connections) };
    this.#server = options.tls ? https.createServer({ ...serverOptions, ...tlsServerOptions(options.tls) }, onRequest) : http.createServer(serverOptions, onRequest);
    applyConnectionLimits(this.#server, options.connections);
    this.#tokens = options.auth ? new BearerTokens(options.auth, options.logger) : undefined;
  }

  /**
   * What a POST to `path` carries, from its headers, before any body byte is read.
   *
   * @throws SkybridgeError (UnsupportedMediaTypeError) to refuse it.
   */
  protected abstract classify(req: http.IncomingMessage, path: string): K;

  /**
   * Decodes a (decompressed) body and hands it on. Resolves with the success answer, or with the
   * error to refuse the request with; never rejects for a sender's or the pipeline's failure.
   */
  protected abstract ingest(body: Buffer, kind: K): Promise<IngestAnswer | SkybridgeError>;

  /** Counts one answered request under its HTTP status. */
  protected abstract answered(status: number): void;

  /** Logs a refusal; `kind` is undefined when `classify` refused the request. */
  protected abstract refused(error: SkybridgeError, kind: K | undefined, path: string): void;

  /** The body to refuse a request with: by default the error's message as one line of plain text. */
  protected refusalBody(error: SkybridgeError, _kind: K | undefined): RefusalBody {
    return plainText(error.message);
  }

  /** The bound port once `listen` resolved (the real one when the endpoint asked for port 0). */
  get port(): number | undefined {
    return this.#port;
  }

  /**
   * Binds the endpoint; rejects if it cannot (address in use, permission). `onFatal` hears about a
   * server error after that (the listener failing), which stops the receiver from serving.
   */
  listen(onFatal: (err: Error) => void): Promise<void> {
    const { host, port } = parseHostPort(this.#options.endpoint)!;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.removeListener('error', onError);
        this.#server.on('error', (err) => {
          if (!this.#closing) onFatal(err);
        });
        this.#port = (this.#server.address() as AddressInfo).port;
        if (this.#options.tls) this.#stopReloading = reloadOnChange(this.#options.tls, this.#server as https.Server, this.#options.logger);
        resolve();
      });
    });
  }

  /**
   * Stops listening and answers 503 to requests that still arrive on open connections; resolves when
   * every in-flight request has been answered, or closes all connections when `deadline` aborts.
   */
  close(deadline: AbortSignal): Promise<void> {
    this.#closing = true;
    this.#stopReloading?.();
    this.#tokens?.stop();
    if (!this.#server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      const force = (): void => {
        this.#server.closeAllConnections();
      };
      deadline.addEventListener('abort', force, { once: true });
      // close() waits for every connection to end; idle keep-alive ones are closed right away and
      // busy ones close after their answer, which carries `Connection: close` from now on.
      this.#server.close(() => {
        deadline.removeEventListener('abort', force);
        resolve();
      });
      this.#server.closeIdleConnections();
      if (deadline.aborted) force();
    });
  }

  async #onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    // Before anything else, so a client without a token learns nothing (not even which paths exist).
    if (this.#tokens && !this.#tokens.accepts(req.headers.authorization)) {
      return this.#refuse(res, new UnauthenticatedError(), undefined, path, { 'WWW-Authenticate': 'Bearer' });
    }
    if (!this.#options.paths.includes(path)) return this.#plain(res, 404, this.#options.notFoundMessage);
    if (req.method !== 'POST') return this.#plain(res, 405, 'Method not allowed; use POST.', { Allow: 'POST' });

    let kind: K;
    try {
      kind = this.classify(req, path);
    } catch (err) {
      return this.#refuse(res, asSkybridgeError(err), undefined, path);
    }
    let coding: ContentCoding;
    try {
      // Checked before reading, so an unsupported coding costs no body bytes.
      coding = parseContentCoding(req.headers['content-encoding']);
    } catch (err) {
      return this.#refuse(res, asSkybridgeError(err), kind, path);
    }
    if (this.#closing) return this.#refuse(res, new UnavailableError('The receiver is shutting down.', SHUTDOWN_RETRY_AFTER_MS), kind, path);
    try {
      // No room downstream: refuse now. The unread body ends the connection (see #send), which is
      // cheaper than reading it only to refuse it.
      this.#options.admit?.();
    } catch (err) {
      return this.#refuse(res, asSkybridgeError(err), kind, path);
    }

    let body: Buffer;
    try {
      body = await readBody(req, this.#options.maxBodySize, coding);
    } catch (err) {
      return this.#refuse(res, asSkybridgeError(err), kind, path);
    }

    const outcome = await this.ingest(body, kind);
    if (outcome instanceof SkybridgeError) return this.#refuse(res, outcome, kind, path);
    this.answered(outcome.status);
    this.#send(res, outcome.status, outcome.contentType, outcome.body);
  }

  #refuse(res: http.ServerResponse, err: SkybridgeError, kind: K | undefined, path: string, headers: http.OutgoingHttpHeaders = {}): void {
    const status = err.httpStatus;
    this.refused(err, kind, path);
    this.answered(status);
    if (err.retryable && err.retryAfterMs !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    const { contentType, body } = this.refusalBody(err, kind);
    this.#send(res, status, contentType, body, headers);
  }

  #plain(res: http.ServerResponse, status: number, message: string, headers: http.OutgoingHttpHeaders = {}): void {
    this.answered(status);
    const { contentType, body } = plainText(message);
    this.#send(res, status, contentType, body, headers);
  }

  #send(res: http.ServerResponse, status: number, contentType: string | undefined, body: Buffer | undefined, headers: http.OutgoingHttpHeaders = {}): void {
    if (res.destroyed) return;
    if (contentType !== undefined) headers['Content-Type'] = contentType;
    headers['Content-Length'] = body?.length ?? 0;
    // While closing, connections must end after their answer. An unread or partly read body (413,
    // 415, 404, cut-off streams) would otherwise be drained into the void to keep the connection
    // alive; closing is cheaper and the sender reconnects.
    if (this.#closing || !res.req.complete) headers.Connection = 'close';
    res.writeHead(status, headers);
    res.end(body);
  }
}

/** One line of plain text, as Zipkin's and Jaeger's servers answer errors. */
function plainText(message: string): RefusalBody {
  return { contentType: 'text/plain; charset=utf-8', body: Buffer.from(`${message}\n`) };
}
