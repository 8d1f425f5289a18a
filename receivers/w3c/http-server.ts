/**
 * The `w3c` receiver's HTTP API on the shared IngestHttpServer (binding, routing, body limits,
 * gzip/deflate, shutdown):
 *
 *   POST {path}   Content-Type: application/json; traceparent (required), tracestate, baggage
 *
 * Success is `202 Accepted` with `{"accepted": n, "spans": [{"traceId", "spanId"}, ...]}`, so a
 * producer learns the span ids to put in the traceparent of its own downstream calls. Refusals are
 * `{"code": "SKB_ERR_...", "message": "..."}` with the error's status; retryable ones (429, 503)
 * carry `Retry-After`. The headers are checked before any body byte is read.
 */
import type { IncomingMessage } from 'node:http';
import { UnsupportedMediaTypeError, type SkybridgeError } from '../../core/errors.ts';
import { IngestHttpServer, type IngestAnswer, type RefusalBody } from '../../core/http/ingest-http-server.ts';
import { mediaType } from '../../core/http/media-type.ts';
import type { Logger } from '../../core/telemetry/logger.ts';
import type { W3cConfig } from './config.ts';
import { readW3cHeaders, type W3cRequestContext } from './decode-w3c-spans.ts';
import type { W3cIngestHandler } from './ingest-handler.ts';

const JSON_TYPE = 'application/json';

/** Serves the span path; see the module comment. */
export class W3cHttpServer extends IngestHttpServer<W3cRequestContext> {
  readonly #handler: W3cIngestHandler;

  constructor(config: W3cConfig, handler: W3cIngestHandler, logger: Logger) {
    super({
      endpoint: config.endpoint,
      paths: [config.path],
      notFoundMessage: `Not found; spans with W3C trace context are accepted at POST ${config.path}.`,
      maxBodySize: config.max_request_body_size,
      connections: config.connections,
      tls: config.tls,
      auth: config.auth,
      name: 'W3C',
      transport: 'http',
      admit: () => handler.admit(),
      logger,
    });
    this.#handler = handler;
  }

  /** JSON only; the W3C headers are read (and traceparent required) here, before the body. */
  protected override classify(req: IncomingMessage): W3cRequestContext {
    const type = mediaType(req.headers['content-type']);
    if (type !== JSON_TYPE && !type.endsWith('+json')) {
      throw new UnsupportedMediaTypeError(`Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')} is not supported; send ${JSON_TYPE}.`);
    }
    return readW3cHeaders(req.headers);
  }

  protected override async ingest(body: Buffer, ctx: W3cRequestContext): Promise<IngestAnswer | SkybridgeError> {
    const result = await this.#handler.ingest(body, ctx);
    if (!result.ok) return result.error;
    return { status: 202, contentType: JSON_TYPE, body: Buffer.from(JSON.stringify({ accepted: result.ids.length, spans: result.ids })) };
  }

  protected override refusalBody(error: SkybridgeError): RefusalBody {
    return { contentType: JSON_TYPE, body: Buffer.from(JSON.stringify({ code: error.code, message: error.message })) };
  }

  protected override answered(status: number): void {
    this.#handler.answered(status);
  }

  protected override refused(error: SkybridgeError): void {
    this.#handler.refused(error);
  }
}
