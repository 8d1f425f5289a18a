/**
 * A grpc-js client for TraceService/Export with identity serializers, so tests can send any bytes
 * (truncated, oversized) and read the raw response and status details.
 */
import * as grpc from '@grpc/grpc-js';
import { rawUnaryMethod } from '../../../core/grpc/raw-method.ts';

const TraceServiceClient = grpc.makeGenericClientConstructor(
  { Export: rawUnaryMethod('/opentelemetry.proto.collector.trace.v1.TraceService/Export') },
  'TraceService',
);

export type RawGrpcResult = { ok: true; response: Buffer } | { ok: false; error: grpc.ServiceError };

/** One client (one connection) per test file; `gzip` compresses every request message. */
export function createRawTraceClient(address: string, opts: { gzip?: boolean } = {}) {
  const client = new TraceServiceClient(address, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    ...(opts.gzip ? { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip } : {}),
  }) as unknown as grpc.Client & { Export: (req: Buffer, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Buffer) => void) => void };
  return {
    export(body: Buffer): Promise<RawGrpcResult> {
      return new Promise((resolve) => {
        client.Export(body, { deadline: Date.now() + 10_000 }, (err, res) => resolve(err ? { ok: false, error: err } : { ok: true, response: res }));
      });
    },
    /** The channel's connectivity state (READY while connected, IDLE after the server closed it). */
    state(): grpc.connectivityState {
      return client.getChannel().getConnectivityState(false);
    },
    close(): void {
      client.close();
    },
  };
}
