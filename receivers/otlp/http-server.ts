/**
 * OTLP/HTTP (opentelemetry-proto docs/specification.md, "OTLP/HTTP") on plain `node:http`: one POST
 * route, protobuf or JSON bodies, gzip/deflate, answers in the request's encoding. Errors carry a
 * `google.rpc.Status` body; retryable ones (429, 503) carry `Retry-After`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '../../core/config/units.ts';
import { UnavailableError, UnsupportedMediaTypeError, asSkybridgeError, type SkybridgeError } from '../../core/errors.ts';
import type { Logger } from '../../core/telemetry/logger.ts';
import type { OtlpConfig } from './config.ts';
import { encodeExportResponse, encodeStatus, type OtlpEncoding } from './encode-response.ts';
import type { ExportHandler } from './export-handler.ts';
import { parseContentCoding, readBody } from './read-body.ts';

/** The `http` block of OtlpConfig, when enabled. */
export type OtlpHttpConfig = NonNullable<OtlpConfig['http']>;

const CONTENT_TYPES: Record<OtlpEncoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };
/** How long a sender refused during shutdown should wait before trying again (or another instance). */
const SHUTDOWN_RETRY_AFTER_MS = 1000;

/** Serves `POST {path}`; see the module comment. */
export class OtlpHttpServer {
  readonly #config: OtlpHttpConfig;
  readonly #handler: ExportHandler;
  readonly #server: http.Server;
  #closing = false;
  #port: number | undefined;

  constructor(config: OtlpHttpConfig, handler: ExportHandler, logger: Logger) {
    this.#config = config;
    this.#handler = handler;
    this.#server = http.createServer((req, res) => {
      this.#onRequest(req, res).catch((err: unknown) => {
        // Only a bug gets here (every expected failure is answered); it must not take the process down.
        logger.error({ transport: 'http', error: err }, 'OTLP/HTTP request handling failed.');
        res.destroy();
      });
    });
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
    const { host, port } = parseHostPort(this.#config.endpoint)!;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.removeListener('error', onError);
        this.#server.on('error', (err) => {
          if (!this.#closing) onFatal(err);
        });
        this.#port = (this.#server.address() as AddressInfo).port;
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
    if (path !== this.#config.path) return this.#plain(res, 404, `Not found; OTLP traces are accepted at POST ${this.#config.path}.`);
    if (req.method !== 'POST') return this.#plain(res, 405, 'Method not allowed; use POST.', { Allow: 'POST' });

    const encoding = encodingOf(req.headers['content-type']);
    if (encoding === undefined) {
      const err = new UnsupportedMediaTypeError(
        `Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')} is not supported; send application/x-protobuf or application/json.`,
      );
      return this.#refuse(res, 'json', err);
    }
    if (this.#closing) return this.#refuse(res, encoding, new UnavailableError('The receiver is shutting down.', SHUTDOWN_RETRY_AFTER_MS));

    let body: Buffer;
    try {
      body = await readBody(req, this.#config.max_request_body_size, parseContentCoding(req.headers['content-encoding']));
    } catch (err) {
      return this.#refuse(res, encoding, asSkybridgeError(err));
    }

    const result = await this.#handler.export(body, encoding);
    if (!result.ok) return this.#refuse(res, encoding, result.error);
    this.#handler.answered('200');
    this.#send(res, 200, CONTENT_TYPES[encoding], encodeExportResponse(encoding, result.rejectedSpans, result.rejectMessage));
  }

  #refuse(res: http.ServerResponse, encoding: OtlpEncoding, err: SkybridgeError): void {
    const status = err.httpStatus;
    this.#handler.refused(err, String(status));
    this.#handler.answered(String(status));
    const headers: http.OutgoingHttpHeaders = {};
    if (err.retryable && err.retryAfterMs !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    const retryAfterMs = err.retryable ? err.retryAfterMs : undefined;
    this.#send(res, status, CONTENT_TYPES[encoding], encodeStatus(encoding, err.grpcStatus, err.message, retryAfterMs), headers);
  }

  #plain(res: http.ServerResponse, status: number, message: string, headers: http.OutgoingHttpHeaders = {}): void {
    this.#handler.answered(String(status));
    this.#send(res, status, 'text/plain; charset=utf-8', Buffer.from(message), headers);
  }

  #send(res: http.ServerResponse, status: number, contentType: string, body: Buffer, headers: http.OutgoingHttpHeaders = {}): void {
    if (res.destroyed) return;
    headers['Content-Type'] = contentType;
    headers['Content-Length'] = body.length;
    // While closing, connections must end after their answer. An unread or partly read body (413,
    // 415, 404, cut-off streams) would otherwise be drained into the void to keep the connection
    // alive; closing is cheaper and the sender reconnects.
    if (this.#closing || !res.req.complete) headers.Connection = 'close';
    res.writeHead(status, headers);
    res.end(body);
  }
}

/** The OTLP encoding named by a Content-Type header (parameters such as charset are ignored). */
function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(';');
  const mediaType = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (mediaType === 'application/x-protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return undefined;
}

