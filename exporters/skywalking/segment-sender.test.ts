import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus, type Client } from '@grpc/grpc-js';
import type { ComponentSettings } from '../../core/component.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { RefType, SpanLayer, SpanType, type AssembledSegment, type SegmentObject } from '../../core/segments/segment-object.ts';
import { StandInOap, type DecodedSegment } from '../../test/support/stand-in-oap.ts';
import { createOapClient } from './oap-client.ts';
import { SegmentSender, type SegmentSenderOptions } from './segment-sender.ts';

const T0 = 1_700_000_000_123; // epoch ms above 2^32: int64 must carry it exactly

function settings(): ComponentSettings {
  return { id: 'skywalking', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

async function metricValue(
  metric: { get(): Promise<{ values: { value: number; labels: Record<string, string | number>; metricName?: string }[] }> },
  labels: Record<string, string>,
  metricName?: string,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => (metricName === undefined || v.metricName === metricName) && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Polls (no fixed sleep): resolves once `predicate` holds, fails after `timeoutMs`. */
async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A small but complete segment: entry with a cross-process ref, an exit with tags and a log. */
function segment(i: number): SegmentObject {
  const traceId = `trace-${i}`;
  return {
    traceId,
    traceSegmentId: `segment-${i}`,
    service: 'checkout',
    serviceInstance: 'checkout-7f9c@10.0.0.5',
    isSizeLimited: false,
    spans: [
      {
        spanId: 0, parentSpanId: -1, startTime: T0 + i, endTime: T0 + i + 250,
        refs: [{
          refType: RefType.CrossProcess, traceId, parentTraceSegmentId: `parent-${i}`, parentSpanId: 3,
          parentService: 'frontend', parentServiceInstance: 'frontend-1', parentEndpoint: 'GET /cart',
          networkAddressUsedAtPeer: 'checkout:8080',
        }],
        operationName: 'POST /checkout', peer: '', spanType: SpanType.Entry, spanLayer: SpanLayer.Http, componentId: 49,
        isError: false, tags: [{ key: 'http.method', value: 'POST' }, { key: 'http.status_code', value: '200' }], logs: [], skipAnalysis: false,
      },
      {
        spanId: 1, parentSpanId: 0, startTime: T0 + i + 10, endTime: T0 + i + 200, refs: [],
        operationName: 'SELECT orders', peer: 'mysql:3306', spanType: SpanType.Exit, spanLayer: SpanLayer.Database, componentId: 5,
        isError: true, tags: [{ key: 'db.type', value: 'mysql' }, { key: 'db.statement', value: 'SELECT * FROM orders' }],
        logs: [{ time: T0 + i + 150, data: [{ key: 'event', value: 'error' }, { key: 'message', value: 'timeout' }] }],
        skipAnalysis: true,
      },
    ],
  };
}

function assembled(segments: SegmentObject[]): AssembledSegment[] {
  return segments.map((s) => ({ segment: s, receivedAtMs: Date.now() }));
}

function range(n: number, from = 0): SegmentObject[] {
  return Array.from({ length: n }, (_, k) => segment(from + k));
}

/** Our camelCase SegmentObject in the stubs' toObject() naming (see stand-in-oap.ts). */
function stubShape(s: SegmentObject): DecodedSegment {
  const kv = (pairs: { key: string; value: string }[]) => pairs.map(({ key, value }) => ({ key, value }));
  return {
    traceid: s.traceId,
    tracesegmentid: s.traceSegmentId,
    spansList: s.spans.map((span) => ({
      spanid: span.spanId,
      parentspanid: span.parentSpanId,
      starttime: span.startTime,
      endtime: span.endTime,
      refsList: span.refs.map((r) => ({
        reftype: r.refType, traceid: r.traceId, parenttracesegmentid: r.parentTraceSegmentId, parentspanid: r.parentSpanId,
        parentservice: r.parentService, parentserviceinstance: r.parentServiceInstance, parentendpoint: r.parentEndpoint,
        networkaddressusedatpeer: r.networkAddressUsedAtPeer,
      })),
      operationname: span.operationName,
      peer: span.peer,
      spantype: span.spanType,
      spanlayer: span.spanLayer as number as DecodedSegment['spansList'][number]['spanlayer'],
      componentid: span.componentId,
      iserror: span.isError,
      tagsList: kv(span.tags),
      logsList: span.logs.map((l) => ({ time: l.time, dataList: kv(l.data) })),
      skipanalysis: span.skipAnalysis,
    })),
    service: s.service,
    serviceinstance: s.serviceInstance,
    issizelimited: s.isSizeLimited,
  };
}

const FAST_RETRY = { initialIntervalMs: 10, maxIntervalMs: 100 };

describe('SegmentSender', () => {
  const cleanups: (() => Promise<void> | void)[] = [];

  function rig(oap: StandInOap, options: Partial<SegmentSenderOptions> = {}): { sender: SegmentSender; client: Client; s: ComponentSettings } {
    const s = settings();
    const client = createOapClient({ endpoint: oap.endpoint, tls: { insecure: true }, reconnectBackoffMs: { initial: 10, max: 100 } });
    const sender = new SegmentSender(s, client, {
      token: '', timeoutMs: 2000, maxBatch: 500, queueSize: 10_000, retry: FAST_RETRY, ...options,
    });
    cleanups.push(async () => {
      await sender.shutdown(AbortSignal.abort());
      client.close();
    });
    return { sender, client, s };
  }

  async function oapFor(options: Parameters<typeof StandInOap.start>[0] = {}): Promise<StandInOap> {
    const oap = await StandInOap.start(options);
    cleanups.push(() => oap.stop());
    return oap;
  }

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('delivers segments that SkyWalking\'s own stubs decode field for field', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap);
    const sent = range(3);
    // GenAI (7) postdates the reference stubs; it must still travel as 7.
    sent[2]!.spans[1]!.spanLayer = SpanLayer.GenAI;
    sender.start();
    sender.enqueue(assembled(sent));

    await oap.waitForSegments(3);
    assert.deepEqual(oap.segments, sent.map(stubShape));
    assert.equal(oap.segments[0]!.spansList[0]!.parentspanid, -1);
    assert.equal(oap.segments[0]!.spansList[0]!.starttime, T0);
    assert.equal(oap.calls.collect, 1, 'one stream per batch');
    await eventually(() => sender.held === 0, 2000, 'the queue to empty');
    assert.equal(await metricValue(s.metrics.exporterSentSegments, { component: 'skywalking' }), 3);
    assert.equal(await metricValue(s.metrics.exporterSentSpans, { component: 'skywalking' }), 6);
    assert.equal(await metricValue(s.metrics.exportLatency, { component: 'skywalking' }, 'skybridge_exporter_receive_to_export_seconds_count'), 3);
    assert.equal(await metricValue(s.metrics.queueCapacity, { component: 'skywalking', queue: 'sending_queue' }), 10_000);
    assert.equal(await metricValue(s.metrics.queueSize, { component: 'skywalking', queue: 'sending_queue' }), 0);
  });

  it('opens one stream per max_batch segments', async () => {
    const oap = await oapFor();
    const { sender } = rig(oap, { maxBatch: 10 });
    sender.enqueue(assembled(range(25)));
    sender.start();

    await oap.waitForSegments(25);
    assert.equal(oap.calls.collect, 3);
    assert.deepEqual(oap.segments.map((x) => x.tracesegmentid), range(25).map((x) => x.traceSegmentId), 'order is kept');
  });

  it('sends the token as Authentication metadata on every stream', async () => {
    const oap = await oapFor({ token: 'secret-token' });
    const { sender } = rig(oap, { token: 'secret-token', maxBatch: 2 });
    sender.start();
    sender.enqueue(assembled(range(5)));

    await oap.waitForSegments(5);
    assert.deepEqual(oap.authentications, ['secret-token', 'secret-token', 'secret-token']);
  });

  it('delivers everything once an OAP that was down at start comes up', async () => {
    const oap = await oapFor();
    await oap.stop();
    const { sender, s } = rig(oap);
    sender.start();
    sender.enqueue(assembled(range(50)));

    await eventually(async () => (await metricValue(s.metrics.exporterSendFailedSegments, { reason: 'unavailable' })) >= 100, 5000, 'two failed attempts');
    assert.equal(sender.held, 50, 'nothing is dropped while the OAP is down');
    await oap.restart();

    await oap.waitForSegments(50);
    assert.equal(new Set(oap.segments.map((x) => x.tracesegmentid)).size, 50);
    assert.equal(await metricValue(s.metrics.droppedSpans, {}), 0);
  });

  it('retries a batch the OAP failed with a transient status', async () => {
    const oap = await oapFor();
    oap.failNext(2, GrpcStatus.UNAVAILABLE, { methods: ['collect'] });
    const { sender, s } = rig(oap);
    sender.start();
    sender.enqueue(assembled(range(4)));

    await oap.waitForSegments(4);
    await eventually(() => sender.held === 0, 2000, 'the answer to arrive');
    assert.equal(oap.calls.collect, 3);
    assert.equal(await metricValue(s.metrics.exporterSendFailedSegments, { reason: 'unavailable' }), 8);
    assert.equal(await metricValue(s.metrics.exporterSentSegments, {}), 4);
  });

  it('loses nothing when the OAP restarts while a batch waits for its answer (duplicates it instead)', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap, { maxBatch: 10 });
    oap.holdReplies();
    sender.start();
    sender.enqueue(assembled(range(100)));

    // The OAP has read the first batch but not answered: the sender cannot know it arrived.
    await oap.waitFor(() => oap.heldReplies === 1, 5000, () => 'a held batch');
    await oap.stop();
    oap.releaseReplies();
    await oap.restart();

    const ids = (): Set<string> => new Set(oap.segments.map((x) => x.tracesegmentid));
    await oap.waitFor(() => ids().size === 100, 5000, () => `100 distinct segments (got ${ids().size})`);
    await eventually(() => sender.held === 0, 2000, 'the queue to empty');
    const duplicates = oap.segments.length - ids().size;
    assert.equal(duplicates, 10, 'exactly the unanswered batch is sent twice');
    assert.equal(await metricValue(s.metrics.exporterSentSegments, {}), 100);
    assert.equal(await metricValue(s.metrics.droppedSpans, {}), 0);
  });

  it('drops a batch the OAP refuses with PERMISSION_DENIED and counts export_rejected', async () => {
    const oap = await oapFor({ token: 'right' });
    const { sender, s } = rig(oap, { token: 'wrong' });
    sender.start();
    sender.enqueue(assembled(range(3)));

    await eventually(async () => (await metricValue(s.metrics.droppedSpans, { reason: 'export_rejected' })) === 6, 5000, '6 rejected spans');
    assert.equal(oap.segments.length, 0);
    assert.equal(oap.calls.collect, 1, 'a permanent error is never retried');
    assert.equal(sender.held, 0);
    assert.equal(await metricValue(s.metrics.exporterSendFailedSegments, { reason: 'permission_denied' }), 3);
  });

  it('reports no capacity once queue_size segments are held and drops beyond twice that', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap, { queueSize: 4 });
    // Not started: nothing leaves the queue.
    sender.enqueue(assembled(range(3)));
    assert.equal(sender.hasCapacity(), true);
    sender.enqueue(assembled(range(1, 3)));
    assert.equal(sender.hasCapacity(), false);

    sender.enqueue(assembled(range(5, 4))); // 4 more fit (up to 2 x 4), 1 segment of 2 spans does not
    assert.equal(sender.held, 8);
    assert.equal(await metricValue(s.metrics.droppedSpans, { reason: 'queue_full' }), 2);
    assert.equal(await metricValue(s.metrics.queueSize, { queue: 'sending_queue' }), 8);
  });

  it('drains the queue on shutdown before resolving', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap, { maxBatch: 50 });
    sender.start();
    sender.enqueue(assembled(range(200)));

    await sender.shutdown(AbortSignal.timeout(5000));
    assert.equal(oap.segments.length, 200);
    assert.equal(sender.held, 0);
    assert.equal(await metricValue(s.metrics.droppedSpans, {}), 0);
  });

  it('counts what it could not send before the deadline as shutdown_timeout and resolves promptly', async () => {
    const oap = await oapFor();
    await oap.stop();
    // A long backoff must not hold shutdown past its deadline.
    const { sender, s } = rig(oap, { retry: { initialIntervalMs: 60_000, maxIntervalMs: 60_000 } });
    sender.start();
    sender.enqueue(assembled(range(5)));
    await eventually(async () => (await metricValue(s.metrics.exporterSendFailedSegments, {})) > 0, 5000, 'a failed attempt');

    const started = Date.now();
    await sender.shutdown(AbortSignal.timeout(300));
    assert.ok(Date.now() - started < 2000, `shutdown took ${Date.now() - started}ms`);
    assert.equal(sender.held, 0);
    assert.equal(await metricValue(s.metrics.droppedSpans, { reason: 'shutdown_timeout' }), 10);

    sender.enqueue(assembled(range(1, 99)));
    assert.equal(await metricValue(s.metrics.droppedSpans, { reason: 'shutdown_timeout' }), 12, 'segments after shutdown are counted, not kept');
  });
});
