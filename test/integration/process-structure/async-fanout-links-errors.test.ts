/**
 * Process structure through the whole pipeline, decoded with skywalking-backend-js's stubs:
 * async continuation (CrossThread segment), fan-out (one parent, concurrent children in another
 * service), span links from a batch consumer (several refs), and exception events (error logs).
 * Spans go in as OTLP/HTTP protobuf, the way an SDK sends them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeExportTraceServiceRequest } from '../../../core/model/otlp-protobuf-encoder.ts';
import type { Component } from '../../../core/component.ts';
import { SpanKind, StatusCode, type SpanBatch } from '../../../core/model/span-batch.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';
import { hexId, resourceSpans, span } from '../../support/span-fixtures.ts';

const ENTRY = 0;
const LOCAL = 2;
const CROSS_PROCESS = 0;
const CROSS_THREAD = 1;
const MQ = 4;
const ms = (n: number) => 1_700_000_000_000_000_000n + BigInt(n) * 1_000_000n;

describe('process structure through skybridge', () => {
  let harness: Harness;
  let url = '';
  before(async () => {
    harness = await startHarness({ receiversYaml: '  otlp:\n    grpc: null\n    http: { endpoint: "127.0.0.1:0" }', receiverIds: ['otlp'], quietPeriod: '200ms' });
    url = `http://127.0.0.1:${harness.collector.service.component<Component & { httpPort: number }>('otlp')!.httpPort}/v1/traces`;
  });
  after(() => harness.stop());

  async function send(batch: SpanBatch) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(encodeExportTraceServiceRequest(batch)) });
    assert.equal(res.status, 200);
  }
  const segmentsOf = (traceId: string) => (harness.oap.segments as DecodedSegment[]).filter((s) => s.traceid === traceId);

  it('async work that starts after its parent ended becomes a CrossThread segment with a ref to the parent', async () => {
    const traceId = hexId(16);
    const [server, job] = [hexId(8), hexId(8)];
    await send({ resourceSpans: [resourceSpans('mailer', [
      span({ traceId, spanId: server, name: 'POST', kind: SpanKind.SERVER, startTimeUnixNano: ms(0), endTimeUnixNano: ms(10), attributes: { 'http.request.method': 'POST', 'http.route': '/signup' } }),
      span({ traceId, spanId: job, parentSpanId: server, name: 'send-welcome-mail', kind: SpanKind.INTERNAL, startTimeUnixNano: ms(25), endTimeUnixNano: ms(90) }),
    ])] });
    await harness.oap.waitFor(() => segmentsOf(traceId).length >= 2, 10_000, 'two segments');
    const segs = segmentsOf(traceId);
    assertOapRules(segs);
    const main = segs.find((s) => s.spansList[0]!.spantype === ENTRY)!;
    const cont = segs.find((s) => s.spansList[0]!.operationname === 'send-welcome-mail')!;
    assert.equal(cont.spansList[0]!.spantype, LOCAL);
    const ref = cont.spansList[0]!.refsList[0]!;
    assert.equal(ref.reftype, CROSS_THREAD);
    assert.equal(ref.parenttracesegmentid, main.tracesegmentid);
    assert.equal(ref.parentspanid, 0);
    assert.equal(ref.parentservice, 'mailer');
    assert.equal(ref.parentendpoint, 'POST:/signup');
  });

  it('fan-out: each concurrent call gets its own segment in the callee, each ref naming its own Exit span', async () => {
    const traceId = hexId(16);
    const root = hexId(8);
    const exits = [hexId(8), hexId(8), hexId(8)];
    const entries = [hexId(8), hexId(8), hexId(8)];
    await send({ resourceSpans: [
      resourceSpans('search', [
        span({ traceId, spanId: root, name: 'GET', kind: SpanKind.SERVER, startTimeUnixNano: ms(0), endTimeUnixNano: ms(50), attributes: { 'http.request.method': 'GET', 'http.route': '/search' } }),
        ...exits.map((id, i) => span({ traceId, spanId: id, parentSpanId: root, name: 'GET', kind: SpanKind.CLIENT, startTimeUnixNano: ms(2 + i), endTimeUnixNano: ms(40),
          attributes: { 'http.request.method': 'GET', 'url.full': `http://shard-${i}:9200/q`, 'server.address': `shard-${i}`, 'server.port': 9200 } })),
      ]),
      resourceSpans('index', entries.map((id, i) => span({ traceId, spanId: id, parentSpanId: exits[i]!, flags: 0x301, name: 'GET', kind: SpanKind.SERVER, startTimeUnixNano: ms(5 + i), endTimeUnixNano: ms(35),
        attributes: { 'http.request.method': 'GET', 'http.route': '/q' } }))),
    ] });
    await harness.oap.waitFor(() => segmentsOf(traceId).length >= 4, 10_000, 'four segments');
    const segs = segmentsOf(traceId);
    assertOapRules(segs);
    const caller = segs.find((s) => s.service === 'search')!;
    const callees = segs.filter((s) => s.service === 'index');
    assert.equal(callees.length, 3);
    const refs = callees.map((s) => s.spansList[0]!.refsList[0]!);
    assert.deepEqual(new Set(refs.map((r) => r.parentspanid)).size, 3, 'three distinct parent Exit spans');
    for (const r of refs) {
      const exit = caller.spansList.find((s) => s.spanid === r.parentspanid)!;
      assert.equal(r.reftype, CROSS_PROCESS);
      assert.equal(r.networkaddressusedatpeer, exit.peer);
    }
  });

  it('a batch consumer with links to several producer spans gets one ref per message', async () => {
    const producerTraces = [hexId(16), hexId(16)];
    const producerSpans = [hexId(8), hexId(8)];
    await send({ resourceSpans: [resourceSpans('checkout', producerTraces.map((traceId, i) =>
      span({ traceId, spanId: producerSpans[i]!, name: 'orders publish', kind: SpanKind.PRODUCER, startTimeUnixNano: ms(0), endTimeUnixNano: ms(2),
        attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders', 'server.address': 'kafka-1', 'server.port': 9092 } })))] });
    await harness.oap.waitFor(() => producerTraces.every((t) => segmentsOf(t).length >= 1), 10_000, 'producer segments');
    const consumerTrace = hexId(16);
    await send({ resourceSpans: [resourceSpans('billing', [
      span({ traceId: consumerTrace, spanId: hexId(8), name: 'orders process', kind: SpanKind.CONSUMER, startTimeUnixNano: ms(100), endTimeUnixNano: ms(120),
        attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders', 'messaging.consumer.group.name': 'billing' },
        links: producerTraces.map((traceId, i) => ({ traceId, spanId: producerSpans[i]!, traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 0x101 })) }),
    ])] });
    await harness.oap.waitFor(() => segmentsOf(consumerTrace).length >= 1, 10_000, 'consumer segment');
    const consumer = segmentsOf(consumerTrace)[0]!;
    assertOapRules([consumer, ...producerTraces.flatMap(segmentsOf)]);
    const entry = consumer.spansList[0]!;
    assert.equal(entry.spantype, ENTRY);
    assert.equal(entry.spanlayer, MQ);
    assert.equal(entry.operationname, 'Kafka/orders/Consumer/billing');
    assert.equal(entry.refsList.length, 2);
    for (const [i, ref] of entry.refsList.entries()) {
      const producer = segmentsOf(producerTraces[i]!)[0]!;
      assert.equal(ref.reftype, CROSS_PROCESS);
      assert.equal(ref.traceid, producerTraces[i]);
      assert.equal(ref.parenttracesegmentid, producer.tracesegmentid);
      assert.equal(ref.parentservice, 'checkout');
      assert.equal(ref.networkaddressusedatpeer, 'kafka-1:9092');
    }
  });

  it('exception events become error logs and the span is marked isError', async () => {
    const traceId = hexId(16);
    await send({ resourceSpans: [resourceSpans('payments', [
      span({ traceId, spanId: hexId(8), name: 'POST', kind: SpanKind.SERVER, startTimeUnixNano: ms(0), endTimeUnixNano: ms(20),
        status: { code: StatusCode.ERROR, message: 'card declined' },
        attributes: { 'http.request.method': 'POST', 'http.route': '/pay', 'http.response.status_code': 500 },
        events: [{ name: 'exception', timeUnixNano: ms(15), droppedAttributesCount: 0, attributes: { 'exception.type': 'CardError', 'exception.message': 'card declined', 'exception.stacktrace': 'CardError: card declined\n    at charge (pay.js:10:5)' } }] }),
    ])] });
    await harness.oap.waitFor(() => segmentsOf(traceId).length >= 1, 10_000, 'segment');
    const seg = segmentsOf(traceId)[0]!;
    assertOapRules([seg]);
    const s0 = seg.spansList[0]!;
    assert.equal(s0.iserror, true);
    assert.equal(s0.logsList.length, 1);
    assert.equal(s0.logsList[0]!.time, 1_700_000_000_015);
    assert.deepEqual(s0.logsList[0]!.dataList, [
      { key: 'event', value: 'error' }, { key: 'error.kind', value: 'CardError' }, { key: 'message', value: 'card declined' },
      { key: 'stack', value: 'CardError: card declined\n    at charge (pay.js:10:5)' },
    ]);
    assert.ok(s0.tagsList.some((t) => t.key === 'status.message' && t.value === 'card declined'));
  });
});
