/**
 * A producer with only W3C headers joins a trace an OpenTelemetry SDK service started: the OTel
 * service exports its spans over OTLP, the producer POSTs its span to the `w3c` receiver with the
 * traceparent the OTel client span sent, and the stand-in OAP (decoding with SkyWalking's stubs)
 * receives the producer's segment with a CrossProcess ref to the OTel service's Exit span.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Component } from '../../../core/component.ts';
import type { W3cReceiver } from '../../../receivers/w3c/receiver.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';

const ENTRY = 0;
const EXIT = 1;
const CROSS_PROCESS = 0;

describe('w3c receiver → skybridge → OAP, joining an OTel SDK trace', () => {
  let harness: Harness;

  before(async () => {
    harness = await startHarness({
      receiversYaml: '  otlp:\n    grpc: null\n    http: { endpoint: "127.0.0.1:0" }\n  w3c:\n    endpoint: "127.0.0.1:0"',
      receiverIds: ['otlp', 'w3c'],
    });
  });
  after(() => harness.stop());

  it('emits the W3C producer`s segment with a ref to the OTel caller`s Exit span', async () => {
    const otlp = harness.collector.service.component<Component & { httpPort: number }>('otlp')!;
    const w3c = harness.collector.service.component<W3cReceiver>('w3c')!;
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'storefront', 'service.instance.id': 'storefront-1' }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `http://127.0.0.1:${otlp.httpPort}/v1/traces` }))],
    });
    const tracer = provider.getTracer('@opentelemetry/instrumentation-http');
    const server = tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'http.route': '/checkout', 'url.path': '/checkout' } });
    const client = tracer.startSpan(
      'GET',
      { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': 'http://edge-proxy:8080/cart', 'server.address': 'edge-proxy', 'server.port': 8080 } },
      trace.setSpan(ROOT_CONTEXT, server),
    );
    const { traceId, spanId: clientSpanId } = client.spanContext();

    // The proxy saw the request carrying the client's traceparent and reports its own span.
    const answer = await fetch(`http://127.0.0.1:${w3c.port}/v1/w3c/spans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${clientSpanId}-01`, baggage: 'tenant=acme' },
      body: JSON.stringify({
        name: 'GET /cart',
        kind: 'server',
        service: 'edge-proxy',
        instance: 'edge-proxy-1',
        start: new Date().toISOString(),
        end: new Date(Date.now() + 5).toISOString(),
        attributes: { 'http.request.method': 'GET', 'url.path': '/cart', 'http.response.status_code': 200 },
      }),
    });
    assert.equal(answer.status, 202);
    client.end();
    server.end();
    await provider.forceFlush();
    await provider.shutdown();

    await harness.oap.waitForSegments(2, 10_000);
    const segments = harness.oap.segments as DecodedSegment[];
    assertOapRules(segments);
    const storefront = segments.find((s) => s.service === 'storefront')!;
    const proxy = segments.find((s) => s.service === 'edge-proxy')!;
    assert.ok(storefront && proxy, 'one segment per service');
    assert.equal(proxy.traceid, storefront.traceid, 'one trace');
    assert.equal(proxy.serviceinstance, 'edge-proxy-1');

    const exit = storefront.spansList.find((s) => s.spantype === EXIT)!;
    assert.equal(exit.peer, 'edge-proxy:8080');
    const entry = proxy.spansList[0]!;
    assert.equal(entry.spantype, ENTRY);
    assert.equal(entry.operationname, 'GET:/cart');
    assert.ok(entry.tagsList.some((t) => t.key === 'baggage.tenant' && t.value === 'acme'), 'baggage became a tag');
    assert.equal(entry.refsList.length, 1);
    const ref = entry.refsList[0]!;
    assert.equal(ref.reftype, CROSS_PROCESS);
    assert.equal(ref.parenttracesegmentid, storefront.tracesegmentid);
    assert.equal(ref.parentspanid, exit.spanid);
    assert.equal(ref.parentservice, 'storefront');
    assert.equal(ref.parentserviceinstance, 'storefront-1');
    assert.equal(ref.parentendpoint, 'GET:/checkout');
    assert.equal(ref.networkaddressusedatpeer, exit.peer);
  });
});
