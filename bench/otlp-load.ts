/**
 * The OTLP/gRPC load: pre-encoded ExportTraceServiceRequests sent over one grpc-js channel with a
 * fixed number of calls in flight, as an OTel SDK exporter or an agent-tier collector would.
 * Refusals the OTLP spec calls retryable are resent (load.ts) after the delay the server put in
 * RetryInfo, or an exponential backoff with jitter when it gave none.
 */
import { credentials, makeGenericClientConstructor, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import { rawUnaryMethod } from '../core/grpc/raw-method.ts';
import { CALL_TIMEOUT_MS, runLoad, type Attempt, type LoadOptions, type LoadResult } from './load.ts';

export type { LoadResult } from './load.ts';

const TraceServiceClient = makeGenericClientConstructor(
  { Export: rawUnaryMethod('/opentelemetry.proto.collector.trace.v1.TraceService/Export') },
  'TraceService',
);

type ExportClient = InstanceType<typeof TraceServiceClient> & {
  Export(request: Buffer, options: { deadline: number }, callback: (err: ServiceError | null, response?: Buffer) => void): void;
};

/** Codes worth a resend: backpressure, a server going away, a call that timed out. */
const RETRYABLE = new Set([GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED]);

export interface OtlpLoadOptions extends LoadOptions {
  /** "host:port" of an OTLP/gRPC TraceService. */
  target: string;
}

/** Sends the requests as Export calls; resolves when every started request was acked or given up. */
export async function runOtlpLoad(options: OtlpLoadOptions): Promise<LoadResult> {
  const client = new TraceServiceClient(options.target, credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
  }) as ExportClient;
  try {
    return await runLoad(options, async (bytes): Promise<Attempt> => {
      const error = await exportOnce(client, bytes);
      if (error === undefined) return { ok: true };
      return {
        ok: false,
        status: GrpcStatus[error.code] ?? String(error.code),
        details: error.details,
        retryable: RETRYABLE.has(error.code),
        retryAfterMs: retryDelayMs(error),
      };
    });
  } finally {
    client.close();
  }
}

function exportOnce(client: ExportClient, bytes: Buffer): Promise<ServiceError | undefined> {
  return new Promise((resolve) => {
    client.Export(bytes, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err) => resolve(err ?? undefined));
  });
}

/**
 * The server's RetryInfo delay, if the status carried one: `grpc-status-details-bin` is a
 * google.rpc.Status { 3 details: repeated Any { 1 type_url, 2 value } }, and RetryInfo is
 * { 1 retry_delay: Duration { 1 seconds, 2 nanos } }.
 */
function retryDelayMs(error: ServiceError): number | undefined {
  const raw = error.metadata?.get('grpc-status-details-bin')[0];
  if (!Buffer.isBuffer(raw)) return undefined;
  try {
    const status = protobuf.Reader.create(raw);
    while (status.pos < status.len) {
      const tag = status.uint32();
      if (tag !== 26) {
        status.skipType(tag & 7);
        continue;
      }
      const any = protobuf.Reader.create(status.bytes());
      let typeUrl = '';
      let value: Uint8Array | undefined;
      while (any.pos < any.len) {
        const t = any.uint32();
        if (t === 10) typeUrl = any.string();
        else if (t === 18) value = any.bytes();
        else any.skipType(t & 7);
      }
      if (!typeUrl.endsWith('/google.rpc.RetryInfo') || value === undefined) continue;
      const info = protobuf.Reader.create(value);
      while (info.pos < info.len) {
        const t = info.uint32();
        if (t !== 10) {
          info.skipType(t & 7);
          continue;
        }
        const duration = protobuf.Reader.create(info.bytes());
        let seconds = 0;
        let nanos = 0;
        while (duration.pos < duration.len) {
          const d = duration.uint32();
          if (d === 8) {
            const v = duration.int64();
            seconds = typeof v === 'number' ? v : v.high * 4294967296 + (v.low >>> 0);
          }
          else if (d === 16) nanos = duration.int32();
          else duration.skipType(d & 7);
        }
        return seconds * 1000 + nanos / 1e6;
      }
    }
  } catch {
    // Unreadable details: fall back to our own backoff.
  }
  return undefined;
}
