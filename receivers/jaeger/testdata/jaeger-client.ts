/**
 * Typed access to the real `jaeger-client` (CommonJS, no type declarations) for tests: its tracer,
 * which speaks opentracing's API, and its UDP sender, which writes Agent.emitBatch in Thrift binary
 * through its bundled `thriftrw` (thriftrw has no compact protocol, so compact bytes in these tests
 * come from ./thrift-compact-writer.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Span, Tracer } from 'opentracing';

const require = createRequire(import.meta.url);

export type { Span as OpenTracingSpan, Tracer };

/** A jaeger-client tracer: opentracing's Tracer plus `close`, which flushes the reporter. */
export type JaegerTracer = Tracer & { close(callback?: () => void): void };

export interface JaegerTracerConfig {
  serviceName: string;
  sampler: { type: 'const'; param: 0 | 1 };
  reporter: {
    agentHost?: string;
    agentPort?: number;
    collectorEndpoint?: string;
    flushIntervalMs?: number;
    logSpans?: boolean;
  };
}

export interface JaegerTracerOptions {
  tags?: Record<string, string | number | boolean>;
  traceId128bit?: boolean;
  logger?: { info(msg: string): void; error(msg: string): void };
}

const jaeger = require('jaeger-client') as {
  initTracer(config: JaegerTracerConfig, options?: JaegerTracerOptions): JaegerTracer;
  opentracing: typeof import('opentracing');
};

/** jaeger-client's `initTracer`. */
export const initTracer = jaeger.initTracer;

/** The opentracing API jaeger-client bundles (`childOf`, `followsFrom`, `FORMAT_TEXT_MAP`, `Tags`). */
export const opentracing = jaeger.opentracing;

/** Keeps jaeger-client's own console logging out of test output. */
export const quietLogger = { info: (): void => {}, error: (): void => {} };

/**
 * A span as jaeger-client's UDPSender takes it: jaeger.thrift field names, i64 values as 8-byte
 * buffers, enums by name (thriftrw's convention).
 */
export interface ThriftSpanInput {
  traceIdLow: Buffer;
  traceIdHigh: Buffer;
  spanId: Buffer;
  parentSpanId: Buffer;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceIdLow: Buffer; traceIdHigh: Buffer; spanId: Buffer }[];
  flags: number;
  startTime: Buffer;
  duration: Buffer;
  tags: ThriftTagInput[];
  logs: { timestamp: Buffer; fields: ThriftTagInput[] }[];
}

export interface ThriftTagInput {
  key: string;
  vType: 'STRING' | 'DOUBLE' | 'BOOL' | 'LONG' | 'BINARY';
  vStr?: string;
  vDouble?: number;
  vBool?: boolean;
  vLong?: Buffer;
  vBinary?: Buffer;
}

/** jaeger-client's UDPSender (reporters/udp_sender.js), which the RemoteReporter drives. */
export interface UdpSender {
  setProcess(process: { serviceName: string; tags: ThriftTagInput[] }): void;
  append(span: ThriftSpanInput, callback?: (numSpans: number, err?: string) => void): void;
  flush(callback?: (numSpans: number, err?: string) => void): void;
  close(): void;
}

const UDPSender = (require('jaeger-client/dist/src/reporters/udp_sender.js') as { default: new (options: { host: string; port: number }) => UdpSender }).default;

/** A real jaeger-client UDP sender aimed at `host:port`. */
export function createUdpSender(host: string, port: number): UdpSender {
  return new UDPSender({ host, port });
}

/** A signed or unsigned 64-bit value as the 8 big-endian bytes thriftrw writes for an i64. */
export function i64(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)));
  return b;
}

/** A span with every required field set, for tests that only care about one or two of them. */
export function thriftSpan(p: Partial<ThriftSpanInput> = {}): ThriftSpanInput {
  return {
    traceIdLow: i64(0xabcn),
    traceIdHigh: i64(0n),
    spanId: i64(0x1n),
    parentSpanId: i64(0n),
    operationName: 'op',
    references: [],
    flags: 1,
    startTime: i64(1_700_000_000_000_000n),
    duration: i64(1000n),
    tags: [],
    logs: [],
    ...p,
  };
}

interface ThriftrwStruct {
  new (fields: object): object;
  rw: { toBuffer(value: object): { err: Error | null; value: Buffer } };
}

// thriftrw is jaeger-client's own dependency; resolve it from there, as jaeger-client does.
const requireFromJaeger = createRequire(require.resolve('jaeger-client'));
const { Thrift } = requireFromJaeger('thriftrw') as { Thrift: new (options: { source: string; allowOptionalArguments: boolean }) => Record<string, ThriftrwStruct> };
const jaegerThrift = new Thrift({
  source: readFileSync(requireFromJaeger.resolve('./jaeger-idl/thrift/jaeger.thrift'), 'ascii'),
  allowOptionalArguments: true,
});

/** A `jaeger.Batch` in Thrift binary, encoded by thriftrw as jaeger-client's HTTPSender does: the body of POST /api/traces. */
export function encodeBatchBinary(process: { serviceName: string; tags: ThriftTagInput[] }, spans: ThriftSpanInput[]): Buffer {
  const t = jaegerThrift as Record<'Batch' | 'Process' | 'Span', ThriftrwStruct>;
  const result = t.Batch.rw.toBuffer(new t.Batch({ process: new t.Process(process), spans: spans.map((s) => new t.Span(s)) }));
  if (result.err) throw result.err;
  return result.value;
}
