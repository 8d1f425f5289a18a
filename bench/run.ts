/**
 * `npm run bench`: realistic 3-service traces into a running skybridge that exports to an
 * in-process sink OAP, then the same requests into a decode-only server, for each case of the run:
 * OTLP/gRPC (`otlp_grpc`), Zipkin v2 JSON over HTTP (`zipkin_json`) and Jaeger Thrift over HTTP
 * (`jaeger_thrift`), the same logical traces in each. Prints per case spans/s, receive→export
 * latency, peak RSS and the ratio to that case's decode-only floor, then a summary; checks that
 * every span accepted reached the sink, and writes the figures to bench/results/latest.json.
 * See bench/README.md for what each figure means. Exits 1 when spans were lost or the run failed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../core/config/units.ts';
import { DecodeOnlyFloorError, runDecodeOnlyFloor, type ProcessFigures } from './decode-only-floor.ts';
import { runHttpLoad } from './http-load.ts';
import type { LoadOptions, LoadResult } from './load.ts';
import { cpuProfileFlags, extraNodeFlags, MeasuredProcess } from './measured-process.ts';
import { runOtlpLoad } from './otlp-load.ts';
import { RequestPool, type PoolFormat } from './request-pool.ts';
import { SinkOap } from './sink-oap.ts';
import { scrapeSamples, waitUntilReady, freePort } from './skybridge-telemetry.ts';
import { runTailSamplingCase } from './cases/tail-sampling.ts';
import { runKafkaTierCase } from './cases/kafka-tier.ts';
import { runOverloadCase } from './cases/overload.ts';
import { MAX_TRACE_SPANS, MIN_TRACE_SPANS } from './trace-generator.ts';
import { skybridgeEntry } from './skybridge-entry.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** One benchmark case: a wire format, the receiver that takes it and the client that sends it. */
interface BenchCase {
  name: CaseName;
  /** What the load is, for the report. */
  title: string;
  format: PoolFormat;
  receiverId: string;
  /** The receiver's block under `receivers:`, listening on `port`. */
  receiverYaml(port: number): string;
  /** Runs the load against a server on loopback `port` (skybridge's receiver or the floor). */
  load(port: number, options: LoadOptions): Promise<LoadResult>;
}

const CASES = {
  otlp_grpc: {
    title: 'OTLP/gRPC',
    format: 'otlp',
    receiverId: 'otlp',
    receiverYaml: (port: number) => `  otlp:\n    grpc:\n      endpoint: 127.0.0.1:${port}\n    http: null\n`,
    load: (port: number, options: LoadOptions) => runOtlpLoad({ ...options, target: `127.0.0.1:${port}` }),
  },
  zipkin_json: {
    title: 'Zipkin v2 JSON, POST /api/v2/spans',
    format: 'zipkin_json',
    receiverId: 'zipkin',
    receiverYaml: (port: number) => `  zipkin:\n    endpoint: 127.0.0.1:${port}\n`,
    load: (port: number, options: LoadOptions) =>
      runHttpLoad({ ...options, url: `http://127.0.0.1:${port}/api/v2/spans`, contentType: 'application/json' }),
  },
  jaeger_thrift: {
    title: 'Jaeger Thrift binary, POST /api/traces',
    format: 'jaeger_thrift',
    receiverId: 'jaeger',
    receiverYaml: (port: number) =>
      `  jaeger:\n    protocols:\n      thrift_compact: null\n      thrift_binary: null\n      thrift_http:\n        endpoint: 127.0.0.1:${port}\n      grpc: null\n`,
    load: (port: number, options: LoadOptions) =>
      runHttpLoad({ ...options, url: `http://127.0.0.1:${port}/api/traces`, contentType: 'application/x-thrift' }),
  },
} as const satisfies Record<string, Omit<BenchCase, 'name'>>;
type CaseName = keyof typeof CASES;
const CASE_NAMES = Object.keys(CASES) as CaseName[];
/** Cases with a runner of their own (bench/cases/), run only when named in --cases. */
const SEPARATE_CASES = ['tail_sampling', 'kafka_tier', 'overload'];

const USAGE = `Usage: npm run bench -- [options]
  --cases ${CASE_NAMES.join(',')}
                            the cases to run, in this order (default: all three)
                            tail_sampling: run only when named (bench/cases/tail-sampling.ts; paced
                            to 50k spans/s unless --rate; use --duration 60s)
                            kafka_tier: run only when named (bench/cases/kafka-tier.ts: agent → Kafka
                            mock → 2 gateways → sink, then the OTLP/gRPC decode-only floor; closed
                            loop, 15 s unless --duration)
                            overload: run only when named (bench/cases/overload.ts: open loop at
                            2.5× what a 6 s calibration delivers (or --rate), refusals never resent,
                            every acknowledged span checked at a sink in its own process; then a
                            sustainable phase at half the delivered rate; 60 s unless --duration)
  --duration 15s            per case: how long to send load into skybridge (ignored with --requests;
                            overload: 60s when not given)
  --requests N              per case: send exactly N requests instead of running for --duration
  --concurrency 8           requests in flight at once
  --rate N                  start N requests per second (open loop) instead of as fast as acks allow
                            (overload: the overload phase's rate, instead of the calibrated one)
  --spans-per-request 100..500
  --quiet-period 1s         skywalking exporter assembly.quiet_period
  --workers 1               skybridge's \`workers:\` (threads running the pipelines); 1 keeps figures
                            comparable with earlier runs, \`auto\` is what the skybridge command uses
  --seed 1                  trace generator seed
  --templates 200           distinct requests generated up front (later ones reuse them with fresh ids)
  --out bench/results/latest.json
  --keep-logs               keep the temp dir with the config and child logs
  --sink-rate N             overload: the sink takes at most N segments/s (then capacity is the sink's)
  --sustain-duration 20s    overload: length of the sustainable phase (0s skips it)
  --cpu-prof                write a V8 CPU profile of each child (skybridge, decode-only) to the
                            kept temp dir, for chrome://inspect or speedscope`;

class BenchError extends Error {}

interface Options {
  cases: BenchCase[];
  /** `--cases` named tail_sampling (bench/cases/tail-sampling.ts). */
  tailSampling: boolean;
  /** `--cases` named kafka_tier (bench/cases/kafka-tier.ts). */
  kafkaTier: boolean;
  /** `--cases` named overload (bench/cases/overload.ts). */
  overload: boolean;
  durationMs: number | undefined;
  /** Whether `--duration` was given (the overload case has a default of its own). */
  durationGiven: boolean;
  /** `--sink-rate`: segments/s the overload case's sink takes at most. */
  sinkRate: number | undefined;
  /** `--sustain-duration`: the overload case's sustainable phase. */
  sustainMs: number;
  requests: number | undefined;
  concurrency: number;
  rate: number | undefined;
  minSpans: number;
  maxSpans: number;
  quietPeriod: string;
  /** `--workers`: skybridge's `workers:` setting. */
  workers: string;
  seed: number;
  templates: number;
  out: string;
  keepLogs: boolean;
  cpuProf: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      cases: { type: 'string', default: CASE_NAMES.join(',') },
      duration: { type: 'string' },
      requests: { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      rate: { type: 'string' },
      'spans-per-request': { type: 'string', default: '100..500' },
      'quiet-period': { type: 'string', default: '1s' },
      workers: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      templates: { type: 'string', default: '200' },
      out: { type: 'string', default: 'bench/results/latest.json' },
      'keep-logs': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'sink-rate': { type: 'string' },
      'sustain-duration': { type: 'string', default: '20s' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const positiveInt = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new BenchError(`--${flag}: expected a positive integer, got "${text}".`);
    return n;
  };
  const range = /^(\d+)(?:\.\.(\d+))?$/.exec(values['spans-per-request']);
  if (!range) throw new BenchError(`--spans-per-request: expected "MIN..MAX" or "N", got "${values['spans-per-request']}".`);
  const minSpans = Number(range[1]);
  const maxSpans = Number(range[2] ?? range[1]);
  if (minSpans > maxSpans || maxSpans < MIN_TRACE_SPANS) {
    throw new BenchError(`--spans-per-request: need MIN ≤ MAX and MAX ≥ ${MIN_TRACE_SPANS} (the smallest trace; the largest has ${MAX_TRACE_SPANS}).`);
  }
  const durationMs = parseDuration(values.duration ?? '15s');
  if (durationMs === undefined || durationMs <= 0) throw new BenchError(`--duration: expected a duration such as "20s", got "${values.duration}".`);
  const sustainMs = parseDuration(values['sustain-duration']);
  if (sustainMs === undefined || sustainMs < 0) throw new BenchError(`--sustain-duration: expected a duration such as "20s" (or "0s"), got "${values['sustain-duration']}".`);
  if (parseDuration(values['quiet-period']) === undefined) throw new BenchError(`--quiet-period: expected a duration such as "1s".`);
  if (!/^(auto|[1-9][0-9]*)$/.test(values.workers)) throw new BenchError(`--workers: expected a number of threads or "auto".`);
  const requests = values.requests === undefined ? undefined : positiveInt('requests', values.requests);
  const caseNames = values.cases.split(',').map((c) => c.trim()).filter((c) => c !== '');
  const unknown = caseNames.filter((c) => !(CASE_NAMES as string[]).includes(c) && !SEPARATE_CASES.includes(c));
  if (caseNames.length === 0 || unknown.length > 0) {
    throw new BenchError(`--cases: expected a comma-separated list of ${[...CASE_NAMES, ...SEPARATE_CASES].join(', ')}; ${unknown.length ? `unknown: ${unknown.join(', ')}` : 'got none'}.`);
  }
  if (new Set(caseNames).size !== caseNames.length) throw new BenchError('--cases: a case is named twice.');
  return {
    cases: (caseNames.filter((c) => !SEPARATE_CASES.includes(c)) as CaseName[]).map((name) => ({ name, ...CASES[name] })),
    tailSampling: caseNames.includes('tail_sampling'),
    kafkaTier: caseNames.includes('kafka_tier'),
    overload: caseNames.includes('overload'),
    durationMs: requests === undefined ? durationMs : undefined,
    durationGiven: values.duration !== undefined,
    sinkRate: values['sink-rate'] === undefined ? undefined : positiveInt('sink-rate', values['sink-rate']),
    sustainMs,
    requests,
    concurrency: positiveInt('concurrency', values.concurrency),
    rate: values.rate === undefined ? undefined : positiveInt('rate', values.rate),
    minSpans,
    maxSpans,
    quietPeriod: values['quiet-period'],
    workers: values.workers,
    seed: positiveInt('seed', values.seed),
    templates: positiveInt('templates', values.templates),
    out: resolve(ROOT, values.out),
    keepLogs: values['keep-logs'] || values['cpu-prof'],
    cpuProf: values['cpu-prof'],
  };
}


function skybridgeConfig(benchCase: BenchCase, ports: { receiver: number; sink: number; telemetry: number }, quietPeriod: string, workers: string): string {
  return `# Written by bench/run.ts for the ${benchCase.name} case of one benchmark run.
workers: ${workers}
receivers:
${benchCase.receiverYaml(ports.receiver)}
exporters:
  skywalking:
    endpoint: 127.0.0.1:${ports.sink}
    assembly:
      quiet_period: ${quietPeriod}

pipelines:
  traces:
    receivers: [${benchCase.receiverId}]
    exporters: [skywalking]

telemetry:
  endpoint: 127.0.0.1:${ports.telemetry}
  log_level: warn
`;
}

/** Node flags for a child: CPU profiles written when it exits, when --cpu-prof asked for them. */
function profileFlags(options: Options, workDir: string, name: string): string[] {
  return cpuProfileFlags(options.cpuProf, workDir, name);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sums of the skybridge counters the report shows, by metric and `reason` label. */
async function scrapeMetrics(telemetryPort: number): Promise<Record<string, number>> {
  const wanted = [
    'skybridge_receiver_accepted_spans_total',
    'skybridge_receiver_refused_spans_total',
    'skybridge_dropped_spans_total',
    'skybridge_exporter_sent_spans_total',
    'skybridge_exporter_sent_segments_total',
    'skybridge_exporter_send_failed_segments_total',
  ];
  const out: Record<string, number> = {};
  try {
    for (const s of await scrapeSamples(telemetryPort)) {
      if (!wanted.includes(s.name)) continue;
      const reason = s.labels.reason;
      const key = reason ? `${s.name}{reason="${reason}"}` : s.name;
      out[key] = (out[key] ?? 0) + s.value;
    }
  } catch (error) {
    out.scrape_failed = 1;
    process.stderr.write(`Could not read skybridge /metrics: ${(error as Error).message}\n`);
  }
  return out;
}

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** SkyWalking trace ids are the OTel ids as hex today; separators are ignored in case that changes. */
const normaliseTraceId = (id: string) => id.toLowerCase().replace(/[^0-9a-f]/g, '');

const round = (n: number | null, digits = 1) => (n === null ? null : Number(n.toFixed(digits)));
const mib = (bytes: number | null) => (bytes === null ? 'n/a' : `${(bytes / 1048576).toFixed(1)} MiB`);
const fmt = (n: number | null, unit = '') => (n === null ? 'n/a' : `${n.toLocaleString('en-US', { maximumFractionDigits: 1 })}${unit}`);

async function runPipeline(options: Options, benchCase: BenchCase, pool: RequestPool, workDir: string) {
  const sink = new SinkOap();
  const sinkPort = await sink.start();
  const ports = { receiver: await freePort(), sink: sinkPort, telemetry: await freePort() };
  const configFile = join(workDir, `skybridge-${benchCase.name}.yaml`);
  writeFileSync(configFile, skybridgeConfig(benchCase, ports, options.quietPeriod, options.workers));

  const proc = new MeasuredProcess({
    command: process.execPath,
    args: [...extraNodeFlags(), ...profileFlags(options, workDir, `skybridge-${benchCase.name}`), skybridgeEntry(), '--config', configFile],
    cwd: ROOT,
    logFile: join(workDir, `skybridge-${benchCase.name}.log`),
  });
  try {
    // BenchError: a skybridge that does not start is a failed run, reported without a stack.
    await waitUntilReady(proc, ports.telemetry, 30_000).catch((error: Error) => {
      throw new BenchError(error.message);
    });
    proc.startSampling();

    const sentAt = new Map<string, { sentMs: number; spans: number }>();
    const cpuBefore = proc.cpuSeconds();
    const load = await benchCase.load(ports.receiver, {
      pool,
      concurrency: options.concurrency,
      rate: options.rate,
      requests: options.requests,
      durationMs: options.durationMs,
      // A trace may come in several requests (Jaeger: one batch per process): its latency starts
      // at the first of them, and it is whole once all their spans arrived.
      onFirstSend: (request, atMs) => {
        request.traceIds.forEach((id, i) => {
          const seen = sentAt.get(id);
          if (seen === undefined) sentAt.set(id, { sentMs: atMs, spans: request.spansPerTrace[i]! });
          else seen.spans += request.spansPerTrace[i]!;
        });
      },
    });
    if (proc.hasExited) throw new BenchError(`skybridge exited during the load. Its output:\n${proc.logTail()}`);

    // Drain: traces are exported a quiet period after their last span, then batched to the sink.
    const quietMs = parseDuration(options.quietPeriod)!;
    const stallMs = quietMs + 5_000;
    const drainStart = performance.now();
    while (sink.spans < load.spansAcked && !proc.hasExited) {
      const lastProgress = Math.max(sink.lastArrivalMs ?? 0, drainStart);
      if (performance.now() - lastProgress > stallMs) break;
      await sleep(50);
    }
    const cpuAfter = proc.cpuSeconds();
    const figures: ProcessFigures = {
      peakRssBytes: proc.peakRssBytes(),
      maxSampledRssBytes: proc.maxSampledRssBytes,
      cpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
    };
    const metrics = await scrapeMetrics(ports.telemetry);
    const spansAtSinkBeforeStop = sink.spans;
    const lastArrivalMs = sink.lastArrivalMs;

    // Latency per trace, from the first send of its request to its last segment at the sink.
    const latencies: number[] = [];
    let incompleteTraces = 0;
    let unmatchedTraces = 0;
    const byId = new Map([...sink.traces].map(([id, arrival]) => [normaliseTraceId(id), arrival]));
    for (const [traceId, { sentMs, spans }] of sentAt) {
      const arrival = byId.get(traceId);
      if (arrival === undefined || arrival.spans < spans) incompleteTraces++;
      else latencies.push(arrival.lastArrivalMs - sentMs);
    }
    for (const id of byId.keys()) if (!sentAt.has(id)) unmatchedTraces++;
    latencies.sort((a, b) => a - b);

    const stopped = await proc.stop();
    await sink.stop();
    const windowMs = lastArrivalMs === undefined ? null : lastArrivalMs - load.firstSendMs;
    const loadWindowMs = load.lastAckMs - load.firstSendMs;
    return {
      load,
      figures,
      metrics,
      sink: {
        spansBeforeStop: spansAtSinkBeforeStop,
        spansTotal: sink.spans,
        segments: sink.segments,
        streams: sink.streams,
        traces: sink.traces.size,
        malformedSegments: sink.malformedSegments,
        redeliveredSegments: sink.redeliveredSegments,
        redeliveredSpans: sink.redeliveredSpans,
        instanceReports: sink.instanceReports,
        keepAlives: sink.keepAlives,
      },
      throughput: {
        windowSeconds: windowMs === null ? null : windowMs / 1000,
        spansPerSecond: windowMs === null || windowMs <= 0 ? null : spansAtSinkBeforeStop / (windowMs / 1000),
        requestsPerSecond: loadWindowMs > 0 ? load.requestsAcked / (loadWindowMs / 1000) : null,
        ackedSpansPerSecond: loadWindowMs > 0 ? load.spansAcked / (loadWindowMs / 1000) : null,
      },
      latencyMs: {
        traces: latencies.length,
        incompleteTraces,
        unmatchedTraces,
        p50: percentile(latencies, 0.5),
        p90: percentile(latencies, 0.9),
        p99: percentile(latencies, 0.99),
        max: latencies.length ? latencies[latencies.length - 1]! : null,
      },
      exit: stopped,
      logFile: proc.logFile,
    };
  } catch (error) {
    await proc.stop(5_000).catch(() => {});
    await sink.stop();
    throw error;
  }
}

function gitDescribe(): string | null {
  try {
    const quiet = { cwd: ROOT, encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'ignore'] as ('ignore' | 'pipe')[] };
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], quiet).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], quiet).trim() !== '';
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return null;
  }
}

function retriesText(load: LoadResult): string {
  const parts = Object.entries(load.retries).map(([code, n]) => `${n} ${code}`);
  return parts.length ? parts.join(', ') : 'none';
}

const avgCores = (cpu: number | null, seconds: number | null) => (cpu === null || !seconds ? null : cpu / seconds);

function printRows(rows: [string, string][]): void {
  const width = Math.max(...rows.filter(([, v]) => v !== '').map(([k]) => k.length));
  process.stdout.write(`${rows.map(([k, v]) => (v === '' ? k : `${k.padEnd(width)}  ${v}`)).join('\n')}\n`);
}

/** One case: encode, pipeline run, floor run, its table. Returns its figures for the summary and JSON. */
async function runCase(options: Options, benchCase: BenchCase, generated: ReturnType<typeof RequestPool.generateBatches>, workDir: string) {
  const caseCpuBefore = process.cpuUsage();
  const encodeStart = performance.now();
  const pool = RequestPool.encode(generated, benchCase.format);
  const encodeMs = performance.now() - encodeStart;
  const load = options.requests === undefined ? `for ${options.durationMs! / 1000}s` : `${options.requests} requests`;
  process.stdout.write(
    `\n=== ${benchCase.name}: ${benchCase.title} ===\n` +
      `Encoded ${pool.size} distinct requests (${pool.templateSpans.toLocaleString('en-US')} spans, ` +
      `${(pool.templateBytes / pool.templateSpans).toFixed(0)} B/span) in ${(encodeMs / 1000).toFixed(1)}s.\n` +
      `Pipeline run: ${benchCase.title} → skybridge → sink OAP, ${load}, ${options.concurrency} in flight` +
      `${options.rate === undefined ? '' : ` at ${options.rate} requests/s`}, quiet_period ${options.quietPeriod}, workers ${options.workers}.\n`,
  );

  const pipeline = await runPipeline(options, benchCase, pool, workDir);
  const requests = pipeline.load.requestsStarted;
  process.stdout.write(`Floor run: the same ${requests} requests → decode-only server.\n\n`);
  const floor = await runDecodeOnlyFloor({
    format: benchCase.name,
    load: benchCase.load,
    pool,
    concurrency: options.concurrency,
    requests,
    workDir,
    cpuProf: options.cpuProf,
  });
  const caseCpu = process.cpuUsage(caseCpuBefore);

  const ratio =
    pipeline.throughput.spansPerSecond !== null && floor.throughput.spansPerSecond
      ? pipeline.throughput.spansPerSecond / floor.throughput.spansPerSecond
      : null;
  const spansSent = pipeline.load.spansAcked;
  const spansAtSink = pipeline.sink.spansTotal;
  const lossOk = spansSent === spansAtSink && pipeline.load.requestsFailed === 0;

  const p = pipeline;
  printRows([
    [`skybridge (${benchCase.title} → trace assembly → SkyWalking gRPC → sink OAP)`, ''],
    ['  requests acked / sent', `${fmt(p.load.requestsAcked)} / ${fmt(p.load.requestsStarted)} (failed ${p.load.requestsFailed}; retries: ${retriesText(p.load)})`],
    ['  spans/s (arrived at sink)', fmt(round(p.throughput.spansPerSecond, 0))],
    ['  acked spans/s, requests/s', `${fmt(round(p.throughput.ackedSpansPerSecond, 0))}, ${fmt(round(p.throughput.requestsPerSecond))}`],
    [
      '  receive→export latency (ms)',
      `p50 ${fmt(round(p.latencyMs.p50))}  p90 ${fmt(round(p.latencyMs.p90))}  p99 ${fmt(round(p.latencyMs.p99))}  max ${fmt(round(p.latencyMs.max))}  (${fmt(p.latencyMs.traces)} traces)`,
    ],
    ['  peak RSS (VmHWM / max sampled)', `${mib(p.figures.peakRssBytes)} / ${mib(p.figures.maxSampledRssBytes)}`],
    ['  CPU', `${fmt(round(p.figures.cpuSeconds, 2), ' s')} (${fmt(round(avgCores(p.figures.cpuSeconds, p.throughput.windowSeconds), 2))} cores avg)`],
    [`decode-only floor (${benchCase.title} → decode → ${benchCase.name === 'otlp_grpc' ? 'OK' : '202'})`, ''],
    ['  requests acked / sent', `${fmt(floor.load.requestsAcked)} / ${fmt(floor.load.requestsStarted)} (failed ${floor.load.requestsFailed}; retries: ${retriesText(floor.load)})`],
    ['  spans/s', fmt(round(floor.throughput.spansPerSecond, 0))],
    ['  peak RSS (VmHWM / max sampled)', `${mib(floor.figures.peakRssBytes)} / ${mib(floor.figures.maxSampledRssBytes)}`],
    ['  CPU', `${fmt(round(floor.figures.cpuSeconds, 2), ' s')} (${fmt(round(avgCores(floor.figures.cpuSeconds, floor.throughput.windowSeconds), 2))} cores avg)`],
    [
      'ratio',
      ratio === null
        ? 'n/a'
        : `pipeline runs at ${ratio.toFixed(2)}× the decode-only floor${options.rate === undefined ? '' : ' (paced by --rate: offered load, not capacity)'}`,
    ],
    ['end-to-end check', `spans sent ${fmt(spansSent)}, spans at sink ${fmt(spansAtSink)}${spansAtSink !== p.sink.spansBeforeStop ? ` (${fmt(spansAtSink - p.sink.spansBeforeStop)} of them flushed at shutdown)` : ''}`],
    ['load generator + sink CPU', `${fmt(round((caseCpu.user + caseCpu.system) / 1e6, 2), ' s')} (this process, this case; ${os.cpus().length} CPUs on this machine)`],
  ]);
  if (p.latencyMs.incompleteTraces > 0) process.stdout.write(`  ${p.latencyMs.incompleteTraces} traces had not fully arrived before skybridge was stopped; they are not in the latency figures.\n`);
  if (p.latencyMs.unmatchedTraces > 0) process.stdout.write(`  ${p.latencyMs.unmatchedTraces} trace ids at the sink match no trace sent (did the SkyWalking trace id format change?).\n`);
  if (p.sink.malformedSegments > 0) process.stdout.write(`  ${p.sink.malformedSegments} segments at the sink did not parse.\n`);
  if (p.sink.redeliveredSegments > 0) {
    process.stdout.write(
      `  ${fmt(p.sink.redeliveredSegments)} segments (${fmt(p.sink.redeliveredSpans)} spans) arrived again under an id already seen: the exporter resent batches ` +
        `whose stream was not answered within its timeout (at-least-once). Not counted in the figures above.\n`,
    );
  }
  if (floor.decoded !== undefined && floor.decoded.invalid > 0) process.stdout.write(`  ${floor.decoded.invalid} requests did not decode in the floor server.\n`);
  const interesting = Object.entries(p.metrics).filter(([k, v]) => v > 0 && !k.startsWith('skybridge_receiver_accepted') && !k.startsWith('skybridge_exporter_sent'));
  if (interesting.length) process.stdout.write(`  skybridge counters: ${interesting.map(([k, v]) => `${k} ${v}`).join(', ')}\n`);

  if (!lossOk) {
    const what =
      spansAtSink < spansSent
        ? `${fmt(spansSent - spansAtSink)} SPANS LOST: skybridge accepted ${fmt(spansSent)} spans but only ${fmt(spansAtSink)} reached the sink.`
        : spansAtSink > spansSent
          ? `${fmt(spansAtSink - spansSent)} SPANS DUPLICATED: skybridge accepted ${fmt(spansSent)} spans but ${fmt(spansAtSink)} reached the sink.`
          : `${p.load.requestsFailed} REQUESTS FAILED permanently: ${p.load.failures.join('; ')}`;
    process.stderr.write(`\n!!! ${benchCase.name}: END-TO-END CHECK FAILED: ${what}\n!!! skybridge log: ${p.logFile}\n`);
  }

  return {
    name: benchCase.name,
    title: benchCase.title,
    lossOk,
    json: {
      title: benchCase.title,
      pool: { requests: pool.size, spans: pool.templateSpans, bytes: pool.templateBytes, encodeSeconds: round(encodeMs / 1000, 2) },
      pipeline: {
        load: p.load,
        throughput: p.throughput,
        latencyMs: p.latencyMs,
        process: p.figures,
        sink: p.sink,
        skybridgeMetrics: p.metrics,
        exit: p.exit,
      },
      floor: { load: floor.load, throughput: floor.throughput, process: floor.figures, decoded: floor.decoded ?? null },
      ratio,
      loadGeneratorCpuSeconds: (caseCpu.user + caseCpu.system) / 1e6,
      endToEnd: { spansSent, spansAtSink, ok: lossOk },
    },
  };
}

/** What one case shows in the summary table; `floor` absent for a case with no decode-only floor. */
interface SummaryFigures {
  spansPerSecond: number | null;
  p50: number | null;
  p99: number | null;
  peakRssBytes: number | null;
  floor?: { spansPerSecond: number | null; peakRssBytes: number | null; ratio: number | null };
}

/** One row of the summary table, its cells in the order of its header; n/a in the floor's three cells when it has none. */
function summaryRow(c: { name: string; lossOk: boolean }, f: SummaryFigures): string[] {
  return [
    c.name,
    fmt(round(f.spansPerSecond, 0)),
    fmt(round(f.p50, 0)),
    fmt(round(f.p99, 0)),
    mib(f.peakRssBytes),
    f.floor === undefined ? 'n/a' : fmt(round(f.floor.spansPerSecond, 0)),
    f.floor === undefined ? 'n/a' : mib(f.floor.peakRssBytes),
    f.floor === undefined || f.floor.ratio === null ? 'n/a' : `${f.floor.ratio.toFixed(2)}×`,
    c.lossOk ? 'ok' : 'FAILED',
  ];
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const workDir = mkdtempSync(join(os.tmpdir(), 'skybridge-bench-'));
  const runStart = performance.now();
  try {
    const genStart = performance.now();
    const generated = RequestPool.generateBatches({
      seed: options.seed,
      minSpans: options.minSpans,
      maxSpans: options.maxSpans,
      startTimeMs: Date.now(),
      templates: options.templates,
    });
    const genMs = performance.now() - genStart;
    const spans = generated.reduce((n, r) => n + r.spanCount, 0);
    process.stdout.write(
      `Generated ${generated.length} distinct requests (${spans.toLocaleString('en-US')} spans, ` +
        `${options.minSpans}..${options.maxSpans} spans/request) in ${(genMs / 1000).toFixed(1)}s; ` +
        `every case sends these same traces. Cases: ${[...options.cases.map((c) => c.name), ...(options.tailSampling ? ['tail_sampling'] : []), ...(options.kafkaTier ? ['kafka_tier'] : []), ...(options.overload ? ['overload'] : [])].join(', ')}.\n`,
    );

    const results = [];
    for (const benchCase of options.cases) results.push(await runCase(options, benchCase, generated, workDir));
    const tailSampling = options.tailSampling ? await runTailSamplingCase({ ...options, durationMs: options.durationMs ?? 60_000, workDir }) : undefined;
    // kafka_tier (bench/cases/kafka-tier.ts): agent → Kafka mock → 2 gateways → sink, then its floor.
    const kafkaTier = options.kafkaTier ? await runKafkaTierCase({ ...options, durationMs: options.durationMs ?? 15_000, workDir }) : undefined;
    // overload (bench/cases/overload.ts): overload phase, then a sustainable one; 60 s unless --duration.
    const overload = options.overload
      ? await runOverloadCase({ ...options, durationMs: options.durationGiven && options.durationMs !== undefined ? options.durationMs : 60_000, workDir })
      : undefined;
    const separate = [tailSampling, kafkaTier, overload].filter((r) => r !== undefined);

    process.stdout.write(`\n=== summary (${options.requests === undefined ? `${options.durationMs! / 1000}s` : `${options.requests} requests`} per case, ${options.concurrency} in flight${options.rate === undefined ? '' : `, ${options.rate} requests/s`}) ===\n`);
    const header = ['case', 'spans/s', 'p50 ms', 'p99 ms', 'peak RSS', 'floor spans/s', 'floor RSS', 'ratio', 'end-to-end'];
    const table = results.map((r) => {
      const j = r.json;
      return summaryRow(r, {
        spansPerSecond: j.pipeline.throughput.spansPerSecond,
        p50: j.pipeline.latencyMs.p50,
        p99: j.pipeline.latencyMs.p99,
        peakRssBytes: j.pipeline.process.peakRssBytes,
        floor: { spansPerSecond: j.floor.throughput.spansPerSecond, peakRssBytes: j.floor.process.peakRssBytes, ratio: j.ratio },
      });
    });
    // The separate cases, in the order they ran, with a note each on what their cells mean.
    const notes: string[] = [];
    if (tailSampling !== undefined) {
      const j = tailSampling.json;
      table.push(summaryRow(tailSampling, { spansPerSecond: j.throughput.acceptedSpansPerSecond, p50: j.latencyMs.p50, p99: j.latencyMs.p99, peakRssBytes: j.process.peakRssBytes }));
      notes.push(
        `tail_sampling: spans/s accepted at the paced rate (${fmt(round(j.throughput.keptSpansPerSecond, 0))} kept/s reached the sink); ` +
          'p50/p99 of the kept traces (budget winners wait for their window); it has no floor.',
      );
    }
    if (kafkaTier !== undefined) {
      const j = kafkaTier.json;
      table.push(
        summaryRow(kafkaTier, {
          spansPerSecond: j.throughput.deliveredSpansPerSecond,
          p50: j.latencyMs.p50,
          p99: j.latencyMs.p99,
          peakRssBytes: j.largestPeakRss?.bytes ?? null,
          floor: { spansPerSecond: j.floor.throughput.spansPerSecond, peakRssBytes: j.floor.process.peakRssBytes, ratio: j.ratio },
        }),
      );
      notes.push(
        `kafka_tier: spans/s at the sink; peak RSS is the largest of agent, gateway1, gateway2 (${j.largestPeakRss?.process ?? 'n/a'}), not their sum; ` +
          'floor = OTLP/gRPC decode-only, same pool, concurrency and duration.',
      );
    }
    if (overload !== undefined) {
      const j = overload.json;
      table.push(summaryRow(overload, { spansPerSecond: j.summary.deliveredSpansPerSecond, p50: j.summary.p50, p99: j.summary.p99, peakRssBytes: j.summary.peakRssBytes }));
      notes.push(
        `overload (${j.options.durationSeconds} s overloaded, ${j.options.sustainSeconds} s sustainable): spans/s delivered at the sink under overload (${fmt(round(j.summary.deliveredSpansPerCpuSecond, 0))} per skybridge CPU-second); ` +
          'p50/p99 send → sink at the sustainable load (half that rate); it has no floor; end-to-end = every acknowledged span delivered, no refusal when sustainable.',
      );
    }
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    process.stdout.write(`${[line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line), ...notes].join('\n')}\n`);
    process.stdout.write(`Whole run: ${((performance.now() - runStart) / 1000).toFixed(0)}s.\n`);

    const result = {
      timestamp: new Date().toISOString(),
      commit: gitDescribe(),
      machine: { node: process.version, platform: `${os.platform()} ${os.arch()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null },
      options: {
        cases: options.cases.map((c) => c.name),
        durationSeconds: options.durationMs === undefined ? null : options.durationMs / 1000,
        requests: options.requests ?? null,
        concurrency: options.concurrency,
        rate: options.rate ?? null,
        spansPerRequest: [options.minSpans, options.maxSpans],
        quietPeriod: options.quietPeriod,
        seed: options.seed,
        templates: options.templates,
      },
      generated: { requests: generated.length, spans, generateSeconds: round(genMs / 1000, 2) },
      cases: Object.fromEntries([...results, ...separate].map((r) => [r.name, r.json])),
      runSeconds: round((performance.now() - runStart) / 1000, 1),
    };
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`Figures written to ${relative(process.cwd(), options.out) || options.out}.\n`);

    if ([...results, ...separate].some((r) => !r.lossOk)) {
      options.keepLogs = true;
      return 1;
    }
    return 0;
  } catch (error) {
    options.keepLogs = true;
    if (error instanceof BenchError || error instanceof DecodeOnlyFloorError) {
      process.stderr.write(`\nBenchmark failed: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    if (options.keepLogs) process.stderr.write(`Config and child logs kept in ${workDir}\n`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof BenchError ? error.message : (error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
