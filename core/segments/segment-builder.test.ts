import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertOapRules, toDecodedShape } from '../../test/support/oap-rules.ts';
import { hexId, resourceSpans, span, threeServiceTrace } from '../../test/support/span-fixtures.ts';
import { RefType, SpanLayer, SpanType } from './segment-object.ts';
import { buildSegments, segmentIdFor, type HeldSpan } from './segment-builder.ts';
import { identifyService } from './service-identity.ts';
import { encodeTracestateValue, otelSpanIdFromSkyWalking, SW_SPAN_ID_ATTRIBUTE } from '../propagation/skywalking-continuation.ts';
import { SpanKind, type ResourceSpans } from '../model/span-batch.ts';

function held(...rss: ResourceSpans[]): HeldSpan[] {
  const out: HeldSpan[] = [];
  for (const rs of rss) {
    const identity = identifyService(rs.resource.attributes);
    for (const ss of rs.scopeSpans) for (const span of ss.spans) out.push({ span, scope: ss.scope, identity, receivedAtMs: 0 });
  }
  return out;
}

describe('buildSegments', () => {
  it('builds one segment per service with CrossProcess refs that name the parent Exit span', () => {
    const t = threeServiceTrace();
    const { segments, orphanRefs } = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders, t.batches.payments), () => undefined);
    assert.equal(orphanRefs, 0);
    const segs = segments.map((s) => s.segment);
    assert.deepEqual(segs.map((s) => s.service), ['frontend', 'orders', 'payments']);
    assertOapRules(segs.map(toDecodedShape));

    const [fe, ord, pay] = segs as [typeof segs[0], typeof segs[0], typeof segs[0]];
    assert.equal(fe.traceSegmentId, segmentIdFor(t.traceId, t.ids.feServer));
    assert.equal(fe.spans[0]!.spanType, SpanType.Entry);
    assert.equal(fe.spans[0]!.operationName, 'GET:/checkout');
    assert.equal(fe.spans[0]!.refs.length, 0);
    const feExit = fe.spans.find((s) => s.spanType === SpanType.Exit)!;
    assert.equal(feExit.peer, '127.0.0.1:3001');
    assert.equal(feExit.spanLayer, SpanLayer.Http);
    assert.equal(feExit.componentId, 2);

    const ref = ord.spans[0]!.refs[0]!;
    assert.equal(ord.spans[0]!.spanType, SpanType.Entry);
    assert.equal(ord.spans[0]!.operationName, 'POST:/orders');
    assert.deepEqual(ref, {
      refType: RefType.CrossProcess,
      traceId: t.traceId,
      parentTraceSegmentId: fe.traceSegmentId,
      parentSpanId: feExit.spanId,
      parentService: 'frontend',
      parentServiceInstance: 'frontend-1',
      parentEndpoint: 'GET:/checkout',
      networkAddressUsedAtPeer: '127.0.0.1:3001',
    });
    // orders: Entry, Local validate, Exit to payments — numbered by start time.
    assert.deepEqual(ord.spans.map((s) => [s.spanId, s.parentSpanId, s.spanType]), [[0, -1, 0], [1, 0, 2], [2, 0, 1]]);
    assert.equal(pay.spans[0]!.refs[0]!.networkAddressUsedAtPeer, 'localhost:3002');
    assert.equal(pay.spans[0]!.refs[0]!.parentEndpoint, 'POST:/orders');
    assert.equal(pay.spans[0]!.operationName, 'POST:/pay');
  });

  it('gives byte-identical segments whatever the arrival order', () => {
    const t = threeServiceTrace();
    const spans = held(t.batches.frontend, t.batches.orders, t.batches.payments);
    const a = buildSegments(t.traceId, spans, () => undefined).segments.map((s) => s.segment);
    const b = buildSegments(t.traceId, [...spans].reverse(), () => undefined).segments.map((s) => s.segment);
    assert.equal(JSON.stringify(b), JSON.stringify(a));
  });

  it('marks 5xx server spans and failing client calls as errors', () => {
    const t = threeServiceTrace({ paymentsStatus: 503 });
    const segs = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders, t.batches.payments), () => undefined).segments.map((s) => s.segment);
    assert.equal(segs[2]!.spans[0]!.isError, true);
    assert.equal(segs[1]!.spans.find((s) => s.spanType === SpanType.Exit)!.isError, true);
  });

  it('refs a late child through the placements of an already built parent', () => {
    const t = threeServiceTrace();
    const first = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders), () => undefined);
    const late = buildSegments(t.traceId, held(t.batches.payments), (_t, id) => first.placements.get(id));
    const ordersSeg = first.segments[1]!.segment;
    const ref = late.segments[0]!.segment.spans[0]!.refs[0]!;
    assert.equal(ref.parentTraceSegmentId, ordersSeg.traceSegmentId);
    assert.equal(ref.networkAddressUsedAtPeer, ordersSeg.spans.find((s) => s.spanType === SpanType.Exit)!.peer);
  });

  it('emits a segment without a ref (never an empty parentService) when the parent is unknown', () => {
    const t = threeServiceTrace();
    const r = buildSegments(t.traceId, held(t.batches.payments), () => undefined);
    assert.equal(r.orphanRefs, 1);
    assert.equal(r.segments[0]!.segment.spans[0]!.refs.length, 0);
  });

  it('turns a nested SERVER span with a local parent into a Local span in the same segment', () => {
    const t = threeServiceTrace();
    const inner = structuredClone(t.batches.orders.scopeSpans[0]!.spans[0]!);
    inner.spanId = 'abcdefabcdefabcd';
    inner.parentSpanId = t.ids.ordServer;
    inner.flags = 0x101;
    inner.startTimeUnixNano += 1n;
    t.batches.orders.scopeSpans[0]!.spans.push(inner);
    const segs = buildSegments(t.traceId, held(t.batches.orders), () => undefined).segments.map((s) => s.segment);
    assert.equal(segs.length, 1);
    assert.equal(segs[0]!.spans.filter((s) => s.spanType === SpanType.Entry).length, 1);
    assert.equal(segs[0]!.spans.find((s) => s.operationName === 'POST:/orders' && s.spanId !== 0)!.spanType, SpanType.Local);
  });

  it('puts work that starts after its parent ended into a CrossThread segment referring to the parent', () => {
    const t = threeServiceTrace();
    const ord = t.batches.orders.scopeSpans[0]!.spans;
    const server = ord[0]!;
    const async = structuredClone(ord[1]!);
    async.spanId = 'a5a5a5a5a5a5a5a5';
    async.name = 'send-receipt';
    async.startTimeUnixNano = server.endTimeUnixNano + 5_000_000n;
    async.endTimeUnixNano = async.startTimeUnixNano + 1_000_000n;
    ord.push(async);
    const segs = buildSegments(t.traceId, held(t.batches.orders), () => undefined).segments.map((s) => s.segment);
    assert.equal(segs.length, 2);
    assertOapRules(segs.map(toDecodedShape));
    const cont = segs.find((s) => s.spans[0]!.operationName === 'send-receipt')!;
    assert.equal(cont.spans[0]!.spanType, SpanType.Local);
    assert.deepEqual(cont.spans[0]!.refs.map((r) => [r.refType, r.parentTraceSegmentId, r.parentSpanId, r.parentService, r.networkAddressUsedAtPeer]),
      [[RefType.CrossThread, segs[0]!.traceSegmentId, 0, 'orders', '']]);
  });

  it('gives a batch consumer one ref per linked producer span it knows', () => {
    const t = threeServiceTrace();
    const producers = [1, 2].map((i) => ({
      ...t.batches.orders.scopeSpans[0]!.spans[2]!,
      spanId: `${i}`.repeat(16),
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders', 'server.address': 'kafka', 'server.port': 9092 },
      kind: 4 as const,
    }));
    const orders = structuredClone(t.batches.orders);
    orders.scopeSpans[0]!.spans.push(...producers.map((p) => ({ ...p, parentSpanId: t.ids.ordServer })));
    const consumer = structuredClone(t.batches.payments);
    const c = consumer.scopeSpans[0]!.spans[0]!;
    c.kind = 5;
    c.parentSpanId = '';
    c.flags = 0x101;
    c.attributes = { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders', 'messaging.consumer.group.name': 'pay' };
    c.links = producers.map((p) => ({ traceId: t.traceId, spanId: p.spanId, traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 0 }));
    const segs = buildSegments(t.traceId, held(orders, consumer), () => undefined).segments.map((s) => s.segment);
    assertOapRules(segs.map(toDecodedShape));
    const cons = segs.find((s) => s.service === 'payments')!;
    assert.equal(cons.spans[0]!.spanType, SpanType.Entry);
    assert.equal(cons.spans[0]!.spanLayer, SpanLayer.MQ);
    assert.equal(cons.spans[0]!.peer, 'kafka');
    const refs = cons.spans[0]!.refs;
    assert.equal(refs.length, 2);
    assert.ok(refs.every((r) => r.refType === RefType.CrossProcess && r.parentService === 'orders' && r.networkAddressUsedAtPeer === 'kafka:9092'));
  });

  it('gives each of several concurrent children of one parent its own linked segment (fan-out)', () => {
    const t = threeServiceTrace();
    const ordSpans = t.batches.orders.scopeSpans[0]!.spans;
    const payTemplate = t.batches.payments.scopeSpans[0]!.spans[0]!;
    const payments = structuredClone(t.batches.payments);
    payments.scopeSpans[0]!.spans = [];
    for (let i = 0; i < 3; i++) {
      const exit = { ...ordSpans[2]!, spanId: `c${i}`.padEnd(16, '0') };
      ordSpans.push(exit);
      payments.scopeSpans[0]!.spans.push({ ...payTemplate, spanId: `d${i}`.padEnd(16, '0'), parentSpanId: exit.spanId });
    }
    const segs = buildSegments(t.traceId, held(t.batches.orders, payments), () => undefined).segments.map((s) => s.segment);
    assertOapRules(segs.map(toDecodedShape));
    const ord = segs.find((s) => s.service === 'orders')!;
    const parents = segs.filter((s) => s.service === 'payments').map((s) => s.spans[0]!.refs[0]!.parentSpanId).sort();
    assert.equal(parents.length, 3, 'one payments segment per concurrent call');
    assert.deepEqual(parents, ord.spans.filter((s) => s.spanType === SpanType.Exit && ['c0', 'c1', 'c2'].some(() => true)).map((s) => s.spanId).filter((id) => parents.includes(id)).sort());
  });

  it('continues a SkyWalking agent trace: agent trace id, CrossProcess ref to the agent segment, promised span numbers kept', () => {
    const t = threeServiceTrace();
    const sw = { sampled: true, traceId: 'a1b2.37.16000000000010001', parentSegmentId: 'agentseg.37.1', parentSpanId: 2, parentService: 'gateway', parentServiceInstance: 'gw-1', parentEndpoint: '/api', addressUsedAtClient: 'orders:8080' };
    const orders = t.batches.orders.scopeSpans[0]!.spans;
    const state = `vendor=x,sw8=${encodeTracestateValue(sw)}`;
    for (const sp of orders) sp.traceState = state;
    orders[0]!.parentSpanId = otelSpanIdFromSkyWalking(sw.parentSegmentId, sw.parentSpanId);
    // The propagator promised span number 5 for the Exit to payments.
    orders[2]!.attributes[SW_SPAN_ID_ATTRIBUTE] = 5;
    const r = buildSegments(t.traceId, held(t.batches.orders, t.batches.payments), () => undefined);
    assert.equal(r.orphanRefs, 0);
    const segs = r.segments.map((s) => s.segment);
    assertOapRules(segs.map(toDecodedShape));
    assert.ok(segs.every((s) => s.traceId === sw.traceId));
    const ord = segs.find((s) => s.service === 'orders')!;
    assert.deepEqual(ord.spans[0]!.refs, [{
      refType: RefType.CrossProcess, traceId: sw.traceId, parentTraceSegmentId: 'agentseg.37.1', parentSpanId: 2,
      parentService: 'gateway', parentServiceInstance: 'gw-1', parentEndpoint: '/api', networkAddressUsedAtPeer: 'orders:8080',
    }]);
    const exit = ord.spans.find((s) => s.spanType === SpanType.Exit)!;
    assert.equal(exit.spanId, 5);
    assert.ok(!exit.tags.some((tg) => tg.key === SW_SPAN_ID_ATTRIBUTE));
    assert.deepEqual(ord.spans.map((s) => s.spanId), [0, 1, 5]);
    const payRef = segs.find((s) => s.service === 'payments')!.spans[0]!.refs[0]!;
    assert.equal(payRef.parentSpanId, 5);
    assert.equal(payRef.traceId, sw.traceId);
  });

  describe('segments over maxSegmentSpans', () => {
    /** A SERVER root with `width` INTERNAL children, each with `depth` CLIENT grandchildren. */
    function wideTrace(width: number, depth: number) {
      const traceId = hexId(16);
      const root = span({ traceId, spanId: hexId(8), name: 'GET /batch', kind: SpanKind.SERVER, flags: 0x301, attributes: { 'http.request.method': 'GET', 'http.route': '/batch' } });
      const spans = [root];
      for (let i = 0; i < width; i++) {
        const t = 1_700_000_000_000_000_000n + BigInt(i) * 1_000n;
        const child = span({ traceId, spanId: hexId(8), parentSpanId: root.spanId, name: `item ${i}`, kind: SpanKind.INTERNAL, startTimeUnixNano: t, endTimeUnixNano: t + 500n });
        spans.push(child);
        for (let j = 0; j < depth; j++) {
          spans.push(span({ traceId, spanId: hexId(8), parentSpanId: child.spanId, name: 'SELECT', kind: SpanKind.CLIENT, startTimeUnixNano: t + BigInt(j), endTimeUnixNano: t + BigInt(j) + 1n, attributes: { 'db.system': 'postgresql', 'server.address': 'db', 'server.port': 5432 } }));
        }
      }
      return { traceId, root, spans: held(resourceSpans('batch', spans)) };
    }

    it('splits a wide local tree into full segments headed by Local continuation spans, losing nothing', () => {
      const { traceId, root, spans } = wideTrace(1000, 2);
      const { segments, orphanRefs } = buildSegments(traceId, spans, () => undefined, { maxSegmentSpans: 300 });
      const segs = segments.map((s) => s.segment);
      assert.equal(orphanRefs, 0);
      assertOapRules(segs.map(toDecodedShape));
      for (const seg of segs) assert.ok(seg.spans.length <= 300, `${seg.spans.length} spans in one segment`);
      // 3,001 real spans, each exactly once, plus one Local head per continuation segment.
      const heads = segs.length - 1;
      assert.equal(segs.reduce((n, seg) => n + seg.spans.length, 0), 3_001 + heads);
      assert.ok(segs.length <= Math.ceil(3_001 / 299) + 2, `a wide fan-out gives few full segments, got ${segs.length}`);
      const [first, ...rest] = segs;
      assert.equal(first!.traceSegmentId, segmentIdFor(traceId, root.spanId));
      assert.equal(first!.spans[0]!.spanType, SpanType.Entry);
      for (const seg of rest) {
        const head = seg.spans[0]!;
        assert.equal(head.spanType, SpanType.Local, 'a continuation is never an Entry (no self-relation at the OAP)');
        assert.equal(head.refs.length, 1);
        assert.equal(head.refs[0]!.refType, RefType.CrossThread);
        const parent = segs.find((p) => p.traceSegmentId === head.refs[0]!.parentTraceSegmentId)!;
        assert.equal(parent.spans.find((s) => s.spanId === head.refs[0]!.parentSpanId)!.operationName, head.operationName);
      }
    });

    it('gives byte-identical segments for the same spans in any order', () => {
      const { traceId, spans } = wideTrace(400, 1);
      const once = buildSegments(traceId, spans, () => undefined, { maxSegmentSpans: 300 });
      const again = buildSegments(traceId, [...spans].reverse(), () => undefined, { maxSegmentSpans: 300 });
      assert.equal(JSON.stringify(again.segments), JSON.stringify(once.segments));
      assert.ok(once.segments.length > 1);
    });

    it('leaves a segment within the limit as it is', () => {
      const { traceId, spans } = wideTrace(99, 2);
      assert.equal(buildSegments(traceId, spans, () => undefined, { maxSegmentSpans: 300 }).segments.length, 1);
    });
  });

  describe('client spans without an address (issue #14)', () => {
    /** The three-service trace with every address attribute removed from the two CLIENT spans. */
    function addresslessClients() {
      const t = threeServiceTrace();
      const fe = t.batches.frontend.scopeSpans[0]!.spans.find((s) => s.spanId === t.ids.feClient)!;
      fe.attributes = { 'http.method': 'POST', 'http.target': '/orders' };
      const ord = t.batches.orders.scopeSpans[0]!.spans.find((s) => s.spanId === t.ids.ordClient)!;
      ord.attributes = { 'http.request.method': 'POST', 'url.path': '/pay' };
      return t;
    }

    it('makes an Exit whose peer is its server half\'s address, equal to the child ref\'s networkAddressUsedAtPeer', () => {
      const t = addresslessClients();
      const segs = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders, t.batches.payments), () => undefined).segments.map((s) => s.segment);
      assertOapRules(segs.map(toDecodedShape));
      const [fe, ord, pay] = segs as [typeof segs[0], typeof segs[0], typeof segs[0]];
      const feClient = fe.spans[1]!;
      assert.equal(feClient.spanType, SpanType.Exit);
      assert.equal(feClient.peer, '127.0.0.1:3001', 'orders SERVER net.host.name:net.host.port');
      const ordRef = ord.spans[0]!.refs[0]!;
      assert.equal(ordRef.parentSpanId, feClient.spanId);
      assert.equal(ordRef.networkAddressUsedAtPeer, feClient.peer);
      const ordClient = ord.spans.find((s) => s.operationName === '/pay')!;
      assert.equal(ordClient.spanType, SpanType.Exit);
      assert.equal(ordClient.peer, 'localhost:3002', 'payments SERVER server.address:server.port');
      assert.equal(pay.spans[0]!.refs[0]!.parentSpanId, ordClient.spanId);
      assert.equal(pay.spans[0]!.refs[0]!.networkAddressUsedAtPeer, 'localhost:3002');
    });

    it('falls back to the server half\'s service name when it records no address either', () => {
      const t = addresslessClients();
      t.batches.orders.scopeSpans[0]!.spans.find((s) => s.spanId === t.ids.ordServer)!.attributes = { 'http.method': 'POST', 'http.target': '/orders' };
      const segs = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders, t.batches.payments), () => undefined).segments.map((s) => s.segment);
      assertOapRules(segs.map(toDecodedShape));
      const feClient = segs[0]!.spans[1]!;
      assert.equal(feClient.spanType, SpanType.Exit);
      assert.equal(feClient.peer, 'orders');
      assert.equal(segs[1]!.spans[0]!.refs[0]!.networkAddressUsedAtPeer, 'orders');
    });

    it('keeps a client span without an address Local when its server half is not in the trace', () => {
      const t = addresslessClients();
      const segs = buildSegments(t.traceId, held(t.batches.frontend), () => undefined).segments.map((s) => s.segment);
      assert.equal(segs[0]!.spans[1]!.spanType, SpanType.Local);
      assert.equal(segs[0]!.spans[1]!.peer, '');
    });

    it('takes no peer from a SERVER child in the same process that is not remote', () => {
      const traceId = hexId(16);
      const [a, b] = [hexId(8), hexId(8)];
      const rs = resourceSpans('solo', [
        span({ traceId, spanId: a, name: 'call', kind: SpanKind.CLIENT }),
        span({ traceId, spanId: b, parentSpanId: a, name: 'handle', kind: SpanKind.SERVER, flags: 0x101, attributes: { 'server.address': 'x', 'server.port': 1 } }),
      ]);
      const segs = buildSegments(traceId, held(rs), () => undefined).segments.map((s) => s.segment);
      assert.equal(segs[0]!.spans[0]!.spanType, SpanType.Local);
    });

    it('makes an Exit of a gRPC client span that names only peer.service', () => {
      const traceId = hexId(16);
      const rs = resourceSpans('orders', [
        span({ traceId, spanId: hexId(8), name: 'inv.Inv/Reserve', kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'grpc', 'rpc.service': 'inv.Inv', 'rpc.method': 'Reserve', 'peer.service': 'inventory' } }),
      ]);
      const so = buildSegments(traceId, held(rs), () => undefined).segments[0]!.segment.spans[0]!;
      assert.equal(so.spanType, SpanType.Exit);
      assert.equal(so.peer, 'inventory');
    });
  });

  describe('span links (issue #14)', () => {
    it('drops links to the span itself and into its own segment, and counts them', () => {
      const t = threeServiceTrace();
      const link = (spanId: string) => ({ traceId: t.traceId, spanId, traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 0 });
      const pay = t.batches.payments.scopeSpans[0]!.spans[0]!;
      pay.links = [link(pay.spanId)];
      const ordServer = t.batches.orders.scopeSpans[0]!.spans.find((s) => s.spanId === t.ids.ordServer)!;
      ordServer.links = [link(t.ids.ordInternal)];
      const result = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders, t.batches.payments), () => undefined);
      const segs = result.segments.map((s) => s.segment);
      assertOapRules(segs.map(toDecodedShape));
      for (const seg of segs) {
        for (const r of seg.spans[0]!.refs) assert.notEqual(r.parentTraceSegmentId, seg.traceSegmentId, `${seg.service} refs its own segment`);
      }
      assert.equal(segs[2]!.spans[0]!.refs.length, 1, 'payments: its parent only');
      assert.deepEqual(segs[1]!.spans[0]!.refs.map((r) => [r.parentService, r.parentSpanId]), [['frontend', 1]], 'orders: its parent only');
      assert.equal(result.selfLinks, 2);
    });
  });

  describe('nested servers in one service (issue #14 class 4)', () => {
    /** orders' SERVER span with a SERVER child in the same instance, not remote, at the given offsets (ms) from the parent's start. */
    function nestedServer(startMs: bigint, endMs: bigint, flags = 0) {
      const t = threeServiceTrace();
      const ord = t.batches.orders.scopeSpans[0]!.spans;
      const outer = ord.find((s) => s.spanId === t.ids.ordServer)!;
      const inner = structuredClone(outer);
      inner.spanId = 'abcdefabcdef0001';
      inner.parentSpanId = outer.spanId;
      inner.flags = flags;
      inner.name = 'proxied';
      inner.attributes = { ...inner.attributes, 'http.route': '/inner', 'proxy.hop': 'yes' };
      inner.startTimeUnixNano = outer.startTimeUnixNano + startMs * 1_000_000n;
      inner.endTimeUnixNano = outer.startTimeUnixNano + endMs * 1_000_000n;
      ord.push(inner);
      return { t, outer, inner };
    }

    it('keeps a nested SERVER span (no flags) as a Local span in its parent\'s segment, with its name, tags, layer and component', () => {
      const { t } = nestedServer(1n, 20n);
      const segs = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders, t.batches.payments), () => undefined).segments.map((s) => s.segment);
      assertOapRules(segs.map(toDecodedShape));
      const ord = segs.filter((s) => s.service === 'orders');
      assert.equal(ord.length, 1);
      assert.equal(ord[0]!.spans.filter((s) => s.spanType === SpanType.Entry).length, 1);
      const inner = ord[0]!.spans.find((s) => s.operationName === 'POST:/inner')!;
      assert.equal(inner.spanType, SpanType.Local);
      assert.equal(inner.parentSpanId, 0);
      assert.equal(inner.spanLayer, SpanLayer.Http);
      assert.equal(inner.componentId, ord[0]!.spans[0]!.componentId);
      assert.ok(inner.tags.some((tg) => tg.key === 'proxy.hop' && tg.value === 'yes'));
    });

    it('heads the segment of a nested SERVER span that starts after its parent ended with a Local span, never an Entry with a CrossThread ref', () => {
      // The parent (ordServer) lasts 33 ms.
      const { t } = nestedServer(40n, 45n, 0x101);
      const segs = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders, t.batches.payments), () => undefined).segments.map((s) => s.segment);
      assertOapRules(segs.map(toDecodedShape));
      const ord = segs.filter((s) => s.service === 'orders');
      assert.equal(ord.length, 2);
      const cont = ord.find((s) => s.spans[0]!.operationName === 'POST:/inner')!;
      const head = cont.spans[0]!;
      assert.equal(head.spanType, SpanType.Local);
      assert.equal(head.spanLayer, SpanLayer.Http);
      assert.equal(head.peer, '');
      assert.deepEqual(head.refs.map((r) => [r.refType, r.parentTraceSegmentId, r.parentSpanId, r.parentService]),
        [[RefType.CrossThread, ord[0]!.traceSegmentId, 0, 'orders']]);
      assert.equal(segs.reduce((n, s) => n + s.spans.filter((sp) => sp.spanType === SpanType.Entry).length, 0), 3, 'one Entry per service call');
    });

    it('refs a late nested SERVER span CrossThread (not a CrossProcess self-loop) when its parent was flushed earlier', () => {
      const { t, inner } = nestedServer(1n, 3n);
      const ord = t.batches.orders.scopeSpans[0]!.spans;
      ord.splice(ord.indexOf(inner), 1);
      const first = buildSegments(t.traceId, held(t.batches.frontend, t.batches.orders, t.batches.payments), () => undefined);
      const lateRs = structuredClone(t.batches.orders);
      lateRs.scopeSpans[0]!.spans = [inner];
      const late = buildSegments(t.traceId, held(lateRs), (_t, id) => first.placements.get(id));
      const segs = [...first.segments, ...late.segments].map((s) => s.segment);
      assertOapRules(segs.map(toDecodedShape));
      const head = late.segments[0]!.segment.spans[0]!;
      assert.equal(head.spanType, SpanType.Local);
      assert.deepEqual(head.refs.map((r) => [r.refType, r.parentService, r.parentSpanId]), [[RefType.CrossThread, 'orders', 0]]);
    });

    it('treats a CONSUMER under a CONSUMER of the same instance alike', () => {
      const traceId = hexId(16);
      const [recv, proc, nested] = [hexId(8), hexId(8), hexId(8)];
      const mq = { 'messaging.system': 'kafka', 'messaging.destination.name': 'jobs', 'server.address': 'kafka', 'server.port': 9092 };
      const ms = (n: number) => 1_700_000_000_000_000_000n + BigInt(n) * 1_000_000n;
      const rs = resourceSpans('worker', [
        span({ traceId, spanId: recv, name: 'jobs receive', kind: SpanKind.CONSUMER, flags: 0x101, attributes: mq, startTimeUnixNano: ms(0), endTimeUnixNano: ms(10) }),
        // processed inside the receive span: Local in its segment
        span({ traceId, spanId: nested, parentSpanId: recv, name: 'jobs process', kind: SpanKind.CONSUMER, attributes: mq, startTimeUnixNano: ms(2), endTimeUnixNano: ms(8) }),
        // processed after the receive span ended: its own segment, Local head
        span({ traceId, spanId: proc, parentSpanId: recv, name: 'jobs process', kind: SpanKind.CONSUMER, flags: 0x101, attributes: mq, startTimeUnixNano: ms(20), endTimeUnixNano: ms(25) }),
      ]);
      const segs = buildSegments(traceId, held(rs), () => undefined).segments.map((s) => s.segment);
      assertOapRules(segs.map(toDecodedShape));
      assert.deepEqual(segs.map((s) => s.spans.map((sp) => [sp.spanType, sp.spanLayer, sp.refs.map((r) => r.refType)])), [
        [[SpanType.Entry, SpanLayer.MQ, []], [SpanType.Local, SpanLayer.MQ, []]],
        [[SpanType.Local, SpanLayer.MQ, [RefType.CrossThread]]],
      ]);
      assert.equal(segs[1]!.spans[0]!.peer, '');
    });
  });
});
