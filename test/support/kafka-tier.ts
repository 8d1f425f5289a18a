/**
 * A Kafka tier in separate processes, for end-to-end tests: two skybridge agents (OTLP/HTTP →
 * `kafka` exporter) and skybridge gateways in one consumer group (`kafka` receiver → `skywalking`
 * exporter with ack: after_export) exporting to an OAP, real or stand-in. Each trace's frontend
 * spans go to agent 1 and its orders/payments spans to agent 2, so refs across services only link
 * if the trace met again in one gateway. The broker (librdkafka's mock cluster or a real one) and
 * the topic are the caller's; the OAP is the caller's too, but stopped with the tier.
 *
 * Used by test/e2e/kafka-tier.test.ts (mock cluster, stand-in OAP) and
 * test/e2e/kafka-tier-real-broker.test.ts (real broker, real OAP).
 */
import { encodeExportTraceServiceRequest } from '../../core/model/otlp-protobuf-encoder.ts';
import type { ResourceSpans } from '../../core/model/span-batch.ts';
import { metricSum, scrapeMetrics } from './skybridge-cli.ts';
import { freePort, SkybridgeProcess } from './skybridge-process.ts';
import { batchOf, threeServiceTrace, type ThreeServiceTrace } from './span-fixtures.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Part = keyof ThreeServiceTrace['batches'];
export const ALL_PARTS: readonly Part[] = ['frontend', 'orders', 'payments'];

export interface Tier<O> {
  oap: O;
  agents: { process: SkybridgeProcess; port: number }[];
  gateways: SkybridgeProcess[];
  /** Spans the agents answered 200 for. */
  spansIn: number;
  /** Sends rejected (503) and resent. */
  resends: number;
  /** Traces with a part that was refused and resent (so it arrived late, after the others). */
  resentTraces: Set<string>;
  traces: number;
  startGateway(): Promise<SkybridgeProcess>;
  /** Sends `n` three-service traces, `perSecond` at most; resolves when every one was accepted. */
  send(n: number, perSecond?: number): Promise<void>;
  /** Makes `n` traces (counted in `traces`) without sending them. */
  makeTraces(n: number): ThreeServiceTrace[];
  /**
   * Sends these parts of the traces (frontend through agent 1, orders and payments through agent
   * 2), `perSecond` traces at most; resolves when every part was accepted.
   */
  deliver(traces: readonly ThreeServiceTrace[], parts: readonly Part[], perSecond?: number): Promise<void>;
  stop(): Promise<void>;
}

/** POSTs one ResourceSpans as OTLP/HTTP protobuf; true when the agent answered 200. */
export async function postOtlp(port: number, rs: ResourceSpans): Promise<boolean> {
  const body = Buffer.from(encodeExportTraceServiceRequest(batchOf(rs)));
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export interface TierOptions {
  gateways: number;
  /** The exporter's assembly (and, with `sampling`, tail_sampling's) quiet period. */
  quietPeriod?: string;
  maxWait?: string;
  ackTimeout?: string;
  /**
   * Put tail_sampling (ack: after_decision) in front of the exporter, with this budget per 3 s
   * (0 keeps every trace). Traces then wait in the sampler's buffer, not the assembler's.
   */
  sampling?: { sampleN: number };
}

export interface TierPeers<O extends { stop(): Promise<void> }> {
  /** Bootstrap addresses of the broker(s). */
  brokers: readonly string[];
  /** The topic between agents and gateways (the caller creates it); the group is `gw-<topic>`. */
  topic: string;
  /** The OAP the gateways export to (`host:port` in `oapEndpoint`); stopped by `tier.stop()`. */
  oap: O;
  oapEndpoint: string;
}

/**
 * Starts the two agents and `opts.gateways` gateways, and waits until every gateway joined the
 * group once. If that fails, everything started (and the OAP) is stopped.
 */
export async function startTier<O extends { stop(): Promise<void> }>(peers: TierPeers<O>, opts: TierOptions): Promise<Tier<O>> {
  const { oap, topic } = peers;
  const brokers = JSON.stringify(peers.brokers);
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
${
  opts.sampling === undefined
    ? ''
    : `processors:
  tail_sampling:
    sample_n_per_3_secs: ${opts.sampling.sampleN}
    quiet_period: ${opts.quietPeriod ?? '300ms'}
    decision_wait: ${opts.maxWait ?? '4s'}
    ack: after_decision
    ack_timeout: ${opts.ackTimeout ?? '5s'}
`
}exporters:
  skywalking:
    endpoint: ${peers.oapEndpoint}
    ack: after_export
    ack_timeout: ${opts.ackTimeout ?? '5s'}
    assembly: { quiet_period: ${opts.quietPeriod ?? '300ms'}, max_wait: ${opts.maxWait ?? '4s'} }
pipelines:
  traces: { receivers: [kafka], ${opts.sampling === undefined ? '' : 'processors: [tail_sampling], '}exporters: [skywalking] }
`;
  const ports = [await freePort(), await freePort()];
  const agents = await Promise.all(ports.map(async (port, i) => ({ process: await SkybridgeProcess.start(`agent${i + 1}`, agentYaml(port)), port })));
  const tier: Tier<O> = {
    oap,
    agents,
    gateways: [],
    spansIn: 0,
    resends: 0,
    resentTraces: new Set(),
    traces: 0,
    async startGateway() {
      const g = await SkybridgeProcess.start(`gateway${this.gateways.length + 1}`, gatewayYaml);
      this.gateways.push(g);
      return g;
    },
    send(n, perSecond = 200) {
      return this.deliver(this.makeTraces(n), ALL_PARTS, perSecond);
    },
    makeTraces(n) {
      this.traces += n;
      return Array.from({ length: n }, () => threeServiceTrace({ t0: BigInt(Date.now()) * 1_000_000n }));
    },
    async deliver(traces, parts, perSecond = 200) {
      const sends: Promise<void>[] = [];
      const sendUntilAccepted = async (port: number, rs: ResourceSpans, traceId: string) => {
        const end = Date.now() + 45_000;
        while (!(await postOtlp(port, rs))) {
          this.resends++;
          this.resentTraces.add(traceId);
          if (Date.now() > end) throw new Error('an agent refused a batch for 45 s');
          await sleep(250);
        }
        this.spansIn += rs.scopeSpans.reduce((n, ss) => n + ss.spans.length, 0);
      };
      for (const t of traces) {
        for (const part of parts) sends.push(sendUntilAccepted(agents[part === 'frontend' ? 0 : 1]!.port, t.batches[part], t.traceId));
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
    // Every gateway joined the group (the mock cluster holds a group's first join for about 3 s; on
    // a loaded machine kafkajs may need a few tries).
    const end = Date.now() + 45_000;
    for (const g of tier.gateways) {
      while ((await consumerEvents(g, 'rebalance')) < 1) {
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

/** One metric of a skybridge's /metrics, summed over the samples with these labels (0 while it is down). */
export async function kafkaMetric(g: SkybridgeProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const samples = await scrapeMetrics(g.telemetryPort).catch(() => []);
  return metricSum(samples, name, { component: 'kafka', ...labels });
}

/** `skybridge_kafka_consumer_events_total{event}` of a gateway (rebalance, commit, commit_failed, abandoned, ...). */
export const consumerEvents = (g: SkybridgeProcess, event: string) => kafkaMetric(g, 'skybridge_kafka_consumer_events_total', { event });
export const assignedPartitions = (g: SkybridgeProcess) => kafkaMetric(g, 'skybridge_kafka_assigned_partitions');
export const inFlightMessages = (g: SkybridgeProcess) => kafkaMetric(g, 'skybridge_queue_size', { queue: 'in_flight_messages' });

/** Dropped spans of every component (exporter and tail_sampling) for one reason. */
export async function droppedSpans(g: SkybridgeProcess, reason: string): Promise<number> {
  const samples = await scrapeMetrics(g.telemetryPort).catch(() => []);
  return metricSum(samples, 'skybridge_dropped_spans_total', { reason });
}
