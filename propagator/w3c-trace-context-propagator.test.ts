import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from './w3c-trace-context-propagator.ts';

const TP = '00-12345678901234567890123456789012-1234567890123456-03';
const extract = (headers: Record<string, string>) => trace.getSpanContext(new W3CTraceContextPropagator().extract(ROOT_CONTEXT, headers, defaultTextMapGetter));

describe('W3CTraceContextPropagator (strict extraction)', () => {
  it('keeps the flags byte as received, the random-trace-id flag included', () => {
    const sc = extract({ traceparent: TP });
    assert.equal(sc?.traceId, '12345678901234567890123456789012');
    assert.equal(sc?.spanId, '1234567890123456');
    assert.equal(sc?.traceFlags, 0x03);
    assert.equal(sc?.isRemote, true);
  });

  it('keeps Level 2 keys such as foo@ that OpenTelemetry\'s TraceState drops', () => {
    const sc = extract({ traceparent: TP, tracestate: 'foo@=1,bar=2' });
    assert.equal(sc?.traceState?.serialize(), 'foo@=1,bar=2');
  });

  it('discards the whole tracestate when it is invalid or has more than 32 members, keeping the traceparent', () => {
    const members = Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',');
    assert.equal(extract({ traceparent: TP, tracestate: members })?.traceState, undefined);
    assert.equal(extract({ traceparent: TP, tracestate: 'a=1,b=x=y' })?.traceState, undefined);
    assert.equal(extract({ traceparent: TP, tracestate: 'a=1,b=x=y' })?.traceId, '12345678901234567890123456789012');
  });

  it('ignores an invalid traceparent and injects what the context holds', () => {
    assert.equal(extract({ traceparent: 'ff-12345678901234567890123456789012-1234567890123456-01' }), undefined);
    const p = new W3CTraceContextPropagator();
    const ctx = p.extract(ROOT_CONTEXT, { traceparent: TP, tracestate: 'foo@=1' }, defaultTextMapGetter);
    const out: Record<string, string> = {};
    p.inject(ctx, out, defaultTextMapSetter);
    assert.equal(out.traceparent, TP);
    assert.equal(out.tracestate, 'foo@=1');
  });
});
