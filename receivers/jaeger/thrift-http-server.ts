/**
 * The Jaeger collector's HTTP endpoint: `POST /api/traces` with one `jaeger.Batch` in Thrift binary
 * (Content-Type `application/x-thrift`, as jaeger-client sends, or
 * `application/vnd.apache.thrift.binary`). Answers 202 Accepted with no body once the pipeline
 * accepted the spans; errors are plain text with the error's HTTP status and, when retryable,
 * `Retry-After`. Binding, routing, body limits and shutdown are the shared IngestHttpServer's.
 */
import type { IncomingMessage } from 'node:http';
import { UnsupportedMediaTypeError, asDecodeError, type SkybridgeError } from '../../core/errors.ts';
import { IngestHttpServer, type IngestAnswer } from '../../core/http/ingest-http-server.ts';
import { mediaType } from '../../core/http/media-type.ts';
import { BinaryProtocolReader } from '../../core/thrift/binary-protocol-reader.ts';
import type { BatchHandler } from './batch-handler.ts';
import type { JaegerThriftHttpConfig } from './config.ts';
import { decodeThriftBatch } from './decode-thrift-batch.ts';
import type { JaegerBatch } from './jaeger-batch.ts';

/** The one route, as the Jaeger collector serves it. */
export const TRACES_PATH = '/api/traces';
const THRIFT_MEDIA_TYPES = new Set(['application/x-thrift', 'application/vnd.apache.thrift.binary']);

/** Serves `POST /api/traces`; see the module comment. */
export class ThriftHttpServer extends IngestHttpServer<'thrift'> {
  readonly #handler: BatchHandler;

  constructor(config: JaegerThriftHttpConfig, handler: BatchHandler) {
    super({
      endpoint: config.endpoint,
      paths: [TRACES_PATH],
      notFoundMessage: `Not found; Jaeger Thrift batches are accepted at POST ${TRACES_PATH}.`,
      maxBodySize: config.max_request_body_size,
      connections: config.connections,
      tls: config.tls,
      auth: config.auth,
      name: 'Jaeger HTTP',
      transport: handler.transport,
      admit: () => handler.admit(),
      logger: handler.logger,
    });
    this.#handler = handler;
  }

  protected override classify(req: IncomingMessage): 'thrift' {
    if (THRIFT_MEDIA_TYPES.has(mediaType(req.headers['content-type']))) return 'thrift';
    throw new UnsupportedMediaTypeError(
      `Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')} is not supported; send a Thrift binary jaeger.Batch as application/x-thrift or application/vnd.apache.thrift.binary.`,
    );
  }

  protected override async ingest(body: Buffer): Promise<IngestAnswer | SkybridgeError> {
    let batch: JaegerBatch;
    try {
      // The ledger may have filled while the body arrived: refuse before decoding, as the other receivers do.
      this.#handler.admit();
      batch = decodeThriftBatch(new BinaryProtocolReader(body));
    } catch (err) {
      return asDecodeError(err, 'the Jaeger Thrift batch');
    }
    const result = await this.#handler.submit(batch);
    return result.ok ? { status: 202 } : result.error;
  }

  protected override answered(status: number): void {
    this.#handler.answered(String(status));
  }

  protected override refused(error: SkybridgeError): void {
    this.#handler.refused(error, String(error.httpStatus));
  }
}
