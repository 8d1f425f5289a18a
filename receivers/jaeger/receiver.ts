/**
 * The `jaeger` receiver: up to four servers, one per enabled protocol, each feeding the pipeline
 * through its own BatchHandler. Everything is built in the constructor and bound in `start`, so a
 * bad config fails before any port is taken.
 */
import type { ComponentSettings, Host, Receiver } from '../../core/component.ts';
import type { TraceConsumer } from '../../core/consumer.ts';
import { BatchHandler } from './batch-handler.ts';
import type { JaegerConfig } from './config.ts';
import { GrpcCollectorServer, POST_SPANS_PATH } from './grpc-collector-server.ts';
import { ThriftHttpServer, TRACES_PATH } from './thrift-http-server.ts';
import { UdpAgentServer } from './udp-agent-server.ts';

/** Receives Jaeger spans over Thrift UDP, Thrift HTTP and gRPC; see README.md. */
export class JaegerReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: JaegerConfig;
  readonly #compact: UdpAgentServer | undefined;
  readonly #binary: UdpAgentServer | undefined;
  readonly #http: ThriftHttpServer | undefined;
  readonly #grpc: GrpcCollectorServer | undefined;
  #started = false;
  #shutdown: Promise<void> | undefined;

  constructor(settings: ComponentSettings, config: JaegerConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#config = config;
    const p = config.protocols;
    if (p.thrift_compact) this.#compact = new UdpAgentServer('compact', p.thrift_compact, new BatchHandler(settings, next, 'thrift_compact'));
    if (p.thrift_binary) this.#binary = new UdpAgentServer('binary', p.thrift_binary, new BatchHandler(settings, next, 'thrift_binary'));
    if (p.thrift_http) this.#http = new ThriftHttpServer(p.thrift_http, new BatchHandler(settings, next, 'thrift_http'));
    if (p.grpc) this.#grpc = new GrpcCollectorServer(p.grpc, new BatchHandler(settings, next, 'grpc'));
  }

  /** Bound UDP port of `thrift_compact`, once started; undefined when disabled. */
  get thriftCompactPort(): number | undefined {
    return this.#compact?.port;
  }

  /** Bound UDP port of `thrift_binary`, once started; undefined when disabled. */
  get thriftBinaryPort(): number | undefined {
    return this.#binary?.port;
  }

  /** Bound TCP port of `thrift_http`, once started; undefined when disabled. */
  get thriftHttpPort(): number | undefined {
    return this.#http?.port;
  }

  /** Bound TCP port of `grpc`, once started; undefined when disabled. */
  get grpcPort(): number | undefined {
    return this.#grpc?.port;
  }

  /** Binds every enabled protocol; if one cannot bind, the ones already bound are released. */
  async start(host: Host): Promise<void> {
    this.#started = true;
    const onFatal = (err: Error): void => host.reportFatal(this.#settings.id, err);
    try {
      await this.#compact?.listen(onFatal);
      await this.#binary?.listen(onFatal);
      await this.#http?.listen(onFatal);
      await this.#grpc?.listen();
    } catch (err) {
      await this.shutdown(AbortSignal.timeout(1000));
      throw err;
    }
  }

  /** Stops every server; UDP waits for packets already handed on, HTTP and gRPC for calls in flight. */
  shutdown(deadline: AbortSignal): Promise<void> {
    // Idempotent: a second call (or one after a failed start) waits for the first.
    return (this.#shutdown ??= Promise.all([
      this.#compact?.close(deadline),
      this.#binary?.close(deadline),
      this.#http?.close(deadline),
      this.#grpc?.close(deadline),
    ]).then(() => undefined));
  }

  describe(): string[] {
    const p = this.#config.protocols;
    const at = (configured: string, bound: number | undefined): string =>
      bound === undefined || !this.#started ? configured : configured.replace(/:\d+$/, `:${bound}`);
    const lines: string[] = [];
    if (p.thrift_compact) lines.push(`Jaeger Thrift compact (Agent.emitBatch) on UDP ${at(p.thrift_compact.endpoint, this.thriftCompactPort)}; no acknowledgement possible`);
    if (p.thrift_binary) lines.push(`Jaeger Thrift binary (Agent.emitBatch) on UDP ${at(p.thrift_binary.endpoint, this.thriftBinaryPort)}; no acknowledgement possible`);
    if (p.thrift_http) lines.push(`Jaeger Thrift over HTTP: POST http://${at(p.thrift_http.endpoint, this.thriftHttpPort)}${TRACES_PATH}`);
    if (p.grpc) lines.push(`Jaeger gRPC ${POST_SPANS_PATH.slice(1)} on ${at(p.grpc.endpoint, this.grpcPort)}`);
    return lines;
  }
}
