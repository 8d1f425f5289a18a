import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultTextMapSetter, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { RandomTraceIdFlagProcessor } from './random-trace-id-flag-processor.ts';

const w3c = new W3CTraceContextPropagator();
const TRACE = '12345678901234567890123456789012';

function traceparentOf(span: ReturnType<ReturnType<BasicTracerProvider['getTracer']>['startSpan']>): string {
  const carrier: Record<string, string> = {};
  w3c.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent!;
}

describe('RandomTraceIdFlagProcessor', () => {
  const withProcessor = (markNewTraces = false) => new BasicTracerProvider({ spanProcessors: [new RandomTraceIdFlagProcessor({ markNewTraces })] }).getTracer('t');

  it('keeps the random-trace-id flag of the parent for the same trace (W3C harness test_propagates_random_flag)', () => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: '1234567890123456', traceFlags: 0x03, isRemote: true });
    const span = withProcessor().startSpan('child', {}, parent);
    assert.match(traceparentOf(span), new RegExp(`^00-${TRACE}-[0-9a-f]{16}-03$`));
  });

  it('leaves the flag unset when the parent did not set it', () => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: '1234567890123456', traceFlags: 0x01, isRemote: true });
    assert.match(traceparentOf(withProcessor(true).startSpan('child', {}, parent)), /-01$/);
  });

  it('sets it on new traces only when asked', () => {
    assert.match(traceparentOf(withProcessor(false).startSpan('root')), /-01$/);
    assert.match(traceparentOf(withProcessor(true).startSpan('root')), /-03$/);
  });

  it('is lost without the processor (why it exists)', () => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: '1234567890123456', traceFlags: 0x03, isRemote: true });
    const span = new BasicTracerProvider().getTracer('t').startSpan('child', {}, parent);
    assert.match(traceparentOf(span), /-01$/);
  });
});
