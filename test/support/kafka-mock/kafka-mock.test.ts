/**
 * The librdkafka mock cluster launcher: builds, starts, and carries a real kafkajs producer →
 * consumer-group round trip; broker down/up commands are acknowledged and take effect.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { startKafkaMock, type KafkaMock } from './kafka-mock.ts';

function canConnect(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    // The mock accepts and then closes at once when the broker is down.
    socket.once('connect', () => socket.once('close', () => done(false)).setTimeout(300, () => done(true)));
    socket.once('error', () => done(false));
  });
}

describe('librdkafka mock cluster', { timeout: 30_000 }, () => {
  let kafka: KafkaMock;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;

  before(async () => {
    kafka = await startKafkaMock({ brokers: 3, topics: { 'round-trip': 2 } });
  });

  after(async () => {
    // Bounded: a client stuck retrying must not keep the test process alive.
    const bounded = (p: Promise<void> | undefined) => Promise.race([p?.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    await bounded(consumer?.disconnect());
    await bounded(producer?.disconnect());
    await kafka?.stop();
  });

  it('prints one bootstrap address per broker', () => {
    assert.equal(kafka.brokers.length, 3);
    for (const b of kafka.brokers) assert.match(b, /^[\w.-]+:\d+$/);
  });

  it('carries a kafkajs producer → consumer group round trip', async () => {
    const client = new Kafka({ clientId: 'mock-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
    producer = client.producer({ allowAutoTopicCreation: false });
    consumer = client.consumer({ groupId: 'round-trip-group', sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 10_000, maxWaitTimeInMs: 100 });
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: 'round-trip', fromBeginning: true });
    const received: { key: string; value: string; partition: number }[] = [];
    const all = new Promise<void>((resolve) => {
      void consumer!.run({
        eachMessage: async ({ message, partition }) => {
          received.push({ key: message.key!.toString(), value: message.value!.toString(), partition });
          if (received.length === 4) resolve();
        },
      });
    });
    await producer.send({
      topic: 'round-trip',
      messages: [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 2 })),
    });
    await all;
    assert.deepEqual(received.map((r) => r.value).sort(), ['v0', 'v1', 'v2', 'v3']);
    assert.deepEqual([...new Set(received.map((r) => r.partition))].sort(), [0, 1]);
  });

  it('takes a broker down and up on command, and rejects unknown brokers', async () => {
    const second = kafka.brokers[1]!;
    assert.equal(await canConnect(second), true);
    await kafka.down(2);
    assert.equal(await canConnect(second), false);
    await kafka.up(2);
    assert.equal(await canConnect(second), true);
    await assert.rejects(kafka.down(9), /no broker 9/);
    await kafka.createTopic('later', 3);
  });
});
