/**
 * The skywalking_kafka exporter's messages read the way the OAP's kafka-fetcher reads them
 * (docs/skywalking-model.md "Kafka"), decoded with SkyWalking's own generated stubs (skywalking-backend-js):
 * SegmentObject values on `<namespace>-skywalking-segments` keyed by segment id; on
 * `<namespace>-skywalking-managements`, InstanceProperties keyed `register-<instance>` and
 * InstancePingPkg keepAlives keyed by the instance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import tracingPb from 'skywalking-backend-js/lib/proto/language-agent/Tracing_pb.js';
import managementPb from 'skywalking-backend-js/lib/proto/management/Management_pb.js';
import type { ComponentSettings } from '../../../core/component.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { Metrics } from '../../../core/telemetry/metrics.ts';
import { skywalkingKafkaExporterFactory } from '../../../exporters/skywalking_kafka/factory.ts';
import { startKafkaMock, type KafkaMock } from '../../support/kafka-mock/kafka-mock.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';
import { batchOf, threeServiceTrace } from '../../support/span-fixtures.ts';

const settings = (): ComponentSettings => ({ id: 'skywalking_kafka', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics() });

describe('skywalking_kafka exporter', { timeout: 60_000 }, () => {
  let kafka: KafkaMock;
  before(async () => {
    kafka = await startKafkaMock({ brokers: 1, topics: { 'prod-skywalking-segments': 3, 'prod-skywalking-managements': 1 } });
  });
  after(async () => {
    await kafka?.stop();
  });

  it('writes segments and instance reports the OAP kafka-fetcher can read', async () => {
    const config = skywalkingKafkaExporterFactory.configSchema.parse({
      brokers: kafka.brokers.join(','),
      namespace: 'prod',
      keep_alive_interval: '200ms',
      ack: 'after_export',
      assembly: { quiet_period: '100ms' },
    });
    const exporter = skywalkingKafkaExporterFactory.create(settings(), config);
    await exporter.start({ reportFatal: () => {} });
    const traces = [threeServiceTrace(), threeServiceTrace()];
    // ack: after_export: resolves only once Kafka acknowledged the segments.
    await exporter.consume(batchOf(...traces.flatMap((t) => [t.batches.frontend, t.batches.orders, t.batches.payments])), { receiver: 'test', transport: 'test' });
    await new Promise((r) => setTimeout(r, 500)); // a few keepAlive rounds
    await exporter.shutdown(AbortSignal.timeout(5_000));

    const consumer = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: 'oap', rebalanceTimeout: 10_000, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: ['prod-skywalking-segments', 'prod-skywalking-managements'], fromBeginning: true });
    const segments: { key: string; segment: DecodedSegment }[] = [];
    const properties: { key: string; value: managementPb.InstanceProperties.AsObject }[] = [];
    const pings: { key: string; value: managementPb.InstancePingPkg.AsObject }[] = [];
    void consumer.run({
      eachMessage: async ({ topic, message }) => {
        const key = message.key!.toString();
        const bytes = new Uint8Array(message.value!);
        if (topic === 'prod-skywalking-segments') {
          segments.push({ key, segment: tracingPb.SegmentObject.deserializeBinary(bytes).toObject() as unknown as DecodedSegment });
        } else if (key.startsWith('register-')) {
          // ServiceManagementHandler: a key starting with "register-" carries InstanceProperties.
          properties.push({ key, value: managementPb.InstanceProperties.deserializeBinary(bytes).toObject() });
        } else {
          pings.push({ key, value: managementPb.InstancePingPkg.deserializeBinary(bytes).toObject() });
        }
      },
    });
    const end = Date.now() + 20_000;
    while ((segments.length < 6 || properties.length < 3 || pings.length < 3) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();

    assert.equal(segments.length, 6);
    for (const { key, segment } of segments) assert.equal(key, segment.tracesegmentid, 'keyed by segment id');
    assertOapRules(segments.map((s) => s.segment));
    assert.deepEqual(new Set(segments.map((s) => s.segment.service)), new Set(['frontend', 'orders', 'payments']));
    const orders = segments.find((s) => s.segment.service === 'orders')!.segment;
    assert.ok(orders.spansList[0]!.refsList.length === 1, 'the orders segment refers to its parent');

    assert.deepEqual(properties.map((p) => p.key).sort(), ['register-frontend-1', 'register-orders-1', 'register-payments-1']);
    for (const p of properties) assert.equal(p.key, `register-${p.value.serviceinstance}`);
    assert.ok(pings.length >= 3);
    for (const p of pings) assert.equal(p.key, p.value.serviceinstance, 'keepAlive keyed by instance');
  });

  it('names topics as the OAP does, with and without a namespace, and honours overrides', async () => {
    const { topicsOf } = await import('../../../exporters/skywalking_kafka/config.ts');
    const parse = (c: object) => topicsOf(skywalkingKafkaExporterFactory.configSchema.parse(c));
    assert.deepEqual(parse({}), { segments: 'skywalking-segments', managements: 'skywalking-managements' });
    assert.deepEqual(parse({ namespace: 'ns' }), { segments: 'ns-skywalking-segments', managements: 'ns-skywalking-managements' });
    assert.deepEqual(parse({ namespace: 'ns', topic_segments: 'segs' }), { segments: 'segs', managements: 'ns-skywalking-managements' });
  });
});
