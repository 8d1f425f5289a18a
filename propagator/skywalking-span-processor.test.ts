import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context, type Span as ApiSpan } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SW_SPAN_ID_ATTRIBUTE } from '../core/propagation/skywalking-continuation.ts';
import { buildSegments, type HeldSpan } from '../core/segments/segment-builder.ts';
import { identifyService } from '../core/segments/service-identity.ts';
import { decodeProtobufTraces } from '../receivers/otlp/decode-protobuf.ts';
import { SkyWalkingSpanProcessor, segmentPositionOf } from './skywalking-span-processor.ts';

function setup(serviceName = 'orders', processor = new SkyWalkingSpanProcessor()) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.instance.id': `${serviceName}-1` }),
    spanProcessors: [processor, new SimpleSpanProcessor(exporter)],
  });
  return { tracer: provider.getTracer('test'), exporter, processor };
}

const under = (parent: ApiSpan): Context => trace.setSpan(ROOT_CONTEXT, parent);
const numberOf = (span: ApiSpan | ReadableSpan): unknown => (span as ReadableSpan).attributes[SW_SPAN_ID_ATTRIBUTE];

/** What skybridge builds from these spans, through the OTLP wire format the SDK exporter uses. */
function segmentsFor(spans: ReadableSpan[]) {
  const { batch } = decodeProtobufTraces(ProtobufTraceSerializer.serializeRequest(spans)!);
  const held: HeldSpan[] = [];
  for (const rs of batch.resourceSpans) {
    const identity = identifyService(rs.resource.attributes);
    for (const ss of rs.scopeSpans) for (const span of ss.spans) held.push({ span, scope: ss.scope, identity, receivedAtMs: 0 });
  }
  return buildSegments(held[0]!.span.traceId, held, () => undefined);
}

describe('SkyWalkingSpanProcessor', () => {
  it('numbers the local root 0 and the rest of its segment 1, 2, ... in start order', () => {
    const { tracer } = setup();
    const root = tracer.startSpan('GET /orders', { kind: SpanKind.SERVER });
    const a = tracer.startSpan('db', { kind: SpanKind.CLIENT }, under(root));
    const b = tracer.startSpan('work', {}, under(root));
    const c = tracer.startSpan('call payments', { kind: SpanKind.CLIENT }, under(b));
    assert.deepEqual([root, a, b, c].map(numberOf), [0, 1, 2, 3]);
    assert.equal(segmentPositionOf(c)!.root.spanId, root.spanContext().spanId);
    assert.equal(segmentPositionOf(c)!.root.span, root);
  });

  it('starts a new segment for a span with no parent or a remote parent', () => {
    const { tracer } = setup();
    const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const entry = tracer.startSpan('GET /x', { kind: SpanKind.SERVER }, remote);
    const child = tracer.startSpan('child', {}, trace.setSpan(remote, entry));
    assert.deepEqual([entry, child].map(numberOf), [0, 1]);
    assert.equal(segmentPositionOf(entry)!.root.spanId, entry.spanContext().spanId);
    assert.equal(numberOf(tracer.startSpan('another root')), 0);
  });

  it('starts a new segment for a span that starts after its parent ended', () => {
    const { tracer } = setup();
    const root = tracer.startSpan('job', { startTime: [1000, 0] });
    root.end([1001, 0]);
    const late = tracer.startSpan('callback', { startTime: [1002, 0] }, under(root));
    assert.equal(numberOf(late), 0);
    // ...but one started (explicitly) inside its ended parent's lifetime joins its segment.
    const inside = tracer.startSpan('recorded late', { startTime: [1000, 500] }, under(root));
    assert.equal(numberOf(inside), 1);
  });

  it('starts a new segment when the parent belongs to another service instance', () => {
    const processor = new SkyWalkingSpanProcessor();
    const frontend = setup('frontend', processor).tracer;
    const backend = setup('backend', processor).tracer;
    const parent = frontend.startSpan('call', { kind: SpanKind.CLIENT });
    const child = backend.startSpan('handle', { kind: SpanKind.SERVER }, under(parent));
    assert.equal(numberOf(child), 0);
  });

  it('starts a new segment when the parent was never seen (not recording, or another processor)', () => {
    const { tracer } = setup();
    const foreign = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: TraceFlags.SAMPLED, isRemote: false });
    assert.equal(numberOf(tracer.startSpan('orphan', {}, foreign)), 0);
  });

  it('forgets ended spans beyond its bound', () => {
    const { tracer } = setup('orders', new SkyWalkingSpanProcessor({ recentlyEndedSpans: 1 }));
    const first = tracer.startSpan('first', { startTime: [10, 0] });
    first.end([20, 0]);
    tracer.startSpan('second', { startTime: [10, 0] }).end([20, 0]);
    assert.equal(numberOf(tracer.startSpan('inside first', { startTime: [15, 0] }, under(first))), 0, 'first was forgotten');
  });

  it('promises the segments and span numbers the assembler builds from the exported spans', () => {
    const { tracer, exporter } = setup();
    const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'e'.repeat(32), spanId: 'f'.repeat(16), traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const at = (ms: number): [number, number] => [1_700_000_000, ms * 1_000_000];
    const entry = tracer.startSpan('GET /orders', { kind: SpanKind.SERVER, startTime: at(0), attributes: { 'http.request.method': 'GET', 'url.path': '/orders' } }, remote);
    const local = tracer.startSpan('validate', { startTime: at(1) }, trace.setSpan(remote, entry));
    const exit = tracer.startSpan('POST', { kind: SpanKind.CLIENT, startTime: at(2), attributes: { 'http.request.method': 'POST', 'server.address': 'payments', 'server.port': 8080 } }, trace.setSpan(remote, local));
    const exit2 = tracer.startSpan('SELECT', { kind: SpanKind.CLIENT, startTime: at(3), attributes: { 'db.system': 'mysql', 'server.address': 'db', 'server.port': 3306 } }, trace.setSpan(remote, entry));
    exit.end(at(10));
    exit2.end(at(11));
    local.end(at(12));
    entry.end(at(20));
    const later = tracer.startSpan('after response', { startTime: at(21) }, trace.setSpan(remote, entry));
    later.end(at(22));

    const result = segmentsFor(exporter.getFinishedSpans());
    assert.equal(result.segments.length, 2, 'the span that started after its parent ended has its own segment');
    assertPromisesKept(result, [entry, local, exit, exit2, later]);
  });

  it('promises the numbers of spans that start in the same instant (the assembler must honour skybridge.sw.span_id)', () => {
    // SDK start times are often the same millisecond. Span ids here decrease, so ordering by
    // (start time, span id) would number these spans backwards; only the attribute gives the
    // promised numbers.
    let next = 0xffff;
    const processor = new SkyWalkingSpanProcessor();
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'orders', 'service.instance.id': 'orders-1' }),
      spanProcessors: [processor, new SimpleSpanProcessor(exporter)],
      idGenerator: { generateTraceId: () => '1'.repeat(32), generateSpanId: () => (next--).toString(16).padStart(16, '0') },
    });
    const tracer = provider.getTracer('test');
    const at: [number, number] = [1_700_000_000, 0];
    const root = tracer.startSpan('root', { kind: SpanKind.SERVER, startTime: at });
    const children = [1, 2, 3].map((i) => tracer.startSpan(`call ${i}`, { kind: SpanKind.CLIENT, startTime: at, attributes: { 'server.address': `svc${i}`, 'server.port': 80 } }, under(root)));
    for (const c of children) c.end([1_700_000_001, 0]);
    root.end([1_700_000_002, 0]);
    const result = segmentsFor(exporter.getFinishedSpans());
    assert.equal(result.segments.length, 1);
    assertPromisesKept(result, [root, ...children]);
  });
});

/** Every span sits in the segment and at the number the processor promised for it. */
function assertPromisesKept(result: ReturnType<typeof segmentsFor>, spans: ApiSpan[]): void {
  const promised = new Map<string, string>();
  const built = new Map<string, string>();
  for (const s of spans) {
    const { spanId, traceId } = s.spanContext();
    const position = segmentPositionOf(s)!;
    promised.set(spanId, `${position.root.spanId + traceId}#${position.spanNumber}`);
    const placement = result.placements.get(spanId)!;
    built.set(spanId, `${placement.segmentId}#${placement.spanId}`);
  }
  assert.deepEqual(built, promised);
}
