/**
 * The Zipkin HTTP collector API (openzipkin/zipkin `ZipkinHttpCollector`, zipkin-api
 * `zipkin2-api.yaml`) on plain `node:http`:
 *
 *   POST /api/v2/spans   JSON v2 (no type, application/json) or proto3 (application/x-protobuf)
 *   POST /api/v1/spans   JSON v1 (no type, application/json) or Thrift (application/x-thrift)
 *
 * Bodies may be gzip (or deflate) encoded. Success is `202 Accepted` with an empty body; errors are
 * a one-line `text/plain` explanation, as Zipkin's server answers them; retryable ones (429, 503)
 * carry `Retry-After`. Binding, routing, body limits and shutdown are the shared IngestHttpServer's.
 */
import type { IncomingMessage } from 'node:http';
import { UnsupportedMediaTypeError, type SkybridgeError } from '../../core/errors.ts';
import { IngestHttpServer, type IngestAnswer } from '../../core/http/ingest-http-server.ts';
import { mediaType } from '../../core/http/media-type.ts';
import type { Logger } from '../../core/telemetry/logger.ts';
import type { ZipkinConfig } from './config.ts';
import type { IngestHandler, ZipkinFormat } from './ingest-handler.ts';

export const V2_PATH = '/api/v2/spans';
export const V1_PATH = '/api/v1/spans';

/** Serves the two span paths; see the module comment. */
export class ZipkinHttpServer extends IngestHttpServer<ZipkinFormat> {
  readonly #handler: IngestHandler;

  constructor(config: ZipkinConfig, handler: IngestHandler, logger: Logger) {
    super({
      endpoint: config.endpoint,
      paths: [V2_PATH, V1_PATH],
      notFoundMessage: `Not found; Zipkin spans are accepted at POST ${V2_PATH} and POST ${V1_PATH}.`,
      maxBodySize: config.max_request_body_size,
      connections: config.connections,
      tls: config.tls,
      auth: config.auth,
      name: 'Zipkin',
      transport: 'http',
      admit: () => handler.admit(),
      logger,
    });
    this.#handler = handler;
  }

  protected override classify(req: IncomingMessage, path: string): ZipkinFormat {
    return formatOf(path, req.headers['content-type']);
  }

  protected override async ingest(body: Buffer, format: ZipkinFormat): Promise<IngestAnswer | SkybridgeError> {
    const result = await this.#handler.ingest(body, format);
    return result.ok ? { status: 202 } : result.error;
  }

  protected override answered(status: number): void {
    this.#handler.answered(status);
  }

  /** The log line names the format, or the path when the format is not known yet. */
  protected override refused(error: SkybridgeError, format: ZipkinFormat | undefined, path: string): void {
    this.#handler.refused(error, format ?? path);
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
  const type = mediaType(contentType);
  const v2 = path === V2_PATH;
  if (isJson(type)) return v2 ? 'JSON_V2' : 'JSON_V1';
  if (type === 'application/x-protobuf' || type === 'application/protobuf') {
    if (v2) return 'PROTO3';
    throw new UnsupportedMediaTypeError(`Content-Type ${type} is Zipkin v2 proto3; POST it to ${V2_PATH}. ${V1_PATH} accepts application/json and application/x-thrift.`);
  }
  if (type === 'application/x-thrift' || type === 'application/vnd.apache.thrift.binary') {
    if (!v2) return 'THRIFT';
    throw new UnsupportedMediaTypeError(`Content-Type ${type} is Zipkin v1 Thrift; POST it to ${V1_PATH}. ${V2_PATH} accepts application/json and application/x-protobuf.`);
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
