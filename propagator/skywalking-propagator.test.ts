import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Context,
  type Span as ApiSpan,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import {
  decodeTracestateValue,
  otelSpanIdFromSkyWalking,
  otelTraceIdFromSkyWalking,
  type SkyWalkingParent,
} from '../core/propagation/skywalking-continuation.ts';
import { decodeSw8Correlation, encodeSw8Correlation } from '../core/propagation/sw8-correlation.ts';
import { decodeSw8, encodeSw8 } from '../core/propagation/sw8.ts';
import { SkyWalkingPropagator } from './skywalking-propagator.ts';
import { SkyWalkingSpanProcessor } from './skywalking-span-processor.ts';

const require = createRequire(import.meta.url);
const { ContextCarrier } = require('skywalking-backend-js/lib/trace/context/ContextCarrier.js');

const propagator = new SkyWalkingPropagator();
const agentParent: SkyWalkingParent = {
  sampled: true,
  traceId: '3d8bdf3f8a1b4e2aa57dc2c7f0dbb2a1.97.17000000000000001',
  parentSegmentId: 'a1b2c3d4e5f6.97.17000000000000002',
  parentSpanId: 2,
  parentService: 'frontend',
  parentServiceInstance: 'frontend-7f9c@host-a',
  parentEndpoint: 'GET:/checkout',
  addressUsedAtClient: 'orders:8080',
};

function tracer(processor: SkyWalkingSpanProcessor | null = new SkyWalkingSpanProcessor()) {
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'orders', 'service.instance.id': 'orders-1' }),
    spanProcessors: processor ? [processor] : [],
  }).getTracer('@opentelemetry/instrumentation-http');
}

/** An HTTP server span and the HTTP client span it makes, as instrumentation-http starts them. */
function serverAndClient(t = tracer(), parentContext: Context = ROOT_CONTEXT): { server: ApiSpan; client: ApiSpan; clientContext: Context } {
  const server = t.startSpan('POST', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/orders', 'http.route': '/orders' } }, parentContext);
  const local = t.startSpan('validate', {}, trace.setSpan(parentContext, server));
  const client = t.startSpan(
    'POST',
    { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'POST', 'url.full': 'http://payments:8080/pay', 'server.address': 'payments', 'server.port': 8080 } },
    trace.setSpan(parentContext, local),
  );
  return { server, client, clientContext: trace.setSpan(parentContext, client) };
}

function inject(ctx: Context, p: { inject: SkyWalkingPropagator['inject'] } = propagator): Record<string, string> {
  const carrier: Record<string, string> = {};
  p.inject(ctx, carrier, defaultTextMapSetter);
  return carrier;
}

function extract(headers: Record<string, string>, p: { extract: SkyWalkingPropagator['extract'] } = propagator, ctx: Context = ROOT_CONTEXT): Context {
  return p.extract(ctx, headers, defaultTextMapGetter);
}

describe('SkyWalkingPropagator.inject', () => {
  it('writes sw8 naming the segment, span number, service, endpoint and peer skybridge will emit', () => {
    const { server, client, clientContext } = serverAndClient();
    const sw = decodeSw8(inject(clientContext).sw8)!;
    const { traceId } = client.spanContext();
    assert.deepEqual(sw, {
      sampled: true,
      traceId,
      parentSegmentId: server.spanContext().spanId + traceId,
      parentSpanId: 2,
      parentService: 'orders',
      parentServiceInstance: 'orders-1',
      parentEndpoint: 'POST:/orders',
      addressUsedAtClient: 'payments:8080',
    });
  });

  it('writes a header the SkyWalking Node agent accepts', () => {
    const { clientContext } = serverAndClient();
    const carrier = ContextCarrier.from(inject(clientContext));
    assert.ok(carrier.isValid());
    assert.equal(carrier.spanId, 2);
    assert.equal(carrier.clientAddress, 'payments:8080');
  });

  it('passes the Java agent validity rules for an HTTP client span', () => {
    const { clientContext } = serverAndClient();
    assert.ok(decodeSw8(inject(clientContext).sw8, { strict: true }));
  });

  it('keeps the SkyWalking trace id of a trace continued from an agent', () => {
    const t = tracer();
    const continued = extract({ sw8: encodeSw8(agentParent) });
    const { client, clientContext } = serverAndClient(t, continued);
    const sw = decodeSw8(inject(clientContext).sw8)!;
    assert.equal(sw.traceId, agentParent.traceId, 'the agent trace id, not the OTel one');
    assert.equal(client.spanContext().traceId, otelTraceIdFromSkyWalking(agentParent.traceId));
    assert.ok(sw.parentSegmentId.endsWith(client.spanContext().traceId), 'segment ids stay derived from the OTel trace id');
  });

  it('writes no sw8 for a span the sampler dropped: it is never exported, so no segment exists', () => {
    const t = tracer();
    const unsampledParent = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceFlags: TraceFlags.NONE, isRemote: true });
    const span = t.startSpan('recorded but unsampled', { kind: SpanKind.CLIENT, attributes: { 'server.address': 'x', 'server.port': 1 } }, unsampledParent);
    // The default ParentBased sampler follows the unsampled parent: the span does not record.
    assert.equal(inject(trace.setSpan(ROOT_CONTEXT, span)).sw8, undefined);
  });

  it('writes no sw8 for spans the SkyWalkingSpanProcessor never saw start', () => {
    const { clientContext } = serverAndClient(tracer(null));
    assert.equal(inject(clientContext).sw8, undefined);
    assert.equal(inject(ROOT_CONTEXT).sw8, undefined);
  });

  it('writes baggage as sw8-correlation within SkyWalking limits', () => {
    const { clientContext } = serverAndClient();
    const baggage = propagation.createBaggage({ tenant: { value: 'acme' }, big: { value: 'x'.repeat(200) }, a: { value: '1' }, b: { value: '2' }, c: { value: '3' } });
    const headers = inject(propagation.setBaggage(clientContext, baggage));
    assert.deepEqual([...decodeSw8Correlation(headers['sw8-correlation'])], [['tenant', 'acme'], ['a', '1'], ['b', '2']]);
  });

  it('sends only the configured baggage keys, with configured limits', () => {
    const p = new SkyWalkingPropagator({ correlationKeys: ['b', 'tenant', 'missing'], correlation: { maxKeys: 5, maxValueBytes: 16 } });
    const baggage = propagation.createBaggage({ tenant: { value: 'acme' }, a: { value: '1' }, b: { value: '2' } });
    const headers = inject(propagation.setBaggage(ROOT_CONTEXT, baggage), p);
    assert.deepEqual([...decodeSw8Correlation(headers['sw8-correlation'], { maxKeys: 5, maxValueBytes: 16 })], [['b', '2'], ['tenant', 'acme']]);
  });

  it('lists the headers it writes', () => {
    assert.deepEqual(propagator.fields(), ['sw8', 'sw8-correlation']);
  });
});

describe('SkyWalkingPropagator.extract', () => {
  it('continues an sw8 trace with a remote parent derived from the SkyWalking ids', () => {
    const ctx = trace.getSpanContext(extract({ sw8: encodeSw8(agentParent) }))!;
    assert.equal(ctx.traceId, otelTraceIdFromSkyWalking(agentParent.traceId));
    assert.equal(ctx.spanId, otelSpanIdFromSkyWalking(agentParent.parentSegmentId, agentParent.parentSpanId));
    assert.equal(ctx.traceFlags, TraceFlags.SAMPLED);
    assert.equal(ctx.isRemote, true);
    assert.deepEqual(decodeTracestateValue(ctx.traceState!.get('sw8')!), agentParent);
  });

  it('takes the sampled flag from sw8 field 1', () => {
    const ctx = trace.getSpanContext(extract({ sw8: encodeSw8({ ...agentParent, sampled: false }) }))!;
    assert.equal(ctx.traceFlags, TraceFlags.NONE);
  });

  it('reads what the SkyWalking Node agent writes', () => {
    const { default: ID } = require('skywalking-backend-js/lib/trace/ID.js');
    const agent = new ContextCarrier(new ID('9f1c2b3a4d5e6f708192a3b4c5d6e7f8'), new ID('0123456789abcdef0123456789abcdef'), 1, 'frontend', 'fe-1', 'GET:/', '127.0.0.1:3001');
    const ctx = trace.getSpanContext(extract({ sw8: agent.value }))!;
    assert.equal(ctx.traceId, '9f1c2b3a4d5e6f708192a3b4c5d6e7f8', "the Node agent's hex trace id is kept as the OTel trace id");
  });

  it('uses the W3C ids when traceparent names the same trace, adding the sw8 entry to its tracestate', () => {
    const traceId = otelTraceIdFromSkyWalking(agentParent.traceId);
    const ctx = trace.getSpanContext(
      extract({ sw8: encodeSw8(agentParent), traceparent: `00-${traceId}-00f067aa0ba902b7-03`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' }),
    )!;
    assert.equal(ctx.traceId, traceId);
    assert.equal(ctx.spanId, '00f067aa0ba902b7');
    assert.equal(ctx.traceFlags, 0x03, 'flags as received, random bit included');
    assert.match(ctx.traceState!.serialize(), /^sw8=[^,]+,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE$/);
  });

  it('uses the sw8 ids when traceparent names another trace, dropping that trace`s tracestate', () => {
    const ctx = trace.getSpanContext(
      extract({ sw8: encodeSw8(agentParent), traceparent: `00-${'1'.repeat(32)}-00f067aa0ba902b7-01`, tracestate: 'rojo=00f067aa0ba902b7' }),
    )!;
    assert.equal(ctx.traceId, otelTraceIdFromSkyWalking(agentParent.traceId));
    assert.equal(ctx.traceState!.get('rojo'), undefined);
    assert.ok(ctx.traceState!.get('sw8'));
  });

  it('leaves the context alone without a valid sw8', () => {
    const before = trace.setSpanContext(ROOT_CONTEXT, { traceId: '2'.repeat(32), spanId: '3'.repeat(16), traceFlags: 1, isRemote: true });
    for (const sw8 of ['', 'garbage', '1-a-b-c']) assert.equal(extract({ sw8 }, propagator, before), before);
  });

  it('applies the Java rules in strict mode', () => {
    const loose = encodeSw8({ ...agentParent, addressUsedAtClient: '' });
    assert.ok(trace.getSpanContext(extract({ sw8: loose })));
    assert.equal(trace.getSpanContext(extract({ sw8: loose }, new SkyWalkingPropagator({ strict: true }))), undefined);
  });

  it('turns sw8-correlation into baggage, keeping W3C baggage for keys both carry', () => {
    const before = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ tenant: { value: 'from-w3c' } }));
    const ctx = extract({ 'sw8-correlation': encodeSw8Correlation([['tenant', 'from-sw'], ['region', 'eu']]) }, propagator, before);
    const baggage = propagation.getBaggage(ctx)!;
    assert.equal(baggage.getEntry('tenant')!.value, 'from-w3c');
    assert.equal(baggage.getEntry('region')!.value, 'eu');
  });
});

describe('SkyWalkingPropagator in a CompositePropagator after W3C trace context and baggage', () => {
  const composite = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator(), new SkyWalkingPropagator()] });

  it('continues an agent trace and calls on with traceparent, tracestate, baggage, sw8 and sw8-correlation', () => {
    const incoming = { sw8: encodeSw8(agentParent), 'sw8-correlation': encodeSw8Correlation([['tenant', 'acme']]), baggage: 'user=alice' };
    const ctx = extract(incoming, composite);
    const { server, client, clientContext } = serverAndClient(tracer(), ctx);
    const out = inject(clientContext, composite);

    const serverCtx = server.spanContext();
    assert.equal(serverCtx.traceId, otelTraceIdFromSkyWalking(agentParent.traceId));
    assert.equal(out.traceparent, `00-${serverCtx.traceId}-${client.spanContext().spanId}-01`);
    assert.match(out.tracestate!, /^sw8=/, 'the agent context travels on to OTel services');
    assert.deepEqual(decodeTracestateValue(out.tracestate!.slice(4)), agentParent);
    assert.equal(decodeSw8(out.sw8)!.traceId, agentParent.traceId);
    assert.match(out.baggage!, /user=alice/);
    assert.match(out.baggage!, /tenant=acme/);
    assert.deepEqual([...decodeSw8Correlation(out['sw8-correlation'])].sort(), [['tenant', 'acme'], ['user', 'alice']]);
  });

  it('lets W3C alone drive a trace that has no sw8', () => {
    const ctx = extract({ traceparent: `00-${'4'.repeat(32)}-${'5'.repeat(16)}-01`, tracestate: 'congo=t61rcWkgMzE' }, composite);
    const span = trace.getSpanContext(ctx)!;
    assert.equal(span.spanId, '5'.repeat(16));
    assert.equal(span.traceState!.serialize(), 'congo=t61rcWkgMzE');
  });
});
