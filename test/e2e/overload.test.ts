/**
 * Acknowledged means delivered, under overload (docs/admission.md). skybridge runs as its own
 * process with default settings in front of a destination that is slower than the offered load:
 * a stand-in OAP that takes 2,000 segments a second, offered about five times that for 20 s by a
 * sender that resends what is refused (as OTel SDK exporters do). Then:
 * - every trace whose request got 2xx arrived whole (both segments, every span) and linked (the
 *   backend segment's ref names the frontend segment);
 * - the refusals were 429 with a Retry-After hint (retryable), never a 5xx permanent answer;
 * - `skybridge_dropped_spans_total{intentional="false"}` is 0: nothing acknowledged was dropped.
 * The same with tail_sampling in the pipeline, and with the skywalking_kafka exporter writing to a
 * Kafka cluster (librdkafka's mock), where skybridge's own CPU is the bottleneck.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import tracingPb from 'skywalking-backend-js/lib/proto/language-agent/Tracing_pb.js';
import { startKafkaMock, type KafkaMock } from '../support/kafka-mock/kafka-mock.ts';
import { deliveryReport, DeliveryTracker, OtlpTraceLoad, type LoadTrace } from '../support/otlp-trace-load.ts';
import { freePort, SkybridgeProcess } from '../support/skybridge-process.ts';
import { metricSum, scrapeMetrics } from '../support/skybridge-cli.ts';
import { StandInOap, type DecodedSegment } from '../support/stand-in-oap.ts';

const OAP_SEGMENTS_PER_SECOND = 2_000;
const LOAD_SECONDS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** About 5× the stand-in's 2,000 segments/s: 100 traces (200 segments) every 20 ms, 16 requests in flight. */
function overloadingSender(port: number): OtlpTraceLoad {
  return new OtlpTraceLoad({ url: () => `http://127.0.0.1:${port}/v1/traces`, tracesPerRequest: 100, intervalMs: 20, maxInFlight: 16 });
}

/** Every acknowledged trace's backend segment refs its frontend segment. */
function unlinked(acked: readonly LoadTrace[], received: readonly DecodedSegment[]): string[] {
  const byId = new Map(received.map((s) => [s.tracesegmentid, s]));
  const problems: string[] = [];
  for (const trace of acked) {
    const [rootSegment, serverSegment] = [...trace.segments.keys()];
    const ref = byId.get(serverSegment!)?.spansList[0]?.refsList[0];
    if (ref?.parenttracesegmentid !== rootSegment) problems.push(`${serverSegment} does not ref ${rootSegment}`);
  }
  return problems;
}

async function overload(skybridge: SkybridgeProcess, port: number, received: readonly DecodedSegment[]) {
  const load = overloadingSender(port);
  load.start();
  await sleep(LOAD_SECONDS * 1000);
  // Requests being refused keep resending until they are taken, as an SDK's exporter would.
  await load.drain(60_000);
  await new DeliveryTracker(received).waitForAll(() => load.acked, 60_000);
  const metrics = await scrapeMetrics(skybridge.telemetryPort);
  const report = deliveryReport(load.acked, received);
  return { load, metrics, report };
}

function assertDeliveredEverything(result: Awaited<ReturnType<typeof overload>>, received: readonly DecodedSegment[]): void {
  const { load, metrics, report } = result;
  assert.ok(load.acked.length > 0, 'something was acknowledged');
  assert.deepEqual(report.missing, [], 'every acknowledged segment arrived whole');
  assert.deepEqual(unlinked(load.acked, received), [], 'every acknowledged trace is linked');
  assert.equal(metricSum(metrics, 'skybridge_dropped_spans_total', { intentional: 'false' }), 0, 'no acknowledged span was dropped');
  const statuses = [...load.refusals.keys()];
  assert.ok(statuses.every((s) => s === '429'), `refusals are retryable 429s, got ${JSON.stringify(Object.fromEntries(load.refusals))}`);
}

describe('overload: acknowledged means delivered', { timeout: 240_000 }, () => {
  let oap: StandInOap;
  before(async () => {
    oap = await StandInOap.start({ segmentsPerSecond: OAP_SEGMENTS_PER_SECOND });
  });
  after(async () => {
    await oap?.stop();
  });

  it('default skywalking exporter in front of a slow OAP: every acknowledged trace arrives whole and linked', async () => {
    oap.segments.length = 0;
    const port = await freePort();
    const skybridge = await SkybridgeProcess.start(
      'overload',
      `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
exporters:
  skywalking: { endpoint: ${oap.endpoint} }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
`,
    );
    try {
      const result = await overload(skybridge, port, oap.segments);
      assertDeliveredEverything(result, oap.segments);
      assert.ok((result.load.refusals.get('429') ?? 0) > 0, 'the offered load was more than the OAP takes, so some requests were refused');
      assert.ok(metricSum(result.metrics, 'skybridge_receiver_requests_total', { status: '429' }) > 0, 'skybridge counted the refused requests');
    } finally {
      await skybridge.stop();
    }
  });

  it('the same with tail_sampling (keeping every trace) in front of the exporter', async () => {
    oap.segments.length = 0;
    const port = await freePort();
    const skybridge = await SkybridgeProcess.start(
      'overload-sampling',
      `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
processors:
  memory_limiter: {}
  tail_sampling: { sample_n_per_3_secs: 0 }
exporters:
  skywalking: { endpoint: ${oap.endpoint} }
pipelines:
  traces: { receivers: [otlp], processors: [memory_limiter, tail_sampling], exporters: [skywalking] }
`,
    );
    try {
      const result = await overload(skybridge, port, oap.segments);
      assertDeliveredEverything(result, oap.segments);
      assert.ok((result.load.refusals.get('429') ?? 0) > 0, 'some requests were refused');
    } finally {
      await skybridge.stop();
    }
  });
});

describe('overload through skywalking_kafka: acknowledged means delivered', { timeout: 240_000 }, () => {
  let kafka: KafkaMock;
  before(async () => {
    kafka = await startKafkaMock({ brokers: 1, topics: { 'skywalking-segments': 4, 'skywalking-managements': 1 } });
  });
  after(async () => {
    await kafka?.stop();
  });

  it('every acknowledged trace reaches the segments topic whole and linked', async () => {
    const port = await freePort();
    const skybridge = await SkybridgeProcess.start(
      'overload-kafka',
      `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
exporters:
  skywalking_kafka: { brokers: "${kafka.brokers.join(',')}" }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking_kafka] }
`,
    );
    const received: DecodedSegment[] = [];
    const consumer = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: 'oap-overload', maxWaitTimeInMs: 100 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: ['skywalking-segments'], fromBeginning: true });
      void consumer.run({
        eachMessage: async ({ message }) => {
          received.push(tracingPb.SegmentObject.deserializeBinary(new Uint8Array(message.value!)).toObject() as unknown as DecodedSegment);
        },
      });
      const result = await overload(skybridge, port, received);
      assertDeliveredEverything(result, received);
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await skybridge.stop();
    }
  });
});
