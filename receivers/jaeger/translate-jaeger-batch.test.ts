import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanFlags, SpanKind, StatusCode, type Attributes, type Span } from '../../core/model/span-batch.ts';
import { RefType, type JaegerBatch, type JaegerSpan } from './jaeger-batch.ts';
import { UNKNOWN_SERVICE, translateJaegerBatch } from './translate-jaeger-batch.ts';

const TRACE = '0000000000000000000000000000abcd';
const OTHER_TRACE = '1111111111111111000000000000abcd';

function jspan(p: Partial<JaegerSpan> = {}): JaegerSpan {
  return {
    traceId: TRACE,
    spanId: '00000000000000a1',
    parentSpanId: '',
    operationName: 'op',
    references: [],
    flags: 1,
    startTimeUnixNano: 1_000_000_000n,
    durationNano: 5_000n,
    tags: {},
    logs: [],
    process: undefined,
    ...p,
  };
}

function one(span: JaegerSpan, process = { serviceName: 'svc', tags: {} }): Span {
  const { batch } = translateJaegerBatch({ process, spans: [span] });
  return batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
}

describe('translateJaegerBatch', () => {
  it('maps the process to a resource: service.name, host.name, host.ip, client-uuid@hostname as the instance, other tags kept', () => {
    const batch: JaegerBatch = {
      process: { serviceName: 'orders', tags: { hostname: 'h1', ip: '10.0.0.7', 'jaeger.version': 'Node-3.19.0', 'client-uuid': 'u1' } },
      spans: [jspan()],
    };
    const { batch: out, spanCount } = translateJaegerBatch(batch);
    assert.equal(spanCount, 1);
    assert.deepEqual(out.resourceSpans[0]!.resource.attributes, {
      'service.name': 'orders',
      'host.name': 'h1',
      'host.ip': '10.0.0.7',
      'jaeger.version': 'Node-3.19.0',
      'client-uuid': 'u1',
      'service.instance.id': 'u1@h1',
    });
  });

  it('keeps two processes on one host apart by client-uuid; an explicit service.instance.id wins', () => {
    const instance = (tags: Attributes) =>
      translateJaegerBatch({ process: { serviceName: 'orders', tags }, spans: [jspan()] }).batch.resourceSpans[0]!.resource.attributes['service.instance.id'];
    assert.equal(instance({ hostname: 'h1', 'client-uuid': 'a' }), 'a@h1');
    assert.equal(instance({ hostname: 'h1', 'client-uuid': 'b' }), 'b@h1');
    assert.equal(instance({ ip: '10.0.0.7', 'client-uuid': 'c' }), 'c@10.0.0.7');
    assert.equal(instance({ 'client-uuid': 'd' }), 'd');
    assert.equal(instance({ hostname: 'h1', 'client-uuid': 'e', 'service.instance.id': 'explicit' }), 'explicit');
    assert.equal(instance({ hostname: 'h1' }), undefined);
  });

  it('renders an ip packed in an int (Java clients) as dotted IPv4, and names a nameless service', () => {
    const { batch } = translateJaegerBatch({ process: { serviceName: '', tags: { ip: 0x0a000107 | 0 } }, spans: [jspan()] });
    assert.equal(batch.resourceSpans[0]!.resource.attributes['host.ip'], '10.0.1.7');
    assert.equal(batch.resourceSpans[0]!.resource.attributes['service.name'], UNKNOWN_SERVICE);
  });

  it('groups proto spans by their own process, which wins over the batch\'s', () => {
    const own = { serviceName: 'sidecar', tags: {} };
    const { batch } = translateJaegerBatch({
      process: { serviceName: 'main', tags: {} },
      spans: [jspan({ spanId: '0000000000000001' }), jspan({ spanId: '0000000000000002', process: own }), jspan({ spanId: '0000000000000003' })],
    });
    assert.deepEqual(
      batch.resourceSpans.map((rs) => [rs.resource.attributes['service.name'], rs.scopeSpans[0]!.spans.map((s) => s.spanId)]),
      [['main', ['0000000000000001', '0000000000000003']], ['sidecar', ['0000000000000002']]],
    );
  });

  it('converts times, sampled flag and kind; drops the sampler tags', () => {
    const s = one(jspan({ flags: 3, tags: { 'span.kind': 'server', 'sampler.type': 'const', 'sampler.param': true, keep: 1 } }));
    assert.equal(s.startTimeUnixNano, 1_000_000_000n);
    assert.equal(s.endTimeUnixNano, 1_000_005_000n);
    assert.equal(s.flags, SpanFlags.SAMPLED, 'only the sampled bit; the debug bit and is-remote bits stay unset');
    assert.equal(s.kind, SpanKind.SERVER);
    assert.deepEqual(s.attributes, { keep: 1 });
    assert.equal(one(jspan({ flags: 0 })).flags, 0);
    for (const [tag, kind] of [['client', SpanKind.CLIENT], ['producer', SpanKind.PRODUCER], ['consumer', SpanKind.CONSUMER]] as const) {
      assert.equal(one(jspan({ tags: { 'span.kind': tag } })).kind, kind);
    }
    const unknown = one(jspan({ tags: { 'span.kind': 'sideways' } }));
    assert.equal(unknown.kind, SpanKind.INTERNAL);
    assert.equal(unknown.attributes['span.kind'], 'sideways', 'an unknown kind stays visible');
  });

  it('leaves the consumed tags out of a plain attribute record, keeping a tag named __proto__ as an own key', () => {
    const tags: Record<string, unknown> = { 'span.kind': 'client', keep: 'x' };
    Object.defineProperty(tags, '__proto__', { value: 'odd', enumerable: true, writable: true, configurable: true });
    const s = one(jspan({ tags: tags as JaegerSpan['tags'] }));
    assert.equal(s.kind, SpanKind.CLIENT);
    assert.deepEqual(Object.keys(s.attributes), ['keep', '__proto__']);
    assert.equal(Object.getPrototypeOf(s.attributes), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(s.attributes, '__proto__')?.value, 'odd');
    assert.equal(s.events.length, 0);
    assert.equal(s.links.length, 0);
  });

  it('keeps tag types as attribute types', () => {
    const tags = { s: 'x', d: 1.5, b: false, l: 7, big: 2n ** 62n, bin: Uint8Array.from([1]) };
    assert.deepEqual(one(jspan({ tags: { ...tags } })).attributes, tags);
  });

  it('sets status ERROR from error=true, and honours otel.status_code/description over it', () => {
    assert.deepEqual(one(jspan({ tags: { error: true } })).status, { code: StatusCode.ERROR, message: '' });
    assert.deepEqual(one(jspan({ tags: { error: 'true' } })).attributes, {});
    assert.deepEqual(one(jspan({ tags: { error: false } })).status, { code: StatusCode.UNSET, message: '' });
    const s = one(jspan({ tags: { 'otel.status_code': 'ERROR', 'otel.status_description': 'card declined', error: true } }));
    assert.deepEqual(s.status, { code: StatusCode.ERROR, message: 'card declined' });
    assert.deepEqual(s.attributes, {});
    assert.deepEqual(one(jspan({ tags: { 'otel.status_code': 'OK', error: true } })).status, { code: StatusCode.OK, message: '' });
  });

  it('maps peer.* to server.* on client spans and client.* on server spans', () => {
    const client = one(jspan({ tags: { 'span.kind': 'client', 'peer.hostname': 'orders', 'peer.port': 8080, 'peer.service': 'orders-svc' } }));
    assert.deepEqual(client.attributes, { 'server.address': 'orders', 'server.port': 8080, 'peer.service': 'orders-svc' });
    const byIp = one(jspan({ tags: { 'span.kind': 'producer', 'peer.ipv4': 0x7f000001, 'peer.port': '9092' } }));
    assert.deepEqual(byIp.attributes, { 'server.address': '127.0.0.1', 'network.peer.address': '127.0.0.1', 'server.port': 9092 });
    const server = one(jspan({ tags: { 'span.kind': 'server', 'peer.ipv6': '::1', 'peer.port': 51000 } }));
    assert.deepEqual(server.attributes, { 'client.address': '::1', 'network.peer.address': '::1', 'client.port': 51000 });
    const already = one(jspan({ tags: { 'span.kind': 'client', 'server.address': 'x', 'peer.hostname': 'y' } }));
    assert.deepEqual(already.attributes, { 'server.address': 'x', 'peer.hostname': 'y' }, 'existing OTel attributes win; nothing is lost');
  });

  it('takes the parent from parentSpanId, else the first CHILD_OF in the same trace; other refs become links', () => {
    const refs = [
      { refType: RefType.CHILD_OF, traceId: OTHER_TRACE, spanId: '00000000000000c0' }, // other trace: a link
      { refType: RefType.CHILD_OF, traceId: TRACE, spanId: '00000000000000c1' }, // the parent
      { refType: RefType.FOLLOWS_FROM, traceId: TRACE, spanId: '00000000000000f1' },
      { refType: RefType.CHILD_OF, traceId: TRACE, spanId: '00000000000000c2' }, // extra CHILD_OF: a link
    ];
    const s = one(jspan({ references: refs }));
    assert.equal(s.parentSpanId, '00000000000000c1');
    assert.deepEqual(
      s.links.map((l) => [l.traceId, l.spanId, l.attributes['jaeger.ref_type']]),
      [
        [OTHER_TRACE, '00000000000000c0', 'child_of'],
        [TRACE, '00000000000000f1', 'follows_from'],
        [TRACE, '00000000000000c2', 'child_of'],
      ],
    );

    // Thrift senders (jaeger-client) repeat parentSpanId as a CHILD_OF reference: not a link.
    const thrift = one(jspan({ parentSpanId: '00000000000000c1', references: refs.slice(1, 3) }));
    assert.equal(thrift.parentSpanId, '00000000000000c1');
    assert.deepEqual(thrift.links.map((l) => l.spanId), ['00000000000000f1']);

    const followsOnly = one(jspan({ references: [refs[2]!] }));
    assert.equal(followsOnly.parentSpanId, '', 'FOLLOWS_FROM alone is not a parent');
    assert.equal(followsOnly.links.length, 1);
  });

  it('turns logs into events named by their event field, else "log"', () => {
    const s = one(jspan({ logs: [{ timeUnixNano: 7n, fields: { event: 'retry', n: 2 } }, { timeUnixNano: 8n, fields: { message: 'hi' } }] }));
    assert.deepEqual(s.events, [
      { timeUnixNano: 7n, name: 'retry', attributes: { n: 2 }, droppedAttributesCount: 0 },
      { timeUnixNano: 8n, name: 'log', attributes: { message: 'hi' }, droppedAttributesCount: 0 },
    ]);
  });

  it('takes w3c.tracestate as the trace state', () => {
    const s = one(jspan({ tags: { 'w3c.tracestate': 'sw=1' } }));
    assert.equal(s.traceState, 'sw=1');
    assert.deepEqual(s.attributes, {});
  });

  it('leaves out and counts spans with missing or zero ids, and clamps a negative duration', () => {
    const { batch, spanCount, invalidSpans } = translateJaegerBatch({
      process: { serviceName: 'svc', tags: {} },
      spans: [
        jspan({ traceId: '00000000000000000000000000000000' }),
        jspan({ spanId: '0000000000000000' }),
        jspan({ traceId: '' }),
        jspan({ durationNano: -5n }),
      ],
    });
    assert.equal(spanCount, 1);
    assert.equal(invalidSpans, 3);
    const s = batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(s.endTimeUnixNano, s.startTimeUnixNano);
  });
});
