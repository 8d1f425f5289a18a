import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SpanKind, StatusCode, type Span, type SpanBatch } from '../../core/model/span-batch.ts';
import { decodeJsonV1 } from './decode-json-v1.ts';
import { decodeJsonV2 } from './decode-json-v2.ts';
import { decodeProto3 } from './decode-proto3.ts';
import { decodeThriftV1 } from './decode-thrift.ts';
import { SharedSpanSplitter, serverSpanId } from './shared-span-splitter.ts';
import { encodeThriftSpans } from './testdata/thrift-binary-writer.ts';
import { encodeListOfSpans, idBytes } from './testdata/zipkin-proto.ts';
import { LocalAddressBook, parseTag, translateZipkinSpans } from './translate.ts';
import { SpanLayer } from '../../core/segments/segment-object.ts';
import { identifyService } from '../../core/segments/service-identity.ts';
import { translateSpan } from '../../core/segments/semconv/translate-span.ts';
import type { ZipkinSpan } from './zipkin-span.ts';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const translate = (spans: ZipkinSpan[], parseStringTags = false) => translateZipkinSpans(spans, { parseStringTags });
const allSpans = (b: SpanBatch): Span[] => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const only = (b: SpanBatch): Span => {
  const spans = allSpans(b);
  assert.equal(spans.length, 1);
  return spans[0]!;
};
const base = { traceId: '5af7183fb1d4cf5f', id: '352bff9a74ca9ad2', timestamp: 1556604172355737, duration: 1431 };

describe('translateZipkinSpans', () => {
  it('translates the zipkin-api example span (golden)', () => {
    const { spans } = decodeJsonV2(readFileSync(new URL('./testdata/v2-zipkin-api-example.json', import.meta.url)));
    const { batch, spanCount, rejected } = translate(spans);
    assert.deepEqual([spanCount, rejected], [1, 0]);
    assert.deepEqual(batch, {
      resourceSpans: [{
        resource: { attributes: { 'service.name': 'backend', 'host.ip': '192.168.99.1' }, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeSpans: [{
          scope: { name: '', version: '', attributes: {}, droppedAttributesCount: 0 },
          schemaUrl: '',
          spans: [{
            traceId: '00000000000000005af7183fb1d4cf5f',
            spanId: '352bff9a74ca9ad2',
            parentSpanId: '6b221d5bc9e6496c',
            traceState: '',
            flags: 1,
            name: 'get /api',
            kind: SpanKind.SERVER,
            startTimeUnixNano: 1556604172355737000n,
            endTimeUnixNano: 1556604172357168000n,
            attributes: {
              'http.method': 'GET',
              'http.path': '/api',
              'network.local.address': '192.168.99.1',
              'network.local.port': 3306,
              'client.address': '172.19.0.2',
              'client.port': 58648,
            },
            droppedAttributesCount: 0,
            events: [],
            droppedEventsCount: 0,
            links: [],
            droppedLinksCount: 0,
            status: { code: StatusCode.UNSET, message: '' },
          }],
        }],
      }],
    });
  });

  it('maps a 64-bit trace id to the same OTel trace id from every format', () => {
    const id64 = '5af7183fb1d4cf5f';
    const expected = `0000000000000000${id64}`;
    const fromJsonV2 = decodeJsonV2(json([{ ...base, traceId: id64 }])).spans;
    const fromJsonV2Wide = decodeJsonV2(json([{ ...base, traceId: expected }])).spans;
    const fromJsonV1 = decodeJsonV1(json([{ traceId: id64, id: base.id, timestamp: 1, duration: 1 }])).spans;
    const fromProto = decodeProto3(encodeListOfSpans({ spans: [{ trace_id: idBytes(id64), id: idBytes(base.id), timestamp: 1 }] })).spans;
    const fromThrift = decodeThriftV1(encodeThriftSpans([{ traceId: BigInt(`0x${id64}`), id: BigInt(`0x${base.id}`), timestamp: 1n }])).spans;
    for (const [name, spans] of Object.entries({ fromJsonV2, fromJsonV2Wide, fromJsonV1, fromProto, fromThrift })) {
      assert.equal(only(translate(spans).batch).traceId, expected, name);
    }
  });

  it('groups spans into one ResourceSpans per local service', () => {
    const spans = decodeJsonV2(json([
      { ...base, id: '1', localEndpoint: { serviceName: 'frontend' } },
      { ...base, id: '2', localEndpoint: { serviceName: 'orders' } },
      { ...base, id: '3', localEndpoint: { serviceName: 'frontend' } },
      { ...base, id: '4' },
    ])).spans;
    const { batch } = translate(spans);
    assert.deepEqual(
      batch.resourceSpans.map((rs) => [rs.resource.attributes['service.name'], rs.scopeSpans[0]!.spans.map((s) => s.spanId.slice(-1))]),
      [['frontend', ['1', '3']], ['orders', ['2']], [undefined, ['4']]],
    );
  });

  it('puts the local endpoint address in host.ip, lends it to the same service\'s address-less spans, and groups by it', () => {
    const spans = decodeJsonV2(json([
      { ...base, id: '1', kind: 'SERVER', localEndpoint: { serviceName: 'orders', ipv4: '10.0.0.1', port: 8080 } },
      { ...base, id: '2', kind: 'CLIENT', localEndpoint: { serviceName: 'orders' } },
      { ...base, id: '3', localEndpoint: { serviceName: 'orders', ipv4: '10.0.0.2' } },
      { ...base, id: '4', localEndpoint: { serviceName: 'v6', ipv4: '10.0.0.9', ipv6: '2001:db8::1' } },
      { ...base, id: '5', localEndpoint: { serviceName: 'lone' } },
    ])).spans;
    const { batch } = translate(spans);
    assert.deepEqual(
      batch.resourceSpans.map((rs) => [rs.resource.attributes['service.name'], rs.resource.attributes['host.ip'], rs.scopeSpans[0]!.spans.map((s) => s.spanId.slice(-1))]),
      // orders was seen at two addresses: its address-less span lends nothing.
      [['orders', '10.0.0.1', ['1']], ['orders', undefined, ['2']], ['orders', '10.0.0.2', ['3']], ['v6', ['10.0.0.9', '2001:db8::1'], ['4']], ['lone', undefined, ['5']]],
    );
    const one = decodeJsonV2(json([
      { ...base, id: '1', kind: 'CLIENT', localEndpoint: { serviceName: 'orders' } },
      { ...base, id: '2', kind: 'SERVER', localEndpoint: { serviceName: 'orders', ipv4: '10.0.0.1', port: 8080 } },
    ])).spans;
    const out = translate(one).batch;
    assert.equal(out.resourceSpans.length, 1, 'one process, one resource');
    assert.equal(out.resourceSpans[0]!.resource.attributes['host.ip'], '10.0.0.1');
    assert.equal(identifyService(out.resourceSpans[0]!.resource.attributes).serviceInstance, '10.0.0.1');
  });

  it('remembers addresses across requests through a LocalAddressBook', () => {
    const addresses = new LocalAddressBook();
    const first = decodeJsonV2(json([{ ...base, id: '1', kind: 'SERVER', localEndpoint: { serviceName: 'orders', ipv4: '10.0.0.1' } }])).spans;
    const later = decodeJsonV2(json([{ ...base, id: '2', kind: 'CLIENT', localEndpoint: { serviceName: 'orders' } }])).spans;
    translateZipkinSpans(first, { parseStringTags: false, addresses });
    assert.equal(translateZipkinSpans(later, { parseStringTags: false, addresses }).batch.resourceSpans[0]!.resource.attributes['host.ip'], '10.0.0.1');
    assert.equal(translateZipkinSpans(later, { parseStringTags: false }).batch.resourceSpans[0]!.resource.attributes['host.ip'], undefined);
  });

  it('names nameless spans from http.method and path, else kind and remote service', () => {
    const spans = allSpans(translate(decodeJsonV2(json([
      { ...base, id: '1', kind: 'SERVER', tags: { 'http.method': 'get', 'http.path': '/orders/1' } },
      { ...base, id: '2', kind: 'CLIENT', tags: { 'http.method': 'POST', 'http.url': 'http://x:8080/pay?x=1' } },
      { ...base, id: '3', kind: 'CLIENT', remoteEndpoint: { serviceName: 'payments' } },
      { ...base, id: '4', kind: 'SERVER', remoteEndpoint: { serviceName: 'frontend' } },
      { ...base, id: '5', kind: 'PRODUCER', remoteEndpoint: { serviceName: 'kafka' } },
      { ...base, id: '6', tags: { 'http.method': 'DELETE' } },
    ])).spans).batch);
    assert.deepEqual(spans.map((s) => s.name), ['GET /orders/1', 'POST /pay', 'client payments', 'server', 'producer kafka', 'DELETE']);
  });

  it('makes PRODUCER and CONSUMER spans messaging spans from Brave tags or the remote service', () => {
    const spans = allSpans(translate(decodeJsonV2(json([
      { ...base, id: '1', kind: 'PRODUCER', name: 'send', tags: { 'kafka.topic': 'orders' }, remoteEndpoint: { serviceName: 'kafka' } },
      { ...base, id: '2', kind: 'CONSUMER', name: 'next-message', tags: { 'rabbit.exchange': 'ex', 'rabbit.routing_key': 'rk', 'rabbit.queue': 'q' } },
      { ...base, id: '3', kind: 'PRODUCER', name: 'send', tags: { 'jms.queue': 'inbox' }, remoteEndpoint: { serviceName: 'activemq', ipv4: '10.0.0.5', port: 61616 } },
      { ...base, id: '4', kind: 'CONSUMER', name: 'poll', remoteEndpoint: { serviceName: 'NATS' } },
      { ...base, id: '5', kind: 'PRODUCER', name: 'send' },
      { ...base, id: '6', kind: 'PRODUCER', name: 'send', tags: { 'messaging.system': 'pulsar', 'messaging.destination': 't' } },
    ])).spans).batch);
    const pick = (s: Span) => [s.attributes['messaging.system'], s.attributes['messaging.destination.name'], s.attributes['messaging.rabbitmq.destination.routing_key']];
    assert.deepEqual(spans.map(pick), [
      ['kafka', 'orders', undefined],
      ['rabbitmq', 'ex', 'rk'],
      ['jms', 'inbox', undefined],
      ['nats', undefined, undefined],
      ['unknown', undefined, undefined],
      ['pulsar', undefined, undefined],
    ]);
    // The MQ family then names them the agents' way.
    const scope = { name: '', version: '', attributes: {}, droppedAttributesCount: 0 };
    const kafka = translateSpan(spans[0]!, scope);
    assert.deepEqual([kafka.layer, kafka.operationName, kafka.componentId, kafka.peer], [SpanLayer.MQ, 'Kafka/orders/Producer', 40, 'kafka']);
    const rabbit = translateSpan(spans[1]!, scope);
    assert.deepEqual([rabbit.layer, rabbit.operationName, rabbit.componentId], [SpanLayer.MQ, 'RabbitMQ/ex/rk/Consumer', 53]);
    assert.equal(translateSpan(spans[2]!, scope).peer, '10.0.0.5:61616');
    assert.equal(translateSpan(spans[4]!, scope).layer, SpanLayer.MQ);
  });

  it('maps kinds, with absent → INTERNAL, and names an unnamed span "unknown"', () => {
    const kinds = ['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER', undefined].map((kind, i) => ({ ...base, id: String(i + 1), kind }));
    const spans = allSpans(translate(decodeJsonV2(json(kinds)).spans).batch);
    assert.deepEqual(spans.map((s) => s.kind), [SpanKind.CLIENT, SpanKind.SERVER, SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL]);
    assert.equal(spans[4]!.name, 'unknown');
  });

  it('maps remote endpoints to server.* for clients, client.* for servers, and peer.service', () => {
    const remote = { serviceName: 'orders', ipv4: '10.0.0.2', port: 9090 };
    const [client, server, local] = allSpans(translate(decodeJsonV2(json([
      { ...base, id: '1', kind: 'CLIENT', remoteEndpoint: remote },
      { ...base, id: '2', kind: 'SERVER', remoteEndpoint: { ipv6: '2001:db8::1', port: 50000 } },
      { ...base, id: '3', remoteEndpoint: remote, tags: { 'peer.service': 'explicit' } },
    ])).spans).batch);
    assert.deepEqual(client!.attributes, { 'server.address': '10.0.0.2', 'server.port': 9090, 'peer.service': 'orders' });
    assert.deepEqual(server!.attributes, { 'client.address': '2001:db8::1', 'client.port': 50000 });
    assert.deepEqual(local!.attributes, { 'peer.service': 'explicit', 'network.peer.address': '10.0.0.2', 'network.peer.port': 9090 });
  });

  it('turns the error tag into status ERROR with its value as message', () => {
    const spans = allSpans(translate(decodeJsonV2(json([
      { ...base, id: '1', tags: { error: 'Connection refused', 'http.status_code': '503' } },
      { ...base, id: '2', tags: { error: 'true' } },
      { ...base, id: '3', tags: { 'otel.status_code': 'ERROR', error: 'boom' } },
      { ...base, id: '4', tags: { 'otel.status_code': 'OK' } },
    ])).spans).batch);
    assert.deepEqual(spans.map((s) => s.status), [
      { code: StatusCode.ERROR, message: 'Connection refused' },
      { code: StatusCode.ERROR, message: '' },
      { code: StatusCode.ERROR, message: 'boom' },
      { code: StatusCode.OK, message: '' },
    ]);
    assert.deepEqual(spans[0]!.attributes, { 'http.status_code': '503' });
    assert.deepEqual(spans[2]!.attributes, {});
  });

  it('moves resource tags from OTel exporters to the resource and otel.scope.* to the scope', () => {
    const { batch } = translate(decodeJsonV2(json([{
      ...base,
      localEndpoint: { serviceName: 'checkout' },
      tags: { 'service.name': 'checkout', 'telemetry.sdk.language': 'nodejs', 'host.name': 'box-1', 'otel.scope.name': 'manual', 'otel.scope.version': '1.0', 'w3c.tracestate': 'k=v', a: 'b' },
    }])).spans);
    const rs = batch.resourceSpans[0]!;
    assert.deepEqual(rs.resource.attributes, { 'service.name': 'checkout', 'telemetry.sdk.language': 'nodejs', 'host.name': 'box-1' });
    assert.deepEqual([rs.scopeSpans[0]!.scope.name, rs.scopeSpans[0]!.scope.version], ['manual', '1.0']);
    assert.deepEqual(rs.scopeSpans[0]!.spans[0]!.attributes, { a: 'b' });
    assert.equal(rs.scopeSpans[0]!.spans[0]!.traceState, 'k=v');
  });

  it('keeps annotations as events and debug as an attribute', () => {
    const s = only(translate(decodeJsonV2(json([{ ...base, debug: true, annotations: [{ timestamp: 1556604172356000, value: 'cache.miss' }] }])).spans).batch);
    assert.deepEqual(s.events, [{ timeUnixNano: 1556604172356000000n, name: 'cache.miss', attributes: {}, droppedAttributesCount: 0 }]);
    assert.equal(s.attributes['zipkin.debug'], true);
  });

  it('parses string tags into typed attributes only when asked', () => {
    const spans = decodeJsonV2(json([{ ...base, tags: { code: '200', ratio: '0.5', ok: 'true', big: '9223372036854775807', text: '12ab' } }])).spans;
    assert.deepEqual(only(translate(spans, false).batch).attributes, { code: '200', ratio: '0.5', ok: 'true', big: '9223372036854775807', text: '12ab' });
    assert.deepEqual(only(translate(spans, true).batch).attributes, { code: 200, ratio: 0.5, ok: true, big: 9223372036854775807n, text: '12ab' });
    // Beyond int64 the text still reads as a float, as in the Collector (strconv.ParseFloat).
    assert.equal(parseTag('99999999999999999999'), 1e20);
    assert.equal(parseTag('1e3'), 1000);
    assert.equal(parseTag('0x10'), '0x10');
  });

  it('starts a span without a timestamp at its first annotation, and leaves out one with neither', () => {
    const { batch, spanCount, rejected, rejectReason } = translate(decodeJsonV2(json([
      { traceId: base.traceId, id: '1', annotations: [{ timestamp: 20, value: 'b' }, { timestamp: 10, value: 'a' }] },
      { traceId: base.traceId, id: '2' },
    ])).spans);
    assert.deepEqual([spanCount, rejected], [1, 1]);
    assert.equal(only(batch).startTimeUnixNano, 10_000n);
    assert.match(rejectReason, /neither a timestamp nor an annotation/);
  });

  it('leaves out a span whose time cannot be a clock reading (timestamp 1e300, a duration past 2100), counted', () => {
    const { spanCount, rejected, rejectReason } = translate(decodeJsonV2(json([
      { traceId: base.traceId, id: '1', name: 'a', timestamp: 1e300, duration: 5 },
      { traceId: base.traceId, id: '2', name: 'b', timestamp: 1_700_000_000_000_000, duration: 1e300 },
      { traceId: base.traceId, id: '3', name: 'c', timestamp: 1_700_000_000_000_000, duration: 5 },
    ])).spans);
    assert.deepEqual([spanCount, rejected], [1, 2]);
    assert.match(rejectReason, /start time is after 2100-01-01/);
  });

  it('splits a B3 shared span pair into client and server spans without an id clash', () => {
    // Real zipkin-js output for one hop: the client span, and the server span that joined it.
    const spans = decodeJsonV2(json([
      { ...base, id: '00000000000000aa', parentId: '0000000000000001', kind: 'CLIENT', localEndpoint: { serviceName: 'frontend' } },
      { ...base, id: '00000000000000aa', parentId: '0000000000000001', kind: 'SERVER', shared: true, localEndpoint: { serviceName: 'orders' } },
      { ...base, id: '00000000000000bb', parentId: '00000000000000aa', kind: 'CLIENT', localEndpoint: { serviceName: 'orders' } },
    ])).spans;
    new SharedSpanSplitter().split(spans);
    const out = allSpans(translate(spans).batch);
    const serverId = serverSpanId(base.traceId, '00000000000000aa');
    assert.deepEqual(out.map((s) => [s.kind, s.spanId, s.parentSpanId]), [
      [SpanKind.CLIENT, '00000000000000aa', '0000000000000001'],
      [SpanKind.SERVER, serverId, '00000000000000aa'],
      [SpanKind.CLIENT, '00000000000000bb', serverId],
    ]);
    assert.equal(new Set(out.map((s) => s.spanId)).size, 3);
  });
});
