/**
 * The load: pre-encoded ExportTraceServiceRequests sent over one grpc-js channel with a fixed number
 * of calls in flight, as an OTel SDK exporter or an agent-tier collector would. Refusals the OTLP
 * spec calls retryable are honoured: the same bytes are resent after the delay the server put in
 * RetryInfo, or an exponential backoff with jitter when it gave none. Every retry is counted.
 */
import { credentials, makeGenericClientConstructor, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import type { LoadRequest, RequestPool } from './request-pool.ts';

const identity = (bytes: Buffer): Buffer => bytes;

const TraceServiceClient = makeGenericClientConstructor(
  {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  'TraceService',
);

type ExportClient = InstanceType<typeof TraceServiceClient> & {
  Export(request: Buffer, options: { deadline: number }, callback: (err: ServiceError | null, response?: Buffer) => void): void;
};

/** Codes worth a resend: backpressure, a server going away, a call that timed out. */
const RETRYABLE = new Set([GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED]);
const CALL_TIMEOUT_MS = 30_000;
/** A request still refused after this long is given up and counted as failed. */
const GIVE_UP_AFTER_MS = 60_000;
const BACKOFF_INITIAL_MS = 50;
const BACKOFF_MAX_MS = 2_000;

export interface LoadOptions {
  /** "host:port" of an OTLP/gRPC TraceService. */
  target: string;
  pool: RequestPool;
  /** Calls in flight at once. */
  concurrency: number;
  /** Stop after this many requests... */
  requests?: number;
  /** ...or stop starting new ones once this long has passed since the first send. */
  durationMs?: number;
  /**
   * Requests started per second, spread evenly (open loop). Absent: each call starts as soon as a
   * slot is free (closed loop), which finds the saturation throughput.
   */
  rate?: number;
  /** Called once per request, at its first attempt (`performance.now()` time). */
  onFirstSend?: (request: LoadRequest, atMs: number) => void;
}

export interface LoadResult {
  /** Requests started: indexes 0..requestsStarted-1 of the pool were used. */
  requestsStarted: number;
  requestsAcked: number;
  spansAcked: number;
  requestsFailed: number;
  spansFailed: number;
  /** Resends, by gRPC status name. */
  retries: Record<string, number>;
  /** The first few permanent failures, for the report. */
  failures: string[];
  firstSendMs: number;
  lastAckMs: number;
}

/** Sends the requests; resolves when every started request was acked or given up. */
export async function runOtlpLoad(options: LoadOptions): Promise<LoadResult> {
  const client = new TraceServiceClient(options.target, credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
  }) as ExportClient;
  const result: LoadResult = {
    requestsStarted: 0,
    requestsAcked: 0,
    spansAcked: 0,
    requestsFailed: 0,
    spansFailed: 0,
    retries: {},
    failures: [],
    firstSendMs: 0,
    lastAckMs: 0,
  };
  let next = 0;
  let firstSendMs: number | undefined;
  let startedAt: number | undefined = options.rate === undefined ? undefined : performance.now();
  const takeIndex = (): number | undefined => {
    if (options.requests !== undefined && next >= options.requests) return undefined;
    if (options.durationMs !== undefined && startedAt !== undefined && performance.now() - startedAt >= options.durationMs) return undefined;
    return next++;
  };

  const worker = async (): Promise<void> => {
    for (let index = takeIndex(); index !== undefined; index = takeIndex()) {
      if (options.rate !== undefined) {
        const due = startedAt! + (index * 1000) / options.rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const request = options.pool.request(index);
      const bytes = Buffer.isBuffer(request.bytes) ? request.bytes : Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
      const first = performance.now();
      startedAt ??= first;
      firstSendMs ??= first;
      result.requestsStarted++;
      options.onFirstSend?.(request, first);
      let backoff = BACKOFF_INITIAL_MS;
      for (;;) {
        const error = await exportOnce(client, bytes);
        if (error === undefined) {
          result.requestsAcked++;
          result.spansAcked += request.spanCount;
          result.lastAckMs = performance.now();
          break;
        }
        const name = GrpcStatus[error.code] ?? String(error.code);
        if (!RETRYABLE.has(error.code) || performance.now() - first > GIVE_UP_AFTER_MS) {
          result.requestsFailed++;
          result.spansFailed += request.spanCount;
          if (result.failures.length < 5) result.failures.push(`${name}: ${error.details}`);
          break;
        }
        result.retries[name] = (result.retries[name] ?? 0) + 1;
        const hinted = retryDelayMs(error);
        // Equal jitter: half the backoff fixed, half random, so refused senders spread out.
        const wait = hinted ?? backoff / 2 + Math.random() * (backoff / 2);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    client.close();
  }
  result.firstSendMs = firstSendMs ?? 0;
  return result;
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
