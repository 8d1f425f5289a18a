/**
 * One `TraceSegmentReportService/collect` call: a client stream carrying a batch of encoded
 * segments, answered by the OAP with `Commands` once it took every message
 * (docs/skywalking-model.md "Services and methods"). The sending queue, the durable retry worker
 * and `skybridge dlq replay` all send this way.
 */
import { status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { rawBytes } from '../../core/grpc/raw-method.ts';
import type { SendItems } from '../../core/queue/durable-retry/durable-retry-queue.ts';
import { decodeCommands, type Command } from './codec.ts';
import { oapMetadata } from './oap-client.ts';

const COLLECT_PATH = '/skywalking.v3.TraceSegmentReportService/collect';

/**
 * Statuses about the payload, not the connection: grpc-java in the OAP answers RESOURCE_EXHAUSTED
 * for a stream carrying a message above its maxMessageSize, and INVALID_ARGUMENT names bad content.
 * Another batch, or the same segments split apart, may well go through; the sending queue splits a
 * batch answered so until it finds the segment at fault.
 */
export const PAYLOAD_STATUSES: ReadonlySet<GrpcStatus> = new Set([GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.INVALID_ARGUMENT]);

/**
 * Statuses about credentials or the endpoint, which resending cannot fix: a wrong token (the OAP's
 * AuthenticationInterceptor answers PERMISSION_DENIED), or an endpoint that is not a trace
 * receiver. Every status in neither set (UNAVAILABLE, DEADLINE_EXCEEDED, a connection reset seen as
 * INTERNAL or UNKNOWN, ...) is treated as transient.
 */
export const PERMANENT_STATUSES: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.PERMISSION_DENIED,
  GrpcStatus.UNAUTHENTICATED,
  GrpcStatus.UNIMPLEMENTED,
]);

export type CollectOutcome = { ok: true; commands: Command[] } | { ok: false; code: GrpcStatus; error: ServiceError };

export interface CollectCall {
  /** Settles when the OAP answered, the deadline passed or the call was cancelled; never rejects. */
  readonly result: Promise<CollectOutcome>;
  /** Abandon the call (its outcome becomes CANCELLED). */
  cancel(): void;
}

export interface CollectOptions {
  /** Sent as `Authentication` metadata when not empty. */
  token: string;
  /** Deadline of the whole stream. */
  timeoutMs: number;
}

/** `unavailable`, `permission_denied`, …: the status as a metric label and a log field. */
export function statusName(code: GrpcStatus): string {
  return (GrpcStatus[code] ?? `code_${code}`).toLowerCase();
}

/** Opens the stream, writes every segment, ends it, and waits for the OAP's answer. */
export function openCollectStream(client: Client, segments: readonly Buffer[], options: CollectOptions): CollectCall {
  let cancel = (): void => {};
  const result = new Promise<CollectOutcome>((resolve) => {
    try {
      const call = client.makeClientStreamRequest<Buffer, Command[]>(
        COLLECT_PATH,
        rawBytes,
        decodeCommands,
        oapMetadata(options.token),
        { deadline: Date.now() + options.timeoutMs },
        (error, commands) => {
          if (error) resolve({ ok: false, code: error.code, error });
          else resolve({ ok: true, commands: commands ?? [] });
        },
      );
      cancel = () => call.cancel();
      // The bytes are already in memory, so writing the whole batch at once costs no extra buffer.
      for (const bytes of segments) call.write(bytes);
      call.end();
    } catch (thrown) {
      // Only a closed client throws here; treat it like an unreachable OAP.
      const error = Object.assign(new Error(`Cannot open a collect stream: ${(thrown as Error).message}`), {
        code: GrpcStatus.UNAVAILABLE,
        details: String(thrown),
        metadata: oapMetadata(''),
      }) as ServiceError;
      resolve({ ok: false, code: GrpcStatus.UNAVAILABLE, error });
    }
  });
  return { result, cancel: () => cancel() };
}

/**
 * `send` for the durable retry queue and the dead-letter replay: one collect stream per job. A job
 * cannot be split, so one refused for its payload is permanent too: it goes to the dead-letter
 * queue whole rather than being retried until max_attempts.
 */
export function collectSender(client: Client, options: CollectOptions): SendItems {
  return async (segments) => {
    const outcome = await openCollectStream(client, segments, options).result;
    if (outcome.ok) return { ok: true };
    const permanent = PERMANENT_STATUSES.has(outcome.code) || PAYLOAD_STATUSES.has(outcome.code);
    return { ok: false, permanent, reason: statusName(outcome.code), message: outcome.error.details ?? outcome.error.message };
  };
}
