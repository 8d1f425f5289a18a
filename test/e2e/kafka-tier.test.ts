/**
 * The Kafka tier end to end, in separate processes: skybridge agents (OTLP/HTTP → kafka exporter)
 * produce to librdkafka's mock cluster; skybridge gateways in one consumer group (kafka receiver →
 * skywalking exporter with ack: after_export) export to a stand-in OAP that decodes with
 * SkyWalking's own stubs. Each trace's frontend spans go to agent 1 and its orders/payments spans to
 * agent 2, so refs across services only link if the trace met again in one gateway.
 *
 * Every test counts spans in (accepted by the agents) and segments out (distinct segment ids at the
 * OAP, plus duplicates), and requires every trace whole: 3 segments, orders → frontend and payments
 * → orders refs. Faults: a gateway SIGKILLed mid-stream and restarted; a rebalance while traces are
 * buffered; the broker down for 10 s while agents keep receiving (senders retry their 503s).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeExportTraceServiceRequest } from '../../core/model/otlp-protobuf-encoder.ts';
import type { ResourceSpans } from '../../core/model/span-batch.ts';
import { startKafkaMock, type KafkaMock } from '../support/kafka-mock/kafka-mock.ts';
import { assertOapRules, type DecodedSegment as RuleSegment } from '../support/oap-rules.ts';
import { freePort, SkybridgeProcess } from '../support/skybridge-process.ts';
import { batchOf, threeServiceTrace } from '../support/span-fixtures.ts';
import { StandInOap } from '../support/stand-in-oap.ts';

const PARTITIONS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tier {
  oap: StandInOap;
  agents: { process: SkybridgeProcess; port: number }[];
  gateways: SkybridgeProcess[];
  /** Spans the agents answered 200 for. */
  spansIn: number;
  /** Sends rejected (503) and resent. */
  resends: number;
  traces: number;
  startGateway(): Promise<SkybridgeProcess>;
  /** Sends `n` three-service traces, `perSecond` at most; resolves when every one was accepted. */
  send(n: number, perSecond?: number): Promise<void>;
  stop(): Promise<void>;
}

async function post(port: number, rs: ResourceSpans): Promise<boolean> {
  const body = Buffer.from(encodeExportTraceServiceRequest(batchOf(rs)));
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function startTier(kafka: KafkaMock, topic: string, opts: { gateways: number; quietPeriod?: string; maxWait?: string; ackTimeout?: string }): Promise<Tier> {
  await kafka.createTopic(topic, PARTITIONS);
  const oap = await StandInOap.start();
  const brokers = JSON.stringify(kafka.brokers);
  const agentYaml = (port: number) => `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
exporters:
  kafka: { brokers: ${brokers}, topic: ${topic}, producer: { linger: 5ms, timeout: 2s, max_retries: 2 } }
pipelines:
  traces: { receivers: [otlp], exporters: [kafka] }
`;
  const gatewayYaml = `
receivers:
  kafka:
    brokers: ${brokers}
    topic: ${topic}
    group_id: gw-${topic}
    initial_offset: earliest
    session_timeout: 6s
    heartbeat_interval: 500ms
    rebalance_timeout: 10s
    max_fetch_wait: 100ms
    commit_interval: 200ms
    error_backoff: { initial_interval: 100ms, max_interval: 1s }
exporters:
  skywalking:
    endpoint: ${oap.endpoint}
    ack: after_export
    ack_timeout: ${opts.ackTimeout ?? '5s'}
    assembly: { quiet_period: ${opts.quietPeriod ?? '300ms'}, max_wait: ${opts.maxWait ?? '4s'} }
pipelines:
  traces: { receivers: [kafka], exporters: [skywalking] }
`;
  const ports = [await freePort(), await freePort()];
  const agents = await Promise.all(ports.map(async (port, i) => ({ process: await SkybridgeProcess.start(`agent${i + 1}`, agentYaml(port)), port })));
  const tier: Tier = {
    oap,
    agents,
    gateways: [],
    spansIn: 0,
    resends: 0,
    traces: 0,
    async startGateway() {
      const g = await SkybridgeProcess.start(`gateway${this.gateways.length + 1}`, gatewayYaml);
      this.gateways.push(g);
      return g;
    },
    async send(n, perSecond = 200) {
      const sends: Promise<void>[] = [];
      const sendUntilAccepted = async (port: number, rs: ResourceSpans, spans: number) => {
        const end = Date.now() + 45_000;
        while (!(await post(port, rs))) {
          this.resends++;
          if (Date.now() > end) throw new Error('an agent refused a batch for 45 s');
          await sleep(250);
        }
        this.spansIn += spans;
      };
      for (let i = 0; i < n; i++) {
        const t = threeServiceTrace({ t0: BigInt(Date.now()) * 1_000_000n });
        this.traces++;
        sends.push(sendUntilAccepted(agents[0]!.port, t.batches.frontend, 2));
        sends.push(sendUntilAccepted(agents[1]!.port, t.batches.orders, 3));
        sends.push(sendUntilAccepted(agents[1]!.port, t.batches.payments, 1));
        await sleep(1000 / perSecond);
      }
      await Promise.all(sends);
    },
    async stop() {
      await Promise.all([...agents.map((a) => a.process.stop()), ...this.gateways.map((g) => g.stop())]);
      await oap.stop();
    },
  };
  try {
    for (let i = 0; i < opts.gateways; i++) await tier.startGateway();
    // Every gateway joined the group (the mock holds a group's first join for about 3 s; on a
    // loaded machine kafkajs may need a few tries).
    const end = Date.now() + 45_000;
    for (const g of tier.gateways) {
      while ((await counter(g, 'rebalance')) < 1) {
        if (Date.now() > end) throw new Error(`${g.name} did not join the group: ${g.log}`);
        await sleep(100);
      }
    }
  } catch (error) {
    await tier.stop();
    throw error;
  }
  return tier;
}

async function counter(g: SkybridgeProcess, event: string): Promise<number> {
  const text = await g.metrics().catch(() => '');
  return Number(new RegExp(`skybridge_kafka_consumer_events_total\\{component="kafka",event="${event}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

async function droppedSpans(g: SkybridgeProcess, reason: string): Promise<number> {
  const text = await g.metrics().catch(() => '');
  let n = 0;
  for (const m of text.matchAll(new RegExp(`skybridge_dropped_spans_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)`, 'g'))) n += Number(m[1]);
  return n;
}

async function inFlight(g: SkybridgeProcess): Promise<number> {
  const text = await g.metrics().catch(() => '');
  return Number(/skybridge_queue_size\{component="kafka",queue="in_flight_messages"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/** Waits until every trace sent is whole at the OAP; then checks refs, OAP rules and the counts. */
async function assertEveryTraceWhole(tier: Tier, timeoutMs = 30_000): Promise<{ distinct: number; duplicates: number }> {
  const distinct = () => new Map(tier.oap.segments.map((s) => [s.tracesegmentid, s]));
  await tier.oap.waitFor(() => distinct().size >= tier.traces * 3, timeoutMs, () => `${tier.traces * 3} distinct segments (got ${distinct().size}, ${tier.oap.segments.length} with duplicates)`);
  const segments = [...distinct().values()];
  assert.equal(segments.length, tier.traces * 3, 'no segment beyond the 3 per trace');
  assertOapRules(segments as unknown as RuleSegment[]);
  const byTrace = new Map<string, typeof segments>();
  for (const s of segments) byTrace.set(s.traceid, [...(byTrace.get(s.traceid) ?? []), s]);
  assert.equal(byTrace.size, tier.traces);
  for (const [traceId, segs] of byTrace) {
    const svc = (name: string) => segs.find((s) => s.service === name);
    const fe = svc('frontend');
    const ord = svc('orders');
    const pay = svc('payments');
    assert.ok(fe && ord && pay, `trace ${traceId} has all three services`);
    assert.equal(fe.spansList.length + ord.spansList.length + pay.spansList.length, 6, `trace ${traceId} has all 6 spans`);
    const refOf = (s: typeof fe) => s.spansList.find((sp) => sp.spanid === 0)?.refsList[0]?.parenttracesegmentid;
    assert.equal(refOf(ord), fe.tracesegmentid, `orders refs frontend in ${traceId}`);
    assert.equal(refOf(pay), ord.tracesegmentid, `payments refs orders in ${traceId}`);
  }
  // Duplicates are allowed, but must be the same segment (same id, same spans).
  for (const s of tier.oap.segments) assert.equal(s.spansList.length, distinct().get(s.tracesegmentid)!.spansList.length);
  assert.equal(tier.spansIn, tier.traces * 6, 'spans in');
  return { distinct: segments.length, duplicates: tier.oap.segments.length - segments.length };
}

describe('Kafka tier: agents → Kafka → gateways → OAP', { timeout: 540_000 }, () => {
  let kafka: KafkaMock;
  before(async () => {
    kafka = await startKafkaMock({ brokers: 1 });
  });
  after(async () => {
    await kafka?.stop();
  });

  it('two agents and two gateways in one group deliver every trace whole', { timeout: 100_000 }, async (t) => {
    const tier = await startTier(kafka, 'e2e_whole', { gateways: 2 });
    try {
      await tier.send(40);
      const { distinct, duplicates } = await assertEveryTraceWhole(tier);
      t.diagnostic(`spans in ${tier.spansIn}, segments out ${distinct} (+${duplicates} duplicates)`);
    } finally {
      await tier.stop();
    }
  });

  it('loses nothing when a gateway is SIGKILLed mid-stream and restarted', { timeout: 100_000 }, async (t) => {
    // A 1 s quiet period: the killed gateway holds traces it has consumed and not yet exported.
    const tier = await startTier(kafka, 'e2e_sigkill', { gateways: 2, quietPeriod: '1s' });
    try {
      const sending = tier.send(60, 20); // about 3 s of traffic
      let held = 0;
      for (const end = Date.now() + 3_000; held === 0 && Date.now() < end; await sleep(50)) held = await inFlight(tier.gateways[0]!);
      assert.ok(held > 0, 'the gateway has unfinished messages when it is killed');
      t.diagnostic(`gateway killed with ${held} messages in flight`);
      await tier.gateways[0]!.kill();
      await sleep(1_000);
      await tier.gateways[0]!.restart();
      await sending;
      const { distinct, duplicates } = await assertEveryTraceWhole(tier, 40_000);
      t.diagnostic(`spans in ${tier.spansIn}, segments out ${distinct} (+${duplicates} duplicates)`);
    } finally {
      await tier.stop();
    }
  });

  it('loses nothing and decides nothing twice in a rebalance while traces are buffered', { timeout: 150_000 }, async (t) => {
    // A long quiet period keeps every trace in the first gateway's buffer until the second one has
    // joined; the revoked partitions' traces must then be abandoned there (dropped unexported) and
    // rebuilt by their new owner from Kafka, so each segment reaches the OAP exactly once.
    const tier = await startTier(kafka, 'e2e_rebalance', { gateways: 1, quietPeriod: '30s', maxWait: '45s', ackTimeout: '55s' });
    const first = tier.gateways[0]!;
    try {
      await tier.send(30, 60);
      const joinedAt = Date.now();
      const second = await tier.startGateway();
      // The mock coordinator waits session_timeout − 1 s for members to rejoin and answers a late
      // SyncGroup with INVALID_REQUEST, which kafkajs treats as fatal (the receiver then starts a
      // fresh consumer): a rebalance takes 10–20 s here. The 30 s quiet period outlasts that.
      const end = Date.now() + 28_000;
      while ((await counter(first, 'rebalance')) < 2 || (await counter(second, 'rebalance')) < 1) {
        assert.ok(Date.now() < end, `the second gateway joined and the group rebalanced: ${second.log}`);
        await sleep(200);
      }
      t.diagnostic(`group rebalanced ${Date.now() - joinedAt} ms after the second gateway started`);
      assert.equal(tier.oap.segments.length, 0, 'the traces were still buffered when the group rebalanced');
      const abandoned = await counter(first, 'abandoned');
      assert.ok(abandoned > 0, 'messages of the revoked partitions in flight at the rebalance were abandoned');
      const abandonedSpans = await droppedSpans(first, 'abandoned');
      assert.ok(abandonedSpans > 0, 'their held spans were dropped unexported');
      await tier.send(10, 20);
      const { distinct, duplicates } = await assertEveryTraceWhole(tier, 75_000);
      t.diagnostic(`spans in ${tier.spansIn}, segments out ${distinct} (+${duplicates} duplicates), ${abandoned} messages / ${abandonedSpans} spans abandoned at the rebalance`);
      assert.equal(duplicates, 0, 'no trace was exported by both its old and its new owner');
    } finally {
      await tier.stop();
    }
  });

  it('loses nothing when the broker is down for 10 s while agents keep receiving', { timeout: 120_000 }, async (t) => {
    // After the outage the two agents reconnect seconds apart, so a trace's frontend spans can reach
    // the gateway well after its orders/payments spans: max_wait must cover that skew, or the
    // rootless part is flushed without its parent (refs missing).
    const tier = await startTier(kafka, 'e2e_outage', { gateways: 2, maxWait: '15s', ackTimeout: '20s' });
    try {
      await tier.send(10, 20);
      await kafka.down('all');
      const during = tier.send(20, 4); // 5 s of traffic into the outage; refused batches are resent
      await sleep(10_000);
      await kafka.up('all');
      await during;
      await tier.send(10, 20);
      const { distinct, duplicates } = await assertEveryTraceWhole(tier, 45_000);
      t.diagnostic(`spans in ${tier.spansIn}, resends ${tier.resends}, segments out ${distinct} (+${duplicates} duplicates)`);
      assert.ok(tier.resends > 0, 'agents refused batches while Kafka was down');
    } finally {
      await kafka.up('all');
      await tier.stop();
    }
  });
});
