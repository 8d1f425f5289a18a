/**
 * The `kafka_tier` benchmark case: agent → Kafka → gateway throughput. One skybridge agent
 * (OTLP/gRPC → kafka exporter, gzip, acks all) produces to librdkafka's mock cluster (a 6-partition
 * topic); two skybridge gateways in one consumer group (kafka receiver → skywalking exporter with
 * ack: after_export) send segments to the sink OAP. The load is closed-loop OTLP/gRPC into the agent,
 * and starts only once the gateways' group has settled (kafka-group.ts).
 *
 * Reports spans/s accepted by the agent (acknowledged by Kafka), spans/s arriving at the sink,
 * messages consumed per gateway and rebalances during the load, the send → sink latency of traces,
 * peak RSS and CPU of each process, and checks that every span the agent accepted reached the sink
 * (first deliveries; redeliveries are counted apart).
 *
 * Then, with the tier's processes and the mock cluster stopped, it measures the floor of the agent's
 * ingress: the same request pool into the OTLP/gRPC decode-only server (decode-only-floor.ts), at the
 * same concurrency for the same duration, and reports the ratio of spans/s at the sink to the
 * floor's spans/s.
 *
 * The mock cluster is not a real broker (no disk, one process, C); the figures show skybridge's
 * cost on both sides of Kafka, not Kafka's.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKafkaMock } from '../../test/support/kafka-mock/kafka-mock.ts';
import { runDecodeOnlyFloor } from '../decode-only-floor.ts';
import { cpuProfileFlags, extraNodeFlags, machineBusyCpuSeconds, MeasuredProcess, processCpuSeconds } from '../measured-process.ts';
import { runOtlpLoad } from '../otlp-load.ts';
import { RequestPool } from '../request-pool.ts';
import { SinkOap } from '../sink-oap.ts';
import { scrapeSamples, sumSamples, waitUntilReady, freePort } from '../skybridge-telemetry.ts';
import { waitForSettledGroup } from './kafka-group.ts';
import { skybridgeEntry } from '../skybridge-entry.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TOPIC = 'otlp_spans';
const PARTITIONS = 6;
const GATEWAYS = 2;

export interface KafkaTierCaseOptions {
  durationMs: number;
  concurrency: number;
  minSpans: number;
  maxSpans: number;
  seed: number;
  templates: number;
  quietPeriod: string;
  workDir: string;
  /** `--cpu-prof`: write CPU profiles for the agent and each gateway to `<workDir>/skybridge-<process>.cpuprofiles/`. */
  cpuProf: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number | null | undefined) => (bytes == null ? 'n/a' : `${(bytes / 1048576).toFixed(1)} MiB`);
const fmt = (n: number | null | undefined, digits = 0) => (n == null || Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));
const percentile = (sorted: number[], p: number) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);

/** CPU seconds of this process (load generator and sink) plus the mock cluster's. */
function ownCpuSeconds(mockPid: number | undefined): number | null {
  const mock = mockPid === undefined ? null : processCpuSeconds(mockPid);
  if (mock === null) return null;
  const self = process.cpuUsage();
  return (self.user + self.system) / 1e6 + mock;
}


/** The sum of a counter's samples on one skybridge (those with `labels`), 0 when /metrics cannot be read. */
const counterSum = (telemetryPort: number, name: string, labels: Record<string, string> = {}): Promise<number> =>
  scrapeSamples(telemetryPort).then((samples) => sumSamples(samples, name, labels), () => 0);

export async function runKafkaTierCase(o: KafkaTierCaseOptions) {
  process.stdout.write(
    `\n=== kafka_tier: OTLP/gRPC → agent (kafka exporter) → Kafka mock (${PARTITIONS} partitions) → ${GATEWAYS} gateways (kafka receiver → skywalking, ack: after_export) → sink OAP ===\n` +
      `closed loop, ${o.concurrency} in flight, ${o.durationMs / 1000}s; quiet_period ${o.quietPeriod}.\n`,
  );
  const tier = await runTier(o);

  // The floor runs only now, with the agent, the gateways and the mock cluster stopped, so it does
  // not compete with them for the cores.
  process.stdout.write(`Floor run: the same request pool → OTLP/gRPC decode-only server, ${o.concurrency} in flight, ${o.durationMs / 1000}s.\n`);
  const floor = await runDecodeOnlyFloor({
    format: 'otlp_grpc',
    label: 'kafka_tier',
    load: (port, options) => runOtlpLoad({ ...options, target: `127.0.0.1:${port}` }),
    pool: tier.pool,
    concurrency: o.concurrency,
    durationMs: o.durationMs,
    workDir: o.workDir,
    cpuProf: o.cpuProf,
  });
  const tierSpansPerSecond = tier.json.throughput.deliveredSpansPerSecond;
  const floorSpansPerSecond = floor.throughput.spansPerSecond;
  const ratio = floorSpansPerSecond ? tierSpansPerSecond / floorSpansPerSecond : null;
  const cores = (cpu: number | null) => (cpu === null || floor.throughput.windowSeconds <= 0 ? 'n/a' : `${cpu.toFixed(1)} s (${(cpu / floor.throughput.windowSeconds).toFixed(2)} cores)`);
  const rows: [string, string][] = [
    ['decode-only floor (OTLP/gRPC → decode → OK)', ''],
    ['  requests acked / sent', `${fmt(floor.load.requestsAcked)} / ${fmt(floor.load.requestsStarted)} (failed ${floor.load.requestsFailed}; retries: ${Object.entries(floor.load.retries).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})`],
    ['  spans/s', `${fmt(floorSpansPerSecond)} (${fmt(floor.load.spansAcked)} spans in ${floor.throughput.windowSeconds.toFixed(1)} s)`],
    ['  peak RSS (VmHWM / max sampled), CPU', `${mib(floor.figures.peakRssBytes)} / ${mib(floor.figures.maxSampledRssBytes)}, ${cores(floor.figures.cpuSeconds)}`],
    ['ratio', ratio === null ? 'n/a' : `the tier delivers ${ratio.toFixed(2)}× the floor's spans/s (spans/s at the sink ÷ floor spans/s)`],
  ];
  printRows(rows, tier.keyWidth);
  if (floor.decoded !== undefined && floor.decoded.invalid > 0) process.stdout.write(`  ${floor.decoded.invalid} requests did not decode in the floor server.\n`);

  return {
    name: 'kafka_tier' as const,
    title: 'OTLP/gRPC → agent → Kafka → 2 gateways → skywalking',
    lossOk: tier.lossOk,
    json: {
      ...tier.json,
      floor: { format: 'otlp_grpc' as const, load: floor.load, throughput: floor.throughput, process: floor.figures, decoded: floor.decoded ?? null },
      ratio,
    },
  };
}

/** Prints `key  value` rows (a row with no value is a heading), values aligned at `minWidth` or more; returns the key width used. */
function printRows(rows: [string, string][], minWidth = 0): number {
  const width = Math.max(minWidth, ...rows.filter(([, v]) => v !== '').map(([k]) => k.length));
  process.stdout.write(`${rows.map(([k, v]) => (v === '' ? k : `${k.padEnd(width)}  ${v}`)).join('\n')}\n`);
  return width;
}

/** The tier itself: mock cluster, agent, gateways, load, drain, its table. Everything is stopped when it returns. */
async function runTier(o: KafkaTierCaseOptions) {
  const kafka = await startKafkaMock({ brokers: 1, topics: { [TOPIC]: PARTITIONS } });
  const sink = new SinkOap();
  const sinkPort = await sink.start();
  const brokers = JSON.stringify(kafka.brokers);
  const procs: { name: string; proc: MeasuredProcess; telemetry: number }[] = [];
  /** Starts one skybridge; `ready` resolves once its /readyz answers. */
  const startSkybridge = async (name: string, yaml: string, logLevel: 'warn' | 'info') => {
    const telemetry = await freePort();
    const file = join(o.workDir, `skybridge-${name}.yaml`);
    writeFileSync(file, `# Written by bench/cases/kafka-tier.ts for one benchmark run.\n${yaml}telemetry: { endpoint: "127.0.0.1:${telemetry}", log_level: ${logLevel} }\n`);
    const profile = [...extraNodeFlags(), ...cpuProfileFlags(o.cpuProf, o.workDir, `skybridge-${name}`)];
    const proc = new MeasuredProcess({ command: process.execPath, args: [...profile, skybridgeEntry(), '--config', file], cwd: ROOT, logFile: join(o.workDir, `skybridge-${name}.log`) });
    const entry = { name, proc, telemetry };
    procs.push(entry);
    const ready = waitUntilReady(proc, telemetry, 30_000).then(() => proc.startSampling());
    ready.catch(() => {}); // awaited by the caller; this only keeps an early failure from being "unhandled" meanwhile
    return { ...entry, ready };
  };
  try {
    const otlpPort = await freePort();
    const agent = await startSkybridge('agent', `receivers:
  otlp: { grpc: { endpoint: "127.0.0.1:${otlpPort}" }, http: null }
exporters:
  kafka: { brokers: ${brokers}, topic: ${TOPIC}, producer: { compression: gzip, required_acks: -1, linger: 10ms } }
pipelines:
  traces: { receivers: [otlp], exporters: [kafka] }
`, 'warn');
    await agent.ready;
    // The gateways start together, so both JoinGroups reach the mock within the ~3 s it holds a
    // group's first join and the group forms in one generation. Started one after the other, the
    // second one misses that window on a loaded machine: a second generation (session_timeout − 1 s
    // in the mock) and another chance of the SyncGroup race (kafka-group.ts). They log at info for
    // their "Joined the Kafka consumer group." lines, which say what each was assigned.
    const gateways = [];
    for (let i = 1; i <= GATEWAYS; i++) {
      gateways.push(await startSkybridge(`gateway${i}`, `receivers:
  kafka: { brokers: ${brokers}, topic: ${TOPIC}, group_id: bench, initial_offset: earliest, session_timeout: 10s, heartbeat_interval: 1s, rebalance_timeout: 20s, max_fetch_wait: 100ms, max_in_flight_messages: 20000 }
exporters:
  skywalking: { endpoint: "127.0.0.1:${sinkPort}", ack: after_export, ack_timeout: 20s, assembly: { quiet_period: ${o.quietPeriod} } }
pipelines:
  traces: { receivers: [kafka], exporters: [skywalking] }
`, 'info'));
    }
    await Promise.all(gateways.map((g) => g.ready));
    const gatewayTelemetry = gateways.map((g) => g.telemetry);
    const joins = (port: number) => counterSum(port, 'skybridge_kafka_consumer_events_total', { event: 'rebalance' });
    const group = await waitForSettledGroup(
      gateways.map((g) => ({
        name: g.name,
        logFile: g.proc.logFile,
        joins: () => joins(g.telemetry),
        checkAlive: () => {
          if (g.proc.hasExited) throw new Error(`${g.name} exited while its consumer group formed. Its output:\n${g.proc.logTail()}`);
        },
      })),
      PARTITIONS,
      // Once complete, the assignment changes only if a member crashes or leaves; holding it 3 s
      // lets a crash right after the join show up before the load starts. 90 s allows several
      // lost SyncGroup races at ~10 s each.
      { timeoutMs: 90_000, holdMs: 3_000 },
    );
    process.stdout.write(`Consumer group settled ${(group.settledAfterMs / 1000).toFixed(1)} s after the gateways were ready: ${Object.entries(group.assignments).map(([n, a]) => `${n} [${a.join(',')}]`).join(', ')}.\n`);
    const joinsBefore = await Promise.all(gatewayTelemetry.map(joins));

    const pool = RequestPool.generate({ seed: o.seed, minSpans: o.minSpans, maxSpans: o.maxSpans, startTimeMs: Date.now(), templates: o.templates });
    const sentAt = new Map<string, number>();
    const cpuBefore = procs.map((p) => p.proc.cpuSeconds());
    const ownBefore = ownCpuSeconds(kafka.process.pid);
    const machineBefore = machineBusyCpuSeconds();
    const load = await runOtlpLoad({
      target: `127.0.0.1:${otlpPort}`,
      pool,
      concurrency: o.concurrency,
      durationMs: o.durationMs,
      onFirstSend: (request, atMs) => {
        for (const id of request.traceIds) sentAt.set(id, atMs);
      },
    });
    const loadSeconds = (load.lastAckMs - load.firstSendMs) / 1000;

    // Drain: until the sink has every accepted span, or it stops growing for 10 s.
    let last = -1;
    let still = performance.now();
    while (sink.spans < load.spansAcked) {
      if (sink.spans !== last) (last = sink.spans), (still = performance.now());
      if (performance.now() - still > 10_000) break;
      await sleep(250);
    }
    const drainedMs = performance.now();
    const cpuAfter = procs.map((p) => p.proc.cpuSeconds());
    const ownAfter = ownCpuSeconds(kafka.process.pid);
    const machineAfter = machineBusyCpuSeconds();
    const produced = await counterSum(agent.telemetry, 'skybridge_kafka_messages_total', { outcome: 'produced' });
    // Per gateway: how the work was shared, and whether the group rebalanced under load (each
    // rebalance stops consumption for a while and re-reads what was in flight).
    const consumedBy = await Promise.all(gatewayTelemetry.map((port) => counterSum(port, 'skybridge_kafka_messages_total', { outcome: 'consumed' })));
    const consumed = consumedBy.reduce((a, b) => a + b, 0);
    const joinsAfter = await Promise.all(gatewayTelemetry.map(joins));
    const rebalancesUnderLoad = Math.max(0, ...joinsAfter.map((n, i) => n - joinsBefore[i]!));

    const latencies: number[] = [];
    for (const [id, arrival] of sink.traces) {
      const sent = sentAt.get(id.toLowerCase());
      if (sent !== undefined) latencies.push(arrival.lastArrivalMs - sent);
    }
    latencies.sort((a, b) => a - b);
    const deliverSeconds = ((sink.lastArrivalMs ?? drainedMs) - load.firstSendMs) / 1000;
    const lossOk = load.requestsFailed === 0 && sink.spans === load.spansAcked;
    const windowSeconds = (drainedMs - load.firstSendMs) / 1000;
    // What ran beside the benchmark: the machine's busy CPU less the skybridge processes, the mock
    // cluster and this process (load generator and sink).
    const benchCpu = ownAfter === null || ownBefore === null ? null : ownAfter - ownBefore + cpuAfter.reduce<number>((n, c, i) => n + (c ?? 0) - (cpuBefore[i] ?? 0), 0);
    const otherCores = machineAfter === null || machineBefore === null || benchCpu === null ? null : Math.max(0, machineAfter - machineBefore - benchCpu) / windowSeconds;
    const perProcess = procs.map((p, i) => {
      const cpu = cpuBefore[i] == null || cpuAfter[i] == null ? null : cpuAfter[i]! - cpuBefore[i]!;
      return { name: p.name, peakRssBytes: p.proc.peakRssBytes(), cpuSeconds: cpu };
    });

    const rows: [string, string][] = [
      ['  requests acked / sent', `${fmt(load.requestsAcked)} / ${fmt(load.requestsStarted)} (failed ${load.requestsFailed}; retries: ${Object.entries(load.retries).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})`],
      ['  spans/s accepted by the agent (Kafka-acked)', `${fmt(load.spansAcked / loadSeconds)} (${fmt(load.spansAcked)} spans in ${loadSeconds.toFixed(1)} s)`],
      ['  spans/s at the sink (first send → last segment)', `${fmt(sink.spans / deliverSeconds)} (${fmt(sink.spans)} spans, ${fmt(sink.segments)} segments, ${fmt(sink.redeliveredSegments)} redelivered)`],
      ['  Kafka messages produced / consumed', `${fmt(produced)} / ${fmt(consumed)} (${gateways.map((g, i) => `${g.name} ${fmt(consumedBy[i])}`).join(', ')}; rebalances under load: ${rebalancesUnderLoad})`],
      ['  send → last segment at sink (ms)', `p50 ${fmt(percentile(latencies, 0.5))}  p90 ${fmt(percentile(latencies, 0.9))}  p99 ${fmt(percentile(latencies, 0.99))}  max ${fmt(latencies.at(-1))}`],
      ...perProcess.map((p): [string, string] => [`  ${p.name}: peak RSS, CPU`, `${mib(p.peakRssBytes)}, ${p.cpuSeconds === null ? 'n/a' : `${p.cpuSeconds.toFixed(1)} s (${(p.cpuSeconds / windowSeconds).toFixed(2)} cores)`}`]),
      ['  load generator + sink + Kafka mock CPU', ownAfter === null || ownBefore === null ? 'n/a' : `${(ownAfter - ownBefore).toFixed(1)} s (${((ownAfter - ownBefore) / windowSeconds).toFixed(2)} cores)`],
      ['  other processes on this machine', otherCores === null ? 'n/a' : `${otherCores.toFixed(2)} cores of ${os.cpus().length}${otherCores >= 0.25 ? ' (something else was running: every figure above is lower for it)' : ''}`],
      ['end-to-end check', `accepted ${fmt(load.spansAcked)} = at sink ${fmt(sink.spans)}: ${lossOk ? 'ok' : 'MISMATCH'}`],
    ];
    const keyWidth = printRows(rows);

    const exits = [];
    for (const p of procs) exits.push(await p.proc.stop());
    // For the summary: the largest peak RSS of the three skybridge processes (not their sum).
    const measured = perProcess.filter((p) => p.peakRssBytes !== null);
    const largest = measured.length === 0 ? undefined : measured.reduce((a, b) => (b.peakRssBytes! > a.peakRssBytes! ? b : a));
    return {
      pool,
      keyWidth,
      lossOk,
      json: {
        options: { durationSeconds: o.durationMs / 1000, concurrency: o.concurrency, partitions: PARTITIONS, gateways: GATEWAYS, quietPeriod: o.quietPeriod },
        load,
        throughput: { acceptedSpansPerSecond: load.spansAcked / loadSeconds, deliveredSpansPerSecond: sink.spans / deliverSeconds },
        kafka: { produced, consumed, consumedByGateway: Object.fromEntries(gateways.map((g, i) => [g.name, consumedBy[i]])), assignments: group.assignments, groupSettledAfterMs: Math.round(group.settledAfterMs), rebalancesUnderLoad },
        latencyMs: { p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? null },
        processes: perProcess,
        largestPeakRss: largest === undefined ? null : { process: largest.name, bytes: largest.peakRssBytes },
        benchCpuSeconds: ownAfter === null || ownBefore === null ? null : ownAfter - ownBefore,
        otherProcessesCores: otherCores,
        sink: { spans: sink.spans, segments: sink.segments, redeliveredSegments: sink.redeliveredSegments },
        endToEnd: { accepted: load.spansAcked, atSink: sink.spans, ok: lossOk },
        exits,
      },
    };
  } finally {
    for (const p of procs) if (!p.proc.hasExited) await p.proc.stop(5_000).catch(() => {});
    await sink.stop();
    await kafka.stop();
  }
}
