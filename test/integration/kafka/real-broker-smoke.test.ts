/**
 * Smoke test of the real Kafka broker launcher (scripts/kafka.sh via test/support/kafka-broker.ts):
 * a multi-partition topic, acknowledged produce requests, a consumer group of two members that
 * splits the partitions and commits (what librdkafka's mock cluster handles badly), then a broker
 * restart on the same port and data directory: messages and committed offsets survive, and the
 * clients that were connected before carry on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { startKafka, type KafkaBroker } from '../../support/kafka-broker.ts';

const TOPIC = 'smoke';
const PARTITIONS = 4;
const GROUP = 'smoke-group';

interface Received { member: string; partition: number; offset: number; value: string }

async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('real Kafka broker (scripts/kafka.sh)', { timeout: 480_000 }, () => {
  let kafka: KafkaBroker;
  let client: Kafka;
  let admin: Admin;
  let producer: Producer;
  const consumers = new Map<string, Consumer>();
  /** Each member's partitions of TOPIC as of its latest group join. */
  const assignment = new Map<string, number[]>();
  const received: Received[] = [];

  before(async () => {
    kafka = await startKafka();
    client = new Kafka({
      clientId: 'skybridge-smoke',
      brokers: kafka.brokers,
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 250, maxRetryTime: 2_000, retries: 15 },
    });
    admin = client.admin();
    await admin.connect();
    producer = client.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  after(async () => {
    for (const c of consumers.values()) await c.disconnect().catch(() => {});
    await producer?.disconnect().catch(() => {});
    await admin?.disconnect().catch(() => {});
    await kafka?.stop();
  });

  /** Produces `n` messages round-robin over the partitions; returns what the broker acknowledged. */
  async function produce(n: number, prefix: string) {
    const messages = Array.from({ length: n }, (_, i) => ({ partition: i % PARTITIONS, key: `${prefix}-${i}`, value: `${prefix}-${i}` }));
    const acks = await producer.send({ topic: TOPIC, acks: -1, messages });
    return { values: messages.map((m) => m.value), acks };
  }

  async function highWatermarks(): Promise<number[]> {
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    return offsets.sort((a, b) => a.partition - b.partition).map((p) => Number(p.high));
  }

  async function committedOffsets(): Promise<number[]> {
    const [topic] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return topic!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
  }

  it('is one KRaft node and creates a topic with several partitions', async () => {
    const cluster = await admin.describeCluster();
    assert.equal(cluster.brokers.length, 1);
    assert.equal(cluster.brokers[0]!.nodeId, 1);
    assert.equal(cluster.brokers[0]!.port, kafka.port);
    assert.equal(cluster.controller, 1);

    assert.equal(await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true }), true);
    const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    const partitions = topics[0]!.partitions.sort((a, b) => a.partitionId - b.partitionId);
    assert.deepEqual(partitions.map((p) => p.partitionId), [0, 1, 2, 3]);
    for (const p of partitions) {
      assert.equal(p.partitionErrorCode, 0);
      assert.equal(p.leader, 1);
      assert.deepEqual(p.replicas, [1]);
      assert.deepEqual(p.isr, [1]);
    }
    assert.deepEqual(await highWatermarks(), [0, 0, 0, 0]);
  });

  it('splits the partitions between two group members, delivers each message once and commits', async () => {
    for (const member of ['a', 'b']) {
      const consumer = client.consumer({
        groupId: GROUP,
        sessionTimeout: 10_000,
        rebalanceTimeout: 10_000,
        heartbeatInterval: 1_000,
        maxWaitTimeInMs: 200,
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => assignment.set(member, sorted(e.payload.memberAssignment[TOPIC] ?? [])));
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({
        autoCommitInterval: 200,
        eachMessage: async ({ partition, message }) => {
          received.push({ member, partition, offset: Number(message.offset), value: message.value!.toString() });
        },
      });
      consumers.set(member, consumer);
    }
    // Settled: both members hold partitions, none twice, all of them between the two.
    await waitUntil(() => {
      const a = assignment.get('a') ?? [];
      const b = assignment.get('b') ?? [];
      return a.length > 0 && b.length > 0 && sorted([...a, ...b]).join() === '0,1,2,3';
    }, 60_000, 'both members to be assigned disjoint partitions');

    const { values, acks } = await produce(40, 'before');
    assert.equal(acks.length, PARTITIONS, 'one acknowledgement per partition');
    for (const ack of acks) {
      assert.equal(ack.topicName, TOPIC);
      assert.equal(ack.errorCode, 0);
      assert.equal(ack.baseOffset, '0');
    }
    assert.deepEqual(await highWatermarks(), [10, 10, 10, 10]);

    await waitUntil(() => received.length >= 40, 30_000, '40 messages consumed');
    await new Promise((r) => setTimeout(r, 500)); // room for a duplicate to show up
    assert.deepEqual(received.map((r) => r.value).sort(), [...values].sort(), 'every message exactly once');
    for (const r of received) {
      assert.ok(assignment.get(r.member)!.includes(r.partition), `member ${r.member} got partition ${r.partition} it does not own`);
      assert.equal(r.value, `before-${r.offset * PARTITIONS + r.partition}`, 'offsets follow the produce order');
    }

    await waitUntil(async () => (await committedOffsets()).join() === '10,10,10,10', 20_000, 'offsets 10 committed on every partition');
    const { groups } = await admin.describeGroups([GROUP]);
    assert.equal(groups[0]!.state, 'Stable');
    assert.equal(groups[0]!.members.length, 2);
  });

  it('keeps messages and committed offsets across a restart, and connected clients carry on', async () => {
    const { bootstrap, port } = kafka;
    const before = received.length;
    const started = Date.now();
    await kafka.restart();
    console.error(`kafka restart (stop + start + produce check): ${Date.now() - started} ms`);
    assert.equal(kafka.bootstrap, bootstrap);
    assert.equal(kafka.port, port);

    // The same admin client, reconnecting: the log and the group's commits came back from disk.
    assert.deepEqual(await highWatermarks(), [10, 10, 10, 10]);
    assert.deepEqual(await committedOffsets(), [10, 10, 10, 10]);

    // The same producer and group members as before the restart.
    const { values, acks } = await produce(20, 'after');
    for (const ack of acks) {
      assert.equal(ack.errorCode, 0);
      assert.equal(ack.baseOffset, '10', 'appended after the surviving messages');
    }
    await waitUntil(() => received.length >= before + 20, 90_000, 'the group to consume the 20 messages produced after the restart');
    await new Promise((r) => setTimeout(r, 500));
    const since = received.slice(before);
    assert.deepEqual(since.map((r) => r.value).sort(), [...values].sort(), 'only the new messages: the commits held');
    assert.ok(since.every((r) => r.offset >= 10));
    await waitUntil(async () => (await committedOffsets()).join() === '15,15,15,15', 20_000, 'offsets 15 committed');

    // A new group reads everything from disk, in order per partition.
    const reader = client.consumer({ groupId: 'smoke-readback', maxWaitTimeInMs: 200, rebalanceTimeout: 10_000 });
    consumers.set('readback', reader);
    const all: Received[] = [];
    await reader.connect();
    await reader.subscribe({ topic: TOPIC, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ partition, message }) => {
        all.push({ member: 'readback', partition, offset: Number(message.offset), value: message.value!.toString() });
      },
    });
    await waitUntil(() => all.length >= 60, 60_000, 'a new group to read all 60 messages');
    for (let p = 0; p < PARTITIONS; p++) {
      const values = all.filter((r) => r.partition === p).sort((a, b) => a.offset - b.offset);
      assert.deepEqual(values.map((r) => r.offset), Array.from({ length: 15 }, (_, i) => i));
      assert.deepEqual(values.map((r) => r.value), [
        ...Array.from({ length: 10 }, (_, i) => `before-${i * PARTITIONS + p}`),
        ...Array.from({ length: 5 }, (_, i) => `after-${i * PARTITIONS + p}`),
      ]);
    }
  });
});
