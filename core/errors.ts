/**
 * Every error skybridge hands to a sender is defined here, once, with its code, whether the sender
 * should retry, and its gRPC and HTTP status. Receivers map errors with `toGrpcStatus` /
 * `toHttpStatus` and nothing else (the OTLP spec's table: opentelemetry-proto docs/specification.md).
 */
import { status as GrpcStatus } from '@grpc/grpc-js';

export type ErrorCode =
  | 'SKB_ERR_CONFIG_INVALID'
  | 'SKB_ERR_INPUT_INVALID'
  | 'SKB_ERR_INPUT_TOO_LARGE'
  | 'SKB_ERR_INPUT_MEDIA_TYPE'
  | 'SKB_ERR_OVERLOADED'
  | 'SKB_ERR_UNAVAILABLE'
  | 'SKB_ERR_EXPORT_FAILED'
  | 'SKB_ERR_NOT_HELD'
  | 'SKB_ERR_UNAUTHENTICATED';

export class SkybridgeError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly grpcStatus: GrpcStatus;
  readonly httpStatus: number;
  /** Milliseconds the sender should wait before retrying, when the error is retryable. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryable: boolean; grpcStatus: GrpcStatus; httpStatus: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable;
    this.grpcStatus = opts.grpcStatus;
    this.httpStatus = opts.httpStatus;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The payload cannot be decoded or violates the protocol. Permanent: resending will not help. */
export class InvalidInputError extends SkybridgeError {
  constructor(message: string, cause?: unknown) {
    super('SKB_ERR_INPUT_INVALID', message, { retryable: false, grpcStatus: GrpcStatus.INVALID_ARGUMENT, httpStatus: 400, cause });
  }
}

/** The payload (after decompression) is larger than the receiver's configured limit. */
export class PayloadTooLargeError extends SkybridgeError {
  constructor(message: string) {
    super('SKB_ERR_INPUT_TOO_LARGE', message, { retryable: false, grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED, httpStatus: 413 });
  }
}

export class UnsupportedMediaTypeError extends SkybridgeError {
  constructor(message: string) {
    super('SKB_ERR_INPUT_MEDIA_TYPE', message, { retryable: false, grpcStatus: GrpcStatus.INVALID_ARGUMENT, httpStatus: 415 });
  }
}

/** A bounded queue or buffer is full. Retryable: the sender should back off and resend. */
export class OverloadedError extends SkybridgeError {
  constructor(message: string, retryAfterMs = 1000) {
    super('SKB_ERR_OVERLOADED', message, { retryable: true, grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED, httpStatus: 429, retryAfterMs });
  }
}

/** The component is shutting down or its downstream is unreachable. Retryable. */
export class UnavailableError extends SkybridgeError {
  constructor(message: string, retryAfterMs = 1000) {
    super('SKB_ERR_UNAVAILABLE', message, { retryable: true, grpcStatus: GrpcStatus.UNAVAILABLE, httpStatus: 503, retryAfterMs });
  }
}

/**
 * The destination refused the data permanently (wrong token, invalid segment). Reaches a sender only
 * when an exporter acknowledges after export (`ack: after_export`); otherwise it is a counted drop.
 * Not retryable: INTERNAL / 500 are outside OTLP's retryable sets.
 */
export class ExportFailedError extends SkybridgeError {
  constructor(message: string, cause?: unknown) {
    super('SKB_ERR_EXPORT_FAILED', message, { retryable: false, grpcStatus: GrpcStatus.INTERNAL, httpStatus: 500, cause });
  }
}

/**
 * Between gateways only: a handover of spans "if you hold their trace" (receivers/otlp/handover.ts)
 * reached a gateway that does not; the sending gateway keeps them. Not an error any SDK sees.
 */
/**
 * The request carried no accepted bearer token (core/auth/bearer-tokens.ts). The message says
 * nothing about which tokens exist; not retryable: resending the same request cannot succeed.
 */
export class UnauthenticatedError extends SkybridgeError {
  constructor() {
    super('SKB_ERR_UNAUTHENTICATED', 'Unauthenticated.', { retryable: false, grpcStatus: GrpcStatus.UNAUTHENTICATED, httpStatus: 401 });
  }
}

export class NotHeldError extends SkybridgeError {
  constructor(message: string) {
    super('SKB_ERR_NOT_HELD', message, { retryable: false, grpcStatus: GrpcStatus.FAILED_PRECONDITION, httpStatus: 409 });
  }
}

/** Longest piece of a sender's own text (a key, a value) echoed in an answer or a log line. */
export const ECHO_MAX_CHARS = 64;

/** `text` cut to ECHO_MAX_CHARS, saying how much was left out: senders choose keys of any length. */
export function echo(text: string): string {
  return text.length <= ECHO_MAX_CHARS ? text : `${text.slice(0, ECHO_MAX_CHARS)}… (${text.length} characters)`;
}

/**
 * What a decoder threw, as the sender's fault: a SkybridgeError stays as it is (a decoder's own
 * InvalidInputError, or a refusal thrown before decoding); anything else (a RangeError, a stack
 * overflow on hostile nesting) becomes INVALID_ARGUMENT / 400, never a retryable status, which
 * would make the sender resend the same garbage forever.
 */
export function asDecodeError(err: unknown, what: string): SkybridgeError {
  if (err instanceof SkybridgeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InvalidInputError(`Cannot decode ${what}: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`);
}

/** Normalise anything thrown downstream into a SkybridgeError a receiver can answer with. */
export function asSkybridgeError(err: unknown): SkybridgeError {
  if (err instanceof SkybridgeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // An unknown failure downstream is treated as transient: the sender keeps the data and retries.
  return new UnavailableError(`Downstream failed: ${message}`);
}
