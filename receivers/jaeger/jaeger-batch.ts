/**
 * Jaeger's span model as both wire formats carry it (Thrift `jaeger.Batch`, proto `jaeger.api_v2.Batch`),
 * already in the shapes the internal model wants (hex ids, nanoseconds, tags as attributes), so the
 * decoders write each value once and `translateJaegerBatch` only reinterprets conventions.
 */
import type { Attributes } from '../../core/model/span-batch.ts';

/** SpanRefType in both IDLs: CHILD_OF 0, FOLLOWS_FROM 1. */
export const RefType = { CHILD_OF: 0, FOLLOWS_FROM: 1 } as const;

/** A Jaeger span reference (`SpanRef`), ids already in hex. */
export interface JaegerSpanRef {
  refType: number;
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
}

/** A Jaeger log: a timestamp and typed fields. */
export interface JaegerLog {
  timeUnixNano: bigint;
  fields: Attributes;
}

/** The process that emitted spans: service name and process tags. */
export interface JaegerProcess {
  serviceName: string;
  tags: Attributes;
}

/** One Jaeger span, decoded from either wire format. */
export interface JaegerSpan {
  /** 32 hex digits: traceIdHigh then traceIdLow (Thrift), or the 16 proto bytes. */
  traceId: string;
  spanId: string;
  /** Thrift `parentSpanId`; '' when zero or absent (proto carries the parent only as a reference). */
  parentSpanId: string;
  operationName: string;
  references: JaegerSpanRef[];
  flags: number;
  startTimeUnixNano: bigint;
  durationNano: bigint;
  tags: Attributes;
  logs: JaegerLog[];
  /** Proto only: a span's own process, which takes priority over the batch's. */
  process: JaegerProcess | undefined;
}

/** What one UDP packet, HTTP body or PostSpans request carries. */
export interface JaegerBatch {
  /** Undefined only for a proto Batch that carries processes on its spans instead. */
  process: JaegerProcess | undefined;
  spans: JaegerSpan[];
}

/** An int64 as the model's integer: a number when exact in a double, else a bigint. */
export function int64Value(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}
