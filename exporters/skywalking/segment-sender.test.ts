import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus, type Client } from '@grpc/grpc-js';
import { AdmissionLedger } from '../../core/admission/admission-ledger.ts';
import type { ComponentSettings } from '../../core/component.ts';
import { redisRetrySchema } from '../../core/queue/durable-retry/config.ts';
import { DeadLetterQueue } from '../../core/queue/durable-retry/dead-letters.ts';
import type { DeliveryReceipt } from '../../core/segments/after-export-acks.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { RefType, SpanLayer, SpanType, type AssembledSegment, type SegmentObject } from '../../core/segments/segment-object.ts';
import { redisScratch } from '../../test/support/redis-scratch.ts';
import { StandInOap, type DecodedSegment } from '../../test/support/stand-in-oap.ts';
import { encodeSegment } from './codec.ts';
import { collectSender } from './collect-stream.ts';
import { createOapClient } from './oap-client.ts';
import { SegmentSender, type SegmentSenderOptions } from './segment-sender.ts';

const T0 = 1_700_000_000_123; // epoch ms above 2^32: int64 must carry it exactly
const ACCOUNT = 'skywalking/sending_queue';

function settings(): ComponentSettings & { admission: AdmissionLedger } {
  return { id: 'skywalking', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics(), admission: AdmissionLedger.unbounded() };
}

/** What the sender holds on the admission ledger. */
function onLedger(s: { admission: AdmissionLedger }): { bytes: number; spans: number } {
  return s.admission.holdings()[ACCOUNT] ?? { bytes: 0, spans: 0 };
}

/** A receipt (ack: after_export) that counts how its segments were settled. */
function countingReceipt(): { receipt: DeliveryReceipt; counts: { done: number; lost: number } } {
  const counts = { done: 0, lost: 0 };
  return { receipt: { done: () => void (counts.done += 1), lost: () => void (counts.lost += 1) }, counts };
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

/** segment(i) carrying a tag of `bytes` bytes, so it encodes to more than that. */
function bigSegment(i: number, bytes: number): SegmentObject {
  const s = segment(i);
  s.spans[0]!.tags.push({ key: 'http.request.body', value: 'x'.repeat(bytes) });
  return s;
}

function ids(segments: readonly { tracesegmentid: string }[]): string[] {
  return [...new Set(segments.map((x) => x.tracesegmentid))].sort();
}

function idsOf(segments: readonly SegmentObject[]): string[] {
  return segments.map((x) => x.traceSegmentId).sort();
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

  function rig(oap: StandInOap, options: Partial<SegmentSenderOptions> = {}): { sender: SegmentSender; client: Client; s: ReturnType<typeof settings> } {
    const s = settings();
    const client = createOapClient({ endpoint: oap.endpoint, tls: { insecure: true }, reconnectBackoffMs: { initial: 10, max: 100 } });
    const sender = new SegmentSender(s, client, {
      token: '', timeoutMs: 2000, maxBatch: 500, numConsumers: 4, queueSize: 10_000, maxSegmentSize: 4 * 1024 * 1024, retry: FAST_RETRY, ...options,
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
    // One consumer: its streams follow each other, so the order of assembly is kept on the wire.
    const { sender } = rig(oap, { maxBatch: 10, numConsumers: 1 });
    sender.enqueue(assembled(range(25)));
    sender.start();

    await oap.waitForSegments(25);
    assert.equal(oap.calls.collect, 3);
    assert.deepEqual(oap.segments.map((x) => x.tracesegmentid), range(25).map((x) => x.traceSegmentId), 'order is kept');
  });

  it('keeps num_consumers streams in flight at once against a slow OAP', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap, { maxBatch: 10, numConsumers: 4 });
    oap.holdReplies();
    sender.enqueue(assembled(range(100)));
    sender.start();

    // The OAP reads each stream but does not answer: every consumer has its own stream waiting.
    await oap.waitFor(() => oap.heldReplies === 4, 5000, () => `4 streams waiting for their answer (got ${oap.heldReplies})`);
    assert.equal(oap.calls.collect, 4, 'no fifth stream while four are in flight');
    assert.equal(sender.held, 100, 'segments in flight are still held');
    oap.releaseReplies();

    await oap.waitForSegments(100);
    await eventually(() => sender.held === 0, 2000, 'the queue to empty');
    assert.equal(oap.calls.collect, 10);
    assert.deepEqual(ids(oap.segments), idsOf(range(100)));
    assert.equal(oap.segments.length, 100, 'nothing sent twice');
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });
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

  it('loses nothing when the OAP restarts while batches wait for their answer (duplicates them instead)', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap, { maxBatch: 10, numConsumers: 4 });
    oap.holdReplies();
    sender.start();
    sender.enqueue(assembled(range(100)));

    // The OAP has read four batches but not answered: the sender cannot know they arrived.
    await oap.waitFor(() => oap.heldReplies === 4, 5000, () => 'four held batches');
    await oap.stop();
    oap.releaseReplies();
    await oap.restart();

    const distinct = (): Set<string> => new Set(oap.segments.map((x) => x.tracesegmentid));
    await oap.waitFor(() => distinct().size === 100, 5000, () => `100 distinct segments (got ${distinct().size})`);
    await eventually(() => sender.held === 0, 2000, 'the queue to empty');
    const duplicates = oap.segments.length - distinct().size;
    assert.equal(duplicates, 40, 'exactly the unanswered batches are sent twice');
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
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 }, 'dropped segments leave the ledger');
  });

  it('reports no capacity once queue_size segments are held, yet takes and delivers every segment beyond it', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap, { queueSize: 4, maxBatch: 50 });
    // Not started: nothing leaves the queue.
    sender.enqueue(assembled(range(3)));
    assert.equal(sender.hasCapacity(), true);
    sender.enqueue(assembled(range(1, 3)));
    assert.equal(sender.hasCapacity(), false);

    // Assembled spans cannot be handed back: far beyond queue_size, every segment is still taken.
    sender.enqueue(assembled(range(500, 4)));
    assert.equal(sender.held, 504);
    assert.equal(await metricValue(s.metrics.queueSize, { queue: 'sending_queue' }), 504);
    assert.equal(onLedger(s).spans, 1008);

    sender.start();
    await oap.waitForSegments(504);
    await eventually(() => sender.held === 0, 2000, 'the queue to empty');
    assert.equal(sender.hasCapacity(), true);
    assert.deepEqual(ids(oap.segments), idsOf([...range(4), ...range(500, 4)]));
    assert.equal(await metricValue(s.metrics.droppedSpans, {}), 0, 'nothing is dropped');
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });
  });

  it('keeps every segment on the admission ledger, at its encoded size, until it left memory', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap);
    const sent = range(5);
    sender.enqueue(assembled(sent));
    const bytes = sent.reduce((sum, x) => sum + encodeSegment(x).length, 0);
    assert.deepEqual(onLedger(s), { bytes, spans: 10 });
    assert.equal(s.admission.bytes, bytes, 'the account moves the ledger\'s total');

    sender.start();
    await oap.waitForSegments(5);
    await eventually(() => onLedger(s).spans === 0, 2000, 'the ledger to empty');
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });
    assert.equal(s.admission.bytes, 0);
  });

  it('never sends a segment above max_segment_size: counts it as segment_too_large and delivers the ones queued behind it', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap, { maxSegmentSize: 64 * 1024 });
    const { receipt, counts } = countingReceipt();
    const sent = range(10);
    sender.enqueue(assembled([...sent.slice(0, 3), bigSegment(99, 100 * 1024), ...sent.slice(3)]), receipt);
    sender.start();

    await oap.waitForSegments(10);
    await eventually(() => sender.held === 0 && counts.done + counts.lost === 11, 2000, 'every segment settled');
    assert.deepEqual(ids(oap.segments), idsOf(sent));
    assert.equal(await metricValue(s.metrics.droppedSpans, { reason: 'segment_too_large' }), 2);
    assert.equal(await metricValue(s.metrics.droppedSpans, {}), 2);
    assert.equal(oap.calls.collect, 1, 'the big one never went on the wire');
    assert.deepEqual(counts, { done: 10, lost: 1 }, 'each segment settled once');
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });
  });

  it('splits a batch the OAP refuses with RESOURCE_EXHAUSTED: the others are delivered, the one too large is dropped as segment_too_large', async () => {
    // The OAP's maxMessageSize is below ours: it refuses the whole stream carrying the big one.
    const oap = await oapFor({ maxMessageSize: 16 * 1024 });
    const { sender, s } = rig(oap, { maxSegmentSize: 1024 * 1024, retry: { initialIntervalMs: 60_000, maxIntervalMs: 60_000 } });
    const { receipt, counts } = countingReceipt();
    const others = range(20);
    sender.enqueue(assembled([...others.slice(0, 13), bigSegment(99, 32 * 1024), ...others.slice(13)]), receipt);
    sender.start();

    // A 60 s backoff would time this out: the halves are resent at once.
    await eventually(() => sender.held === 0 && counts.done + counts.lost === 21, 5000, 'every segment settled');
    assert.deepEqual(ids(oap.segments), idsOf(others), 'every other segment arrived (some twice)');
    assert.equal(await metricValue(s.metrics.droppedSpans, { reason: 'segment_too_large' }), 2);
    assert.equal(await metricValue(s.metrics.droppedSpans, {}), 2);
    assert.ok((await metricValue(s.metrics.exporterSendFailedSegments, { reason: 'resource_exhausted' })) >= 21);
    assert.deepEqual(counts, { done: 20, lost: 1 }, 'each segment settled once');
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });
  });

  it('splits a batch the OAP answers INVALID_ARGUMENT; a single segment answered so is dropped as export_rejected', async () => {
    const oap = await oapFor();
    const { sender, s } = rig(oap, { retry: { initialIntervalMs: 60_000, maxIntervalMs: 60_000 } });
    oap.failNext(1, GrpcStatus.INVALID_ARGUMENT, { methods: ['collect'] });
    sender.enqueue(assembled(range(4)));
    sender.start();

    await oap.waitForSegments(4);
    assert.equal(oap.calls.collect, 3, 'the refused stream, then one per half, at once');
    assert.equal(await metricValue(s.metrics.droppedSpans, {}), 0);

    oap.failNext(1, GrpcStatus.INVALID_ARGUMENT, { methods: ['collect'] });
    sender.enqueue(assembled([segment(9)]));
    await eventually(async () => (await metricValue(s.metrics.droppedSpans, { reason: 'export_rejected' })) === 2, 5000, 'the refused segment counted');
    sender.enqueue(assembled([segment(10)]));
    await oap.waitForSegments(5);
    assert.deepEqual(ids(oap.segments), idsOf([...range(4), segment(10)]));
    await eventually(() => sender.held === 0, 2000, 'the queue to empty');
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });
  });

  it('with a redis block, puts a segment above max_segment_size in the dead-letter queue and delivers the rest', async () => {
    const scratch = await redisScratch();
    cleanups.push(() => scratch.cleanup());
    const oap = await oapFor();
    const redis = redisRetrySchema.parse({ url: scratch.url, key_prefix: scratch.prefix });
    const { sender, s, client } = rig(oap, { maxSegmentSize: 64 * 1024, redis });
    const { receipt, counts } = countingReceipt();
    await sender.start();
    sender.enqueue(assembled([segment(1), bigSegment(2, 100 * 1024), segment(3)]), receipt);

    await oap.waitForSegments(2);
    await eventually(() => sender.held === 0 && counts.done === 3, 5000, 'every segment settled');
    assert.deepEqual(counts, { done: 3, lost: 0 }, 'in the dead-letter queue counts as kept');
    assert.equal(await metricValue(s.metrics.droppedSpans, {}), 0);
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });

    const dlq = new DeadLetterQueue('skywalking', redis, collectSender(client, { token: '', timeoutMs: 2000 }));
    cleanups.push(() => dlq.close());
    await dlq.open();
    const [entry] = await dlq.list(5);
    assert.equal(entry?.items, 1);
    assert.match(entry!.reason, /^segment_too_large: \d+ bytes encoded, above max_segment_size/);
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

    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });

    sender.enqueue(assembled(range(1, 99)));
    assert.equal(await metricValue(s.metrics.droppedSpans, { reason: 'shutdown_timeout' }), 12, 'segments after shutdown are counted, not kept');
    assert.deepEqual(onLedger(s), { bytes: 0, spans: 0 });
  });
});
