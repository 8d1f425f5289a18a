/**
 * `jaeger.api_v2.CollectorService/PostSpans` (jaeger-idl proto/api_v2/collector.proto) on grpc-js,
 * with raw-bytes (de)serialisers so the request is decoded once, by decodePostSpansRequest. The answer
 * is an empty PostSpansResponse after the pipeline accepted the spans; a refusal carries the error's
 * gRPC status. Oversized requests are refused by grpc-js itself with RESOURCE_EXHAUSTED.
 */
import { BearerTokens } from '../../core/auth/bearer-tokens.ts';
import { grpcServerCredentials } from '../../core/tls/server-tls.ts';
import { grpcServerOptions } from '../../core/grpc/server-limits.ts';
import {
  Server,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { parseHostPort } from '../../core/config/units.ts';
import { UnauthenticatedError, UnavailableError, asDecodeError, type SkybridgeError } from '../../core/errors.ts';
import { rawUnaryMethod } from '../../core/grpc/raw-method.ts';
import type { BatchHandler } from './batch-handler.ts';
import type { JaegerGrpcConfig } from './config.ts';
import { decodePostSpansRequest } from './decode-proto-batch.ts';
import type { JaegerBatch } from './jaeger-batch.ts';

/** The full method path, as clients dial it. */
export const POST_SPANS_PATH = '/jaeger.api_v2.CollectorService/PostSpans';

/** An empty PostSpansResponse encodes as zero bytes. */
const EMPTY_RESPONSE = Buffer.alloc(0);

const COLLECTOR_SERVICE: ServiceDefinition = { PostSpans: rawUnaryMethod(POST_SPANS_PATH) };

/** Serves PostSpans; see the module comment. */
export class GrpcCollectorServer {
  readonly #config: JaegerGrpcConfig;
  readonly #handler: BatchHandler;
  readonly #tokens: BearerTokens | undefined;
  readonly #server: Server;
  #closing = false;
  #port: number | undefined;

  constructor(config: JaegerGrpcConfig, handler: BatchHandler) {
    this.#config = config;
    this.#handler = handler;
    this.#tokens = config.auth ? new BearerTokens(config.auth, handler.logger) : undefined;
    this.#server = new Server({
      'grpc.max_receive_message_length': config.max_recv_msg_size,
      ...grpcServerOptions(config.connections),
    });
    this.#server.addService(COLLECTOR_SERVICE, {
      PostSpans: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        this.#postSpans(call, callback).catch((err: unknown) => {
          // Only a bug gets here; answer so the client is not left waiting, and keep serving.
          handler.logger.error({ transport: handler.transport, error: err }, 'Jaeger gRPC request handling failed.');
          callback({ code: GrpcStatus.INTERNAL, details: 'Internal error while handling PostSpans.' });
        });
      },
    });
  }

  /** The bound port once `listen` resolved (the real one when the endpoint asked for port 0). */
  get port(): number | undefined {
    return this.#port;
  }

  /** Binds the endpoint; rejects if it cannot. grpc-js reports no listener errors after binding. */
  listen(): Promise<void> {
    const { host, port } = parseHostPort(this.#config.endpoint)!;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, grpcServerCredentials(this.#config.tls, this.#handler.logger), (err, bound) => {
        if (err) return reject(err);
        this.#port = bound;
        resolve();
      });
    });
  }

  /**
   * Refuses new calls with UNAVAILABLE, lets calls in flight finish, and cancels them when
   * `deadline` aborts.
   */
  close(deadline: AbortSignal): Promise<void> {
    this.#closing = true;
    this.#tokens?.stop();
    if (this.#port === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const force = (): void => this.#server.forceShutdown();
      deadline.addEventListener('abort', force, { once: true });
      this.#server.tryShutdown(() => {
        deadline.removeEventListener('abort', force);
        resolve();
      });
      if (deadline.aborted) force();
    });
  }

  async #postSpans(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): Promise<void> {
    if (this.#tokens && !this.#tokens.accepts(call.metadata.get('authorization')[0]?.toString())) return this.#refuse(callback, new UnauthenticatedError());
    const request = call.request;
    if (this.#closing) return this.#refuse(callback, new UnavailableError('The receiver is shutting down.'));
    let batch: JaegerBatch;
    try {
      batch = decodePostSpansRequest(request);
    } catch (err) {
      return this.#refuse(callback, asDecodeError(err, 'the Jaeger PostSpansRequest'));
    }
    const result = await this.#handler.submit(batch);
    if (!result.ok) return this.#refuse(callback, result.error);
    this.#handler.answered('OK');
    callback(null, EMPTY_RESPONSE);
  }

  #refuse(callback: sendUnaryData<Buffer>, err: SkybridgeError): void {
    const status = GrpcStatus[err.grpcStatus] ?? String(err.grpcStatus);
    this.#handler.refused(err, status);
    this.#handler.answered(status);
    const error: Partial<ServiceError> = { code: err.grpcStatus, details: err.message };
    callback(error);
  }
}
