/**
 * The Jaeger collector's HTTP endpoint: `POST /api/traces` with one `jaeger.Batch` in Thrift binary
 * (Content-Type `application/x-thrift`, as jaeger-client sends, or
 * `application/vnd.apache.thrift.binary`). Answers 202 Accepted with no body once the pipeline
 * accepted the spans; errors are plain text with the error's HTTP status and, when retryable,
 * `Retry-After`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '../../core/config/units.ts';
import { UnavailableError, UnsupportedMediaTypeError, asSkybridgeError, type SkybridgeError } from '../../core/errors.ts';
// The OTLP receiver's bounded, decompressing body reader serves any HTTP receiver.
import { parseContentCoding, readBody } from '../otlp/read-body.ts';
import type { BatchHandler } from './batch-handler.ts';
import { BinaryProtocolReader } from './binary-protocol-reader.ts';
import type { JaegerThriftHttpConfig } from './config.ts';
import { decodeThriftBatch } from './decode-thrift-batch.ts';
import type { JaegerBatch } from './jaeger-batch.ts';

/** The one route, as the Jaeger collector serves it. */
export const TRACES_PATH = '/api/traces';
const THRIFT_MEDIA_TYPES = new Set(['application/x-thrift', 'application/vnd.apache.thrift.binary']);
/** How long a sender refused during shutdown should wait before trying again (or another instance). */
const SHUTDOWN_RETRY_AFTER_MS = 1000;

/** Serves `POST /api/traces`; see the module comment. */
export class ThriftHttpServer {
  readonly #config: JaegerThriftHttpConfig;
  readonly #handler: BatchHandler;
  readonly #server: http.Server;
  #closing = false;
  #port: number | undefined;

  constructor(config: JaegerThriftHttpConfig, handler: BatchHandler) {
    this.#config = config;
    this.#handler = handler;
    this.#server = http.createServer((req, res) => {
      this.#onRequest(req, res).catch((err: unknown) => {
        // Only a bug gets here (every expected failure is answered); it must not take the process down.
        handler.logger.error({ transport: handler.transport, error: err }, 'Jaeger HTTP request handling failed.');
        res.destroy();
      });
    });
  }

  /** The bound port once `listen` resolved (the real one when the endpoint asked for port 0). */
  get port(): number | undefined {
    return this.#port;
  }

  /** Binds the endpoint; rejects if it cannot. `onFatal` hears about a server error after that. */
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
   * Stops listening and answers 503 to requests still arriving on open connections; resolves once
   * every in-flight request is answered, or closes all connections when `deadline` aborts.
   */
  close(deadline: AbortSignal): Promise<void> {
    this.#closing = true;
    if (!this.#server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      const force = (): void => {
        this.#server.closeAllConnections();
      };
      deadline.addEventListener('abort', force, { once: true });
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
    if (path !== TRACES_PATH) return this.#plain(res, 404, `Not found; Jaeger Thrift batches are accepted at POST ${TRACES_PATH}.`);
    if (req.method !== 'POST') return this.#plain(res, 405, 'Method not allowed; use POST.', { Allow: 'POST' });
    if (!THRIFT_MEDIA_TYPES.has(mediaType(req.headers['content-type']))) {
      return this.#refuse(
        res,
        new UnsupportedMediaTypeError(
          `Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')} is not supported; send a Thrift binary jaeger.Batch as application/x-thrift or application/vnd.apache.thrift.binary.`,
        ),
      );
    }
    if (this.#closing) return this.#refuse(res, new UnavailableError('The receiver is shutting down.', SHUTDOWN_RETRY_AFTER_MS));

    let batch: JaegerBatch;
    try {
      const body = await readBody(req, this.#config.max_request_body_size, parseContentCoding(req.headers['content-encoding']));
      batch = decodeThriftBatch(new BinaryProtocolReader(body));
    } catch (err) {
      return this.#refuse(res, asSkybridgeError(err));
    }

    const result = await this.#handler.submit(batch);
    if (!result.ok) return this.#refuse(res, result.error);
    this.#handler.answered('202');
    this.#send(res, 202, undefined);
  }

  #refuse(res: http.ServerResponse, err: SkybridgeError): void {
    const status = err.httpStatus;
    this.#handler.refused(err, String(status));
    this.#handler.answered(String(status));
    const headers: http.OutgoingHttpHeaders = {};
    if (err.retryable && err.retryAfterMs !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    // An unread or partly read body would otherwise be drained to keep the connection alive;
    // closing is cheaper and the sender reconnects.
    if (!res.req.complete) headers.Connection = 'close';
    this.#send(res, status, `${err.message}\n`, headers);
  }

  #plain(res: http.ServerResponse, status: number, message: string, headers: http.OutgoingHttpHeaders = {}): void {
    this.#handler.answered(String(status));
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

/** The media type of a Content-Type header, lower-cased, without parameters. */
function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
