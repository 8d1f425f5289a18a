/**
 * Spans made by the real OpenTelemetry JS SDK, for round-trip tests of the decoders: whatever an
 * exporter serialises from these must come out of the receiver with the values below.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, createTraceState, trace, type HrTime, type SpanContext } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

/** Resource attributes every sample span carries. */
export const SAMPLE_RESOURCE = { 'service.name': 'otlp-receiver-test', 'service.instance.id': 'instance-1', 'process.pid': 4242 };
export const SAMPLE_SCOPE = { name: 'sample-scope', version: '1.2.3' };

/** Times as HrTime for the SDK and as unix nanoseconds for the assertions (chosen to need all 64 bits' precision). */
export const T = {
  rootStart: [1_700_000_000, 123_456_789] as HrTime,
  rootStartNs: 1_700_000_000_123_456_789n,
  rootEnd: [1_700_000_001, 987_654_321] as HrTime,
  rootEndNs: 1_700_000_001_987_654_321n,
  eventAt: [1_700_000_000, 500_000_001] as HrTime,
  eventAtNs: 1_700_000_000_500_000_001n,
  childStart: [1_700_000_000, 200_000_000] as HrTime,
  childStartNs: 1_700_000_000_200_000_000n,
  childEnd: [1_700_000_000, 300_000_007] as HrTime,
  childEndNs: 1_700_000_000_300_000_007n,
};

/** A span context from "another process": the remote parent of `consume` and the target of root's link. */
export const REMOTE_PARENT: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: createTraceState('vendor=abc,other=1'),
};
export const LINK_TARGET: SpanContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
};

/** The root span's attributes: one of each AnyValue kind the JS SDK can produce. */
export const ROOT_ATTRIBUTES = {
  'http.request.method': 'GET',
  'http.response.status_code': 200,
  'sample.ratio': 0.25,
  'sample.negative': -7,
  'sample.max_safe': Number.MAX_SAFE_INTEGER,
  'cache.hit': true,
  'sample.tags': ['a', 'b'],
  'sample.ports': [80, 443],
  'sample.flags': [true, false],
  'sample.weights': [0.5, 1.5],
};

/** Ids of the spans `emitSampleSpans` made. */
export interface SampleSpanIds {
  traceId: string;
  rootSpanId: string;
  childSpanId: string;
  consumeSpanId: string;
}

/**
 * Makes three spans through `exporter` and waits until it exported them: `GET /orders` (SERVER, root,
 * every attribute kind, an event, a link, status ERROR), `SELECT orders` (CLIENT, child of the root,
 * status OK) and `process message` (CONSUMER, child of REMOTE_PARENT).
 */
export async function emitSampleSpans(exporter: SpanExporter): Promise<SampleSpanIds> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(SAMPLE_RESOURCE),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000 })],
  });
  const tracer = provider.getTracer(SAMPLE_SCOPE.name, SAMPLE_SCOPE.version);

  const root = tracer.startSpan(
    'GET /orders',
    { kind: SpanKind.SERVER, startTime: T.rootStart, attributes: ROOT_ATTRIBUTES, links: [{ context: LINK_TARGET, attributes: { 'link.reason': 'follows' } }] },
    ROOT_CONTEXT,
  );
  root.addEvent('exception', { 'exception.message': 'out of stock', 'sample.attempt': 2 }, T.eventAt);
  root.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });

  const child = tracer.startSpan(
    'SELECT orders',
    { kind: SpanKind.CLIENT, startTime: T.childStart, attributes: { 'db.system': 'postgresql' } },
    trace.setSpan(ROOT_CONTEXT, root),
  );
  child.setStatus({ code: SpanStatusCode.OK });
  child.end(T.childEnd);
  root.end(T.rootEnd);

  const consume = tracer.startSpan(
    'process message',
    { kind: SpanKind.CONSUMER, startTime: T.childStart },
    trace.setSpanContext(ROOT_CONTEXT, REMOTE_PARENT),
  );
  consume.end(T.childEnd);

  await provider.forceFlush();
  await provider.shutdown();
  return {
    traceId: root.spanContext().traceId,
    rootSpanId: root.spanContext().spanId,
    childSpanId: child.spanContext().spanId,
    consumeSpanId: consume.spanContext().spanId,
  };
}
