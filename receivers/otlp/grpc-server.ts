/**
 * OTLP/gRPC: the unary `opentelemetry.proto.collector.trace.v1.TraceService/Export` on a grpc-js
 * server. The request deserializer is the identity, so the receiver decodes the bytes itself and can
 * answer INVALID_ARGUMENT with a message that says what is wrong. grpc-js itself enforces
 * `max_recv_msg_size` (before and after gzip) with RESOURCE_EXHAUSTED.
 */
import { BearerTokens } from '../../core/auth/bearer-tokens.ts';
import { grpcServerCredentials } from '../../core/tls/server-tls.ts';
import { grpcServerOptions } from '../../core/grpc/server-limits.ts';
import * as grpc from '@grpc/grpc-js';
import { UnauthenticatedError, UnavailableError, type SkybridgeError } from '../../core/errors.ts';
import { rawUnaryMethod } from '../../core/grpc/raw-method.ts';
import type { Logger } from '../../core/telemetry/logger.ts';
import type { OtlpConfig } from './config.ts';
import { encodeExportResponse, encodeStatus } from './encode-response.ts';
import type { ExportHandler } from './export-handler.ts';
import { HANDOVER_HEADER } from './handover.ts';

/** The `grpc` block of OtlpConfig, when enabled. */
export type OtlpGrpcConfig = NonNullable<OtlpConfig['grpc']>;

/** The TraceService definition with pass-through (de)serializers. */
export const traceServiceDefinition: grpc.ServiceDefinition = {
  Export: rawUnaryMethod('/opentelemetry.proto.collector.trace.v1.TraceService/Export'),
};

/** How long a sender refused during shutdown should wait before trying again (or another instance). */
const SHUTDOWN_RETRY_AFTER_MS = 1000;

/** Serves TraceService/Export; see the module comment. */
export class OtlpGrpcServer {
  readonly #config: OtlpGrpcConfig;
  readonly #handler: ExportHandler;
  readonly #logger: Logger;
  readonly #tokens: BearerTokens | undefined;
  readonly #server: grpc.Server;
  #closing = false;
  #port: number | undefined;

  constructor(config: OtlpGrpcConfig, handler: ExportHandler, logger: Logger) {
    this.#config = config;
    this.#handler = handler;
    this.#logger = logger;
    this.#tokens = config.auth ? new BearerTokens(config.auth, logger) : undefined;
    this.#server = new grpc.Server({
      'grpc.max_receive_message_length': config.max_recv_msg_size,
      'grpc.max_concurrent_streams': config.max_concurrent_streams,
      ...grpcServerOptions(config.connections),
    });
    this.#server.addService(traceServiceDefinition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        this.#onExport(call, callback).catch((err: unknown) => {
          // Only a bug gets here (every expected failure is answered); it must not take the process down.
          this.#logger.error({ transport: 'grpc', error: err }, 'OTLP/gRPC request handling failed.');
          callback({ code: grpc.status.INTERNAL, details: 'Internal error in the OTLP receiver.' });
        });
      },
    });
  }

  /** The bound port once `listen` resolved (the real one when the endpoint asked for port 0). */
  get port(): number | undefined {
    return this.#port;
  }

  /** Binds the endpoint; rejects if it cannot (address in use, permission). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(this.#config.endpoint, grpcServerCredentials(this.#config.tls, this.#logger), (err, port) => {
        if (err) return reject(err);
        this.#port = port;
        resolve();
      });
    });
  }

  /**
   * Stops accepting (listeners close, connections get GOAWAY, late calls get UNAVAILABLE) and
   * resolves once in-flight calls are answered, or cancels them all when `deadline` aborts.
   */
  close(deadline: AbortSignal): Promise<void> {
    this.#closing = true;
    this.#tokens?.stop();
    return new Promise((resolve) => {
      const force = (): void => {
        this.#server.forceShutdown();
        resolve();
      };
      deadline.addEventListener('abort', force, { once: true });
      this.#server.tryShutdown(() => {
        deadline.removeEventListener('abort', force);
        resolve();
      });
      if (deadline.aborted) force();
    });
  }

  async #onExport(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): Promise<void> {
    if (this.#tokens && !this.#tokens.accepts(call.metadata.get('authorization')[0]?.toString())) return this.#refuse(callback, new UnauthenticatedError());
    if (this.#closing) return this.#refuse(callback, new UnavailableError('The receiver is shutting down.', SHUTDOWN_RETRY_AFTER_MS));
    const handedOver = call.metadata.get(HANDOVER_HEADER)[0];
    const mode = handedOver === 'take' || handedOver === 'if-held' ? handedOver : undefined;
    const result = await this.#handler.export(call.request, 'protobuf', mode);
    if (!result.ok) return this.#refuse(callback, result.error);
    this.#handler.answered('OK');
    callback(null, encodeExportResponse('protobuf', result.rejectedSpans, result.rejectMessage));
  }

  #refuse(callback: grpc.sendUnaryData<Buffer>, err: SkybridgeError): void {
    const name = grpc.status[err.grpcStatus] ?? String(err.grpcStatus);
    this.#handler.refused(err, name);
    this.#handler.answered(name);
    const metadata = new grpc.Metadata();
    // OTLP/gRPC: RESOURCE_EXHAUSTED is retryable only when the status carries RetryInfo, and
    // RetryInfo is also how a client learns how long to back off (google.rpc error details).
    if (err.retryable && err.retryAfterMs !== undefined) {
      metadata.set('grpc-status-details-bin', encodeStatus('protobuf', err.grpcStatus, err.message, err.retryAfterMs));
    }
    callback({ code: err.grpcStatus, details: err.message, metadata });
  }
}
