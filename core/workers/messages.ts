/**
 * What the main thread and the worker threads say to each other (core/workers/). Every message is
 * structured-cloneable; request bytes are transferred, not copied.
 */
import type { ClosedWindowReport } from '../component.ts';
import { SkybridgeError, type ErrorCode } from '../errors.ts';
import type { TraceViewAnswer, TraceViewRequest } from '../telemetry/trace-view/backend.ts';
import type { TapOptions } from '../telemetry/trace-view/tap-lines.ts';

/** Main → worker. Requests carry an `id` the answer repeats. */
export type ToWorker =
  | { type: 'consume'; id: number; receiver: string; transport: string; bytes: Uint8Array }
  | { type: 'holds'; id: number; traceId: string }
  | { type: 'abandon'; traceIds: string[] }
  | { type: 'metrics'; id: number }
  | { type: 'windows-settled'; id: number; kept: string[] }
  | { type: 'shutdown'; id: number; timeoutMs: number }
  /** The trace view (/traces) asks what this worker kept. */
  | { type: 'trace-view'; id: number; request: TraceViewRequest }
  /** Start (options) or stop (null) sending `tap-lines` for tap `tapId`. */
  | { type: 'tap'; tapId: number; options: TapOptions | null };

/** Worker → main. */
export type FromWorker =
  | { type: 'ready'; exporterLines: string[]; valves: string[] }
  | { type: 'start-failed'; message: string }
  | { type: 'fatal'; component: string; message: string }
  | { type: 'consumed'; id: number; spanCount: number; rejectedSpans: number; rejectMessage: string }
  | { type: 'refused'; id: number; error: SerializedError }
  | { type: 'held'; id: number; held: boolean }
  | { type: 'metrics'; id: number; metrics: object[] }
  | { type: 'windows'; id: number; processor: string; perWindow: number; through: number; windows: WindowReport[] }
  | { type: 'stopped'; id: number }
  /** Undefined when this worker keeps no traces (the view is off). */
  | { type: 'trace-view'; id: number; answer: TraceViewAnswer | undefined }
  | { type: 'tap-lines'; tapId: number; lines: string[] };

/** One closed sampling window of one worker (window-hub.ts). */
export type WindowReport = ClosedWindowReport;

export interface SerializedError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  grpcStatus: number;
  httpStatus: number;
  retryAfterMs?: number;
}

export function serializeError(error: SkybridgeError): SerializedError {
  return {
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    grpcStatus: error.grpcStatus,
    httpStatus: error.httpStatus,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
  };
}

/** The same error on this side: same code, statuses, retry hint and message. */
export function deserializeError(e: SerializedError): SkybridgeError {
  return new SkybridgeError(e.code, e.message, {
    retryable: e.retryable,
    grpcStatus: e.grpcStatus,
    httpStatus: e.httpStatus,
    ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }),
  });
}
