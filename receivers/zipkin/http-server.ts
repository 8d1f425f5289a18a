/**
 * The Zipkin HTTP collector API (openzipkin/zipkin `ZipkinHttpCollector`, zipkin-api
 * `zipkin2-api.yaml`) on plain `node:http`:
 *
 *   POST /api/v2/spans   JSON v2 (no type, application/json) or proto3 (application/x-protobuf)
 *   POST /api/v1/spans   JSON v1 (no type, application/json) or Thrift (application/x-thrift)
 *
 * Bodies may be gzip (or deflate) encoded. Success is `202 Accepted` with an empty body; errors are
 * a one-line `text/plain` explanation, as Zipkin's server answers them; retryable ones (429, 503)
 * carry `Retry-After`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '../../core/config/units.ts';
import { UnavailableError, UnsupportedMediaTypeError, asSkybridgeError, type SkybridgeError } from '../../core/errors.ts';
import type { Logger } from '../../core/telemetry/logger.ts';
import type { ZipkinConfig } from './config.ts';
import type { IngestHandler, ZipkinFormat } from './ingest-handler.ts';
import { parseContentCoding, readBody, type ContentCoding } from './read-body.ts';

export const V2_PATH = '/api/v2/spans';
export const V1_PATH = '/api/v1/spans';

/** How long a sender refused during shutdown should wait before trying again (or another instance). */
const SHUTDOWN_RETRY_AFTER_MS = 1000;

/** Serves the two span paths; see the module comment. */
export class ZipkinHttpServer {
  readonly #config: ZipkinConfig;
  readonly #handler: IngestHandler;
  readonly #server: http.Server;
  #closing = false;
  #port: number | undefined;

  constructor(config: ZipkinConfig, handler: IngestHandler, logger: Logger) {
    this.#config = config;
    this.#handler = handler;
    this.#server = http.createServer((req, res) => {
      this.#onRequest(req, res).catch((err: unknown) => {
        // Only a bug gets here (every expected failure is answered); it must not take the process down.
        logger.error({ transport: 'http', error: err }, 'Zipkin request handling failed.');
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
    if (path !== V2_PATH && path !== V1_PATH) {
      return this.#plain(res, 404, `Not found; Zipkin spans are accepted at POST ${V2_PATH} and POST ${V1_PATH}.`);
    }
    if (req.method !== 'POST') return this.#plain(res, 405, 'Method not allowed; use POST.', { Allow: 'POST' });

    let format: ZipkinFormat;
    let coding: ContentCoding;
    try {
      format = formatOf(path, req.headers['content-type']);
      // Checked before reading, so an unsupported coding costs no body bytes.
      coding = parseContentCoding(req.headers['content-encoding']);
    } catch (err) {
      return this.#refuse(res, asSkybridgeError(err), path);
    }
    if (this.#closing) return this.#refuse(res, new UnavailableError('The receiver is shutting down.', SHUTDOWN_RETRY_AFTER_MS), format);

    let body: Buffer;
    try {
      body = await readBody(req, this.#config.max_request_body_size, coding);
    } catch (err) {
      return this.#refuse(res, asSkybridgeError(err), format);
    }

    const result = await this.#handler.ingest(body, format);
    if (!result.ok) return this.#refuse(res, result.error, format);
    this.#handler.answered(202);
    this.#send(res, 202, undefined);
  }

  /** `what` names the format, or the path when the format is not known yet (for the log line). */
  #refuse(res: http.ServerResponse, err: SkybridgeError, what: string): void {
    const status = err.httpStatus;
    this.#handler.refused(err, what);
    this.#handler.answered(status);
    const headers: http.OutgoingHttpHeaders = {};
    if (err.retryable && err.retryAfterMs !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    // An unread or partly read body (413, 415, cut-off streams) would otherwise be drained into the
    // void to keep the connection alive; closing is cheaper and the sender reconnects.
    if (!res.req.complete) headers.Connection = 'close';
    this.#send(res, status, `${err.message}\n`, headers);
  }

  #plain(res: http.ServerResponse, status: number, message: string, headers: http.OutgoingHttpHeaders = {}): void {
    this.#handler.answered(status);
    if (!res.req.complete) headers.Connection = 'close';
    this.#send(res, status, `${message}\n`, headers);
  }

  #send(res: http.ServerResponse, status: number, text: string | undefined, headers: http.OutgoingHttpHeaders = {}): void {
    if (res.destroyed) return;
    const body = text === undefined ? undefined : Buffer.from(text);
    if (body !== undefined) headers['Content-Type'] = 'text/plain; charset=utf-8';
    headers['Content-Length'] = body?.length ?? 0;
    if (this.#closing) headers.Connection = 'close';
    res.writeHead(status, headers);
    res.end(body);
  }
}

/**
 * The encoding a POST carries, from its path and Content-Type (parameters such as charset ignored).
 * As in Zipkin's server, a missing type means JSON; we also read `text/plain` and curl's default
 * `application/x-www-form-urlencoded` (`curl -d @spans.json`) as JSON, since Zipkin accepts any type
 * there.
 *
 * @throws UnsupportedMediaTypeError for any other type, or an encoding that belongs to the other path.
 */
export function formatOf(path: string, contentType: string | undefined): ZipkinFormat {
  const semi = contentType?.indexOf(';') ?? -1;
  const mediaType = (semi < 0 ? (contentType ?? '') : contentType!.slice(0, semi)).trim().toLowerCase();
  const v2 = path === V2_PATH;
  if (isJson(mediaType)) return v2 ? 'JSON_V2' : 'JSON_V1';
  if (mediaType === 'application/x-protobuf' || mediaType === 'application/protobuf') {
    if (v2) return 'PROTO3';
    throw new UnsupportedMediaTypeError(`Content-Type ${mediaType} is Zipkin v2 proto3; POST it to ${V2_PATH}. ${V1_PATH} accepts application/json and application/x-thrift.`);
  }
  if (mediaType === 'application/x-thrift' || mediaType === 'application/vnd.apache.thrift.binary') {
    if (!v2) return 'THRIFT';
    throw new UnsupportedMediaTypeError(`Content-Type ${mediaType} is Zipkin v1 Thrift; POST it to ${V1_PATH}. ${V2_PATH} accepts application/json and application/x-protobuf.`);
  }
  const accepted = v2 ? 'application/json (JSON v2) or application/x-protobuf (proto3)' : 'application/json (JSON v1) or application/x-thrift (Thrift)';
  throw new UnsupportedMediaTypeError(`Content-Type ${JSON.stringify(contentType)} is not supported on ${path}; send ${accepted}.`);
}

function isJson(mediaType: string): boolean {
  return (
    mediaType === '' ||
    mediaType === 'application/json' ||
    mediaType.endsWith('+json') ||
    mediaType === 'text/plain' ||
    mediaType === 'application/x-www-form-urlencoded'
  );
}
