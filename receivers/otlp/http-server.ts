/**
 * OTLP/HTTP (opentelemetry-proto docs/specification.md, "OTLP/HTTP"): one POST route, protobuf or
 * JSON bodies, gzip/deflate, answers in the request's encoding. Errors carry a `google.rpc.Status`
 * body; retryable ones (429, 503) carry `Retry-After`. Binding, routing, body limits and shutdown are
 * the shared IngestHttpServer's.
 */
import type { IncomingMessage } from 'node:http';
import { UnsupportedMediaTypeError, type SkybridgeError } from '../../core/errors.ts';
import { IngestHttpServer, type IngestAnswer, type RefusalBody } from '../../core/http/ingest-http-server.ts';
import { mediaType } from '../../core/http/media-type.ts';
import type { Logger } from '../../core/telemetry/logger.ts';
import type { OtlpConfig } from './config.ts';
import { encodeExportResponse, encodeStatus, type OtlpEncoding } from './encode-response.ts';
import type { ExportHandler } from './export-handler.ts';

/** The `http` block of OtlpConfig, when enabled. */
export type OtlpHttpConfig = NonNullable<OtlpConfig['http']>;

const CONTENT_TYPES: Record<OtlpEncoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };

/** Serves `POST {path}`; see the module comment. */
export class OtlpHttpServer extends IngestHttpServer<OtlpEncoding> {
  readonly #handler: ExportHandler;

  constructor(config: OtlpHttpConfig, handler: ExportHandler, logger: Logger) {
    super({
      endpoint: config.endpoint,
      paths: [config.path],
      notFoundMessage: `Not found; OTLP traces are accepted at POST ${config.path}.`,
      maxBodySize: config.max_request_body_size,
      connections: config.connections,
      tls: config.tls,
      auth: config.auth,
      name: 'OTLP/HTTP',
      transport: 'http',
      admit: () => handler.admit(),
      logger,
    });
    this.#handler = handler;
  }

  protected override classify(req: IncomingMessage): OtlpEncoding {
    const encoding = encodingOf(req.headers['content-type']);
    if (encoding !== undefined) return encoding;
    throw new UnsupportedMediaTypeError(
      `Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')} is not supported; send application/x-protobuf or application/json.`,
    );
  }

  protected override async ingest(body: Buffer, encoding: OtlpEncoding): Promise<IngestAnswer | SkybridgeError> {
    const result = await this.#handler.export(body, encoding);
    if (!result.ok) return result.error;
    return { status: 200, contentType: CONTENT_TYPES[encoding], body: encodeExportResponse(encoding, result.rejectedSpans, result.rejectMessage) };
  }

  protected override answered(status: number): void {
    this.#handler.answered(String(status));
  }

  protected override refused(error: SkybridgeError): void {
    this.#handler.refused(error, String(error.httpStatus));
  }

  /** A `google.rpc.Status` in the request's encoding (JSON when the Content-Type was not understood). */
  protected override refusalBody(error: SkybridgeError, encoding: OtlpEncoding | undefined): RefusalBody {
    const e = encoding ?? 'json';
    const retryAfterMs = error.retryable ? error.retryAfterMs : undefined;
    return { contentType: CONTENT_TYPES[e], body: encodeStatus(e, error.grpcStatus, error.message, retryAfterMs) };
  }
}

/** The OTLP encoding named by a Content-Type header (parameters such as charset are ignored). */
function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  const type = mediaType(contentType);
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}
