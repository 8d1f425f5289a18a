/**
 * The `overload` benchmark case: what skybridge promises when offered more than it can deliver.
 * "Acknowledged means delivered": every span skybridge answered OK for must reach the OAP, and what
 * it cannot take it refuses (retryable) rather than accepting and dropping. Its speed is spans
 * delivered per skybridge CPU-second, not spans acknowledged.
 *
 * Two phases, each with a fresh skybridge and a fresh sink:
 *
 * 1. overload: OTLP/gRPC → skybridge (`otlp` gRPC receiver → `skywalking` exporter, default
 *    settings but the endpoint; default `admission:` bounds) → the sink OAP, which runs in a process
 *    of its own (sink-process.ts) so its CPU is not charged to skybridge, and can be slowed with
 *    `--sink-rate`. First a 6 s closed-loop calibration (`--concurrency` in flight) on the same
 *    skybridge measures the spans/s it delivers, and drains; then the load is open loop at 2.5× that
 *    (or `--rate` requests/s) for `--duration` (60 s by default). A closed loop cannot overload a
 *    server that slows its answers down: its offered rate falls to what is acknowledged. The open
 *    loop starts requests on schedule whatever the answers, with up to rate × deadline calls open.
 *    A refused request (RESOURCE_EXHAUSTED, UNAVAILABLE, with a RetryInfo or not) is never resent:
 *    it is counted and the load moves on, so every acknowledged trace is one skybridge owes the
 *    sink. Calls have the OTel SDK exporters' 10 s deadline; a call that ends without a clear answer
 *    (DEADLINE_EXCEEDED...) is counted apart, and its traces, if they arrive anyway, are reported as
 *    delivered but never acknowledged. After the load, skybridge drains (until its admission ledger
 *    is empty and the sink quiet, or the sink quiet for 30 s); then every acknowledged trace is
 *    checked at the sink, span for span.
 * 2. sustainable: the same setup, open loop at half the spans/s phase 1 delivered, for 20 s
 *    (`--sustain-duration`): latency at a load skybridge can carry, which must see no refusal.
 *
 * Latency is measured per trace from the send of its request (in this process) to the arrival of
 * its last segment at the sink (in the sink's process; both clocks are `performance.timeOrigin +
 * performance.now()` on the same machine). skybridge's own `skybridge_exporter_receive_to_export_seconds`
 * histogram is reported beside it, interpolated within its coarse buckets (…, 5, 10, 30 s).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, makeGenericClientConstructor, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { rawUnaryMethod } from '../../core/grpc/raw-method.ts';
import { cpuProfileFlags, extraNodeFlags, machineBusyCpuSeconds, MeasuredProcess } from '../measured-process.ts';
import { RequestPool } from '../request-pool.ts';
import { statusHasRetryInfo } from '../segment-scan.ts';
import { gaugeSum, matchSamples, scrapeSamples, sumSamples, waitUntilReady, type Sample, freePort } from '../skybridge-telemetry.ts';
import { skybridgeEntry } from '../skybridge-entry.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The sustainable phase's load, as a share of the spans/s the overload phase delivered. */
const SUSTAINABLE_SHARE = 0.5;
/** The overload phase's offered spans/s, as a multiple of the spans/s its calibration delivered. */
const OVERLOAD_FACTOR = 2.5;
/** The closed-loop calibration before the overload phase, on the same skybridge. */
const CALIBRATION_MS = 6_000;
/** Deadline of each Export call: the OTel SDK exporters' default timeout. */
const CALL_DEADLINE_MS = 10_000;
/** Calls open at once on one connection (HTTP/2 session) at most. */
const CALLS_PER_CONNECTION = 100;
const REFUSAL_CODES = new Set([GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.UNAVAILABLE]);
const LATENCY_HISTOGRAM = 'skybridge_exporter_receive_to_export_seconds';

export interface OverloadCaseOptions {
  /** The overload phase's load. */
  durationMs: number;
  /** The sustainable phase's load; 0 skips it. */
  sustainMs: number;
  /** Calls in flight during the calibration (closed loop). */
  concurrency: number;
  /** Requests/s for the overload phase; absent: OVERLOAD_FACTOR × the calibration's delivered spans/s. */
  rate: number | undefined;
  /** Segments/s the sink takes at most; absent: as fast as it can. */
  sinkRate: number | undefined;
  minSpans: number;
  maxSpans: number;
  seed: number;
  templates: number;
  workDir: string;
  /** Write CPU profiles to `<workDir>/skybridge-<phase>.cpuprofiles/` and `<workDir>/sink-<phase>.cpuprofiles/`. */
  cpuProf: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const epochOf = (perfMs: number) => performance.timeOrigin + perfMs;
const mib = (bytes: number | null | undefined) => (bytes == null ? 'n/a' : `${(bytes / 1048576).toFixed(1)} MiB`);
const fmt = (n: number | null | undefined, digits = 0) => (n == null || Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));
const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : 'n/a');
/** SkyWalking trace ids are the OTel ids as hex today; separators are ignored in case that changes. */
const normaliseTraceId = (id: string) => id.toLowerCase().replace(/[^0-9a-f]/g, '');

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}


// ---------------------------------------------------------------------------------------------
// skybridge: config; the histogram of its /metrics (start-up and scraping: ../skybridge-telemetry.ts)

function skybridgeConfig(ports: { otlp: number; sink: number; telemetry: number }): string {
  return `# Written by bench/cases/overload.ts for one benchmark run.
receivers:
  otlp:
    grpc:
      endpoint: 127.0.0.1:${ports.otlp}
    http: null

exporters:
  # Default settings (max_batch, timeout, sending_queue, assembly.quiet_period...), endpoint aside.
  skywalking:
    endpoint: 127.0.0.1:${ports.sink}

pipelines:
  traces:
    receivers: [otlp]
    exporters: [skywalking]

# No admission: block: its defaults (max_bytes an eighth of the V8 heap limit within 32..80 MiB,
# max_spans 2,000,000, retry_after 1s) are what is measured.

telemetry:
  endpoint: 127.0.0.1:${ports.telemetry}
  log_level: warn
`;
}

/**
 * Quantile `q` of a Prometheus histogram, summed over its label sets, interpolated linearly inside
 * the bucket it falls in (as PromQL's histogram_quantile). `aboveTop` when it lies past the
 * largest finite bucket bound, which is then returned.
 */
function histogramQuantile(samples: Sample[], name: string, q: number): { seconds: number; aboveTop: boolean } | null {
  const byLe = new Map<number, number>();
  for (const s of matchSamples(samples, `${name}_bucket`)) {
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const buckets = [...byLe].sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return { seconds: lowerLe, aboveTop: true };
      return { seconds: lowerLe + ((le - lowerLe) * (rank - lowerCount)) / Math.max(1, count - lowerCount), aboveTop: false };
    }
    lowerLe = le;
    lowerCount = count;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The sink, in its own process

interface SinkCounts {
  /** When the sink wrote these counts (epoch ms). */
  nowEpochMs: number;
  segments: number;
  spans: number;
  traces: number;
  redeliveredSegments: number;
  redeliveredSpans: number;
  malformed: number;
  streams: number;
  lastArrivalEpochMs: number | null;
}

type SinkFinal = Omit<SinkCounts, 'traces' | 'nowEpochMs'> & { traces: [id: string, spans: number, segments: number, firstEpochMs: number, lastEpochMs: number][] };

interface SinkHandle {
  proc: MeasuredProcess;
  port: number;
  /** The latest progress line (at most 250 ms old). */
  progress(): SinkCounts;
  /** SIGTERM; resolves with the per-trace report once its stdout has closed. */
  stop(): Promise<SinkFinal>;
}

async function startSink(o: OverloadCaseOptions, label: string): Promise<SinkHandle> {
  let resolvePort!: (port: number) => void;
  const portLine = new Promise<number>((r) => (resolvePort = r));
  let latest: SinkCounts = { nowEpochMs: 0, segments: 0, spans: 0, traces: 0, redeliveredSegments: 0, redeliveredSpans: 0, malformed: 0, streams: 0, lastArrivalEpochMs: null };
  let final: SinkFinal | undefined;
  const proc = new MeasuredProcess({
    command: process.execPath,
    args: [
      ...cpuProfileFlags(o.cpuProf, o.workDir, `sink-${label}`),
      '--import',
      'tsx',
      join(ROOT, 'bench/sink-process.ts'),
      ...(o.sinkRate === undefined ? [] : ['--sink-rate', String(o.sinkRate)]),
    ],
    cwd: ROOT,
    logFile: join(o.workDir, `sink-${label}.log`),
    onStdoutLine: (line) => {
      const msg = JSON.parse(line) as { port?: number; progress?: SinkCounts; final?: SinkFinal };
      if (msg.port !== undefined) resolvePort(msg.port);
      else if (msg.progress !== undefined) latest = msg.progress;
      else if (msg.final !== undefined) final = msg.final;
    },
  });
  const stdoutClosed = new Promise<void>((r) => proc.child.stdout!.once('close', () => r()));
  const port = await Promise.race([
    portLine,
    proc.exited.then(() => {
      throw new Error(`The sink exited during start-up. Its output:\n${proc.logTail()}`);
    }),
    sleep(30_000).then(() => {
      throw new Error(`The sink did not start within 30s. Its output:\n${proc.logTail()}`);
    }),
  ]);
  proc.startSampling();
  return {
    proc,
    port,
    progress: () => latest,
    async stop() {
      await proc.stop(10_000);
      await Promise.race([stdoutClosed, sleep(5_000)]);
      if (final === undefined) throw new Error(`The sink wrote no final report. Its output:\n${proc.logTail()}`);
      return final;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The load: OTLP/gRPC Export calls; a refusal is counted, never resent

const TraceServiceClient = makeGenericClientConstructor(
  { Export: rawUnaryMethod('/opentelemetry.proto.collector.trace.v1.TraceService/Export') },
  'TraceService',
);
type ExportClient = InstanceType<typeof TraceServiceClient> & {
  Export(request: Buffer, options: { deadline: number }, callback: (err: ServiceError | null, response?: Buffer) => void): void;
};

/**
 * Connections to skybridge's OTLP receiver, each carrying at most CALLS_PER_CONNECTION calls, as
 * many SDKs would each hold one. Thousands of calls on one HTTP/2 session end in the client's own
 * session failing (`RST_STREAM with code 2 triggered by internal client error`), which would be
 * the load generator's failure, not skybridge's. Each client gets a subchannel pool of its own,
 * so it really is a connection of its own.
 */
class Connections {
  readonly #target: string;
  readonly #clients: ExportClient[] = [];

  constructor(target: string) {
    this.#target = target;
  }

  /** The connection for request `index` when up to `maxInFlight` calls may be open. */
  for(index: number, maxInFlight: number): ExportClient {
    const n = Math.max(1, Math.ceil(maxInFlight / CALLS_PER_CONNECTION));
    while (this.#clients.length < n) {
      this.#clients.push(
        new TraceServiceClient(this.#target, credentials.createInsecure(), {
          'grpc.max_send_message_length': -1,
          'grpc.max_receive_message_length': -1,
          'grpc.use_local_subchannel_pool': 1,
        }) as ExportClient,
      );
    }
    return this.#clients[index % n]!;
  }

  get size(): number {
    return this.#clients.length;
  }

  close(): void {
    for (const c of this.#clients) c.close();
  }
}

/** What one load (the calibration, or a phase's load) did, request by request. */
interface LoadFigures {
  requestsStarted: number;
  spansOffered: number;
  requestsAcked: number;
  spansAcked: number;
  /** Refusals (RESOURCE_EXHAUSTED, UNAVAILABLE) by status: requests, spans, how many carried a RetryInfo. */
  refused: Record<string, { requests: number; spans: number; withRetryInfo: number }>;
  /** Any other error (DEADLINE_EXCEEDED, INTERNAL...): skybridge may or may not have taken these. The first few details of each. */
  failed: Record<string, { requests: number; spans: number; details: string[] }>;
  /** `performance.now()` of the first and the last start, and of the last answer. */
  firstSendMs: number;
  lastStartMs: number;
  lastAnswerMs: number;
  /** Open loop: starts held back because `maxInFlight` calls were open; the most open at once. */
  startedLate: number;
  maxInFlight: number;
  /** The pool index the next load should start at (ids are never reused within a skybridge's life). */
  nextIndex: number;
}

interface LoadSpec {
  startIndex: number;
  durationMs: number;
  /** Requests started per second (open loop), or `concurrency` in flight (closed loop). */
  rate: number | undefined;
  concurrency: number;
  /** Open loop: the most calls open at once. */
  maxInFlight: number;
}

/**
 * Sends `pool` requests from `startIndex` for `durationMs`, never resending: a refusal is counted
 * and the load moves on. Closed loop: `concurrency` calls, each starting the next request as soon as
 * it is answered. Open loop: request i starts at i / rate seconds whatever the answers, up to
 * `maxInFlight` calls open (a start beyond that waits for one to end, and is counted as late).
 * Every acknowledged request's traces go into `acked`.
 */
async function sendLoad(connections: Connections, pool: RequestPool, spec: LoadSpec, acked: AckedTraces): Promise<LoadFigures> {
  const f: LoadFigures = {
    requestsStarted: 0,
    spansOffered: 0,
    requestsAcked: 0,
    spansAcked: 0,
    refused: {},
    failed: {},
    firstSendMs: 0,
    lastStartMs: 0,
    lastAnswerMs: 0,
    startedLate: 0,
    maxInFlight: 0,
    nextIndex: spec.startIndex,
  };
  let open = 0;
  const sendOne = async (index: number): Promise<void> => {
    const request = pool.request(index);
    const bytes = Buffer.isBuffer(request.bytes) ? request.bytes : Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
    const startMs = performance.now();
    if (f.requestsStarted === 0) f.firstSendMs = startMs;
    f.requestsStarted++;
    f.spansOffered += request.spanCount;
    f.lastStartMs = startMs;
    f.maxInFlight = Math.max(f.maxInFlight, ++open);
    const client = connections.for(index, spec.maxInFlight);
    const error = await new Promise<ServiceError | null>((done) => client.Export(bytes, { deadline: Date.now() + CALL_DEADLINE_MS }, (err) => done(err)));
    open--;
    f.lastAnswerMs = performance.now();
    if (error === null) {
      f.requestsAcked++;
      f.spansAcked += request.spanCount;
      const sentEpochMs = epochOf(startMs);
      request.traceIds.forEach((id, i) => {
        const key = normaliseTraceId(id);
        const seen = acked.get(key);
        if (seen === undefined) acked.set(key, { spans: request.spansPerTrace[i]!, sentEpochMs });
        else seen.spans += request.spansPerTrace[i]!;
      });
      return;
    }
    const status = GrpcStatus[error.code] ?? String(error.code);
    if (REFUSAL_CODES.has(error.code)) {
      const r = (f.refused[status] ??= { requests: 0, spans: 0, withRetryInfo: 0 });
      r.requests++;
      r.spans += request.spanCount;
      const details = error.metadata?.get('grpc-status-details-bin')[0];
      if (Buffer.isBuffer(details) && statusHasRetryInfo(details)) r.withRetryInfo++;
    } else {
      const e = (f.failed[status] ??= { requests: 0, spans: 0, details: [] });
      e.requests++;
      e.spans += request.spanCount;
      if (e.details.length < 3 && !e.details.includes(error.details)) e.details.push(error.details);
    }
  };

  const t0 = performance.now();
  if (spec.rate === undefined) {
    const worker = async (): Promise<void> => {
      while (performance.now() - t0 < spec.durationMs) await sendOne(f.nextIndex++);
    };
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
    return f;
  }
  const calls = new Set<Promise<void>>();
  for (let i = 0; ; i++) {
    const dueMs = (i * 1000) / spec.rate;
    if (dueMs >= spec.durationMs) break;
    const wait = t0 + dueMs - performance.now();
    if (wait > 0) await sleep(wait);
    else if (i % 16 === 0) await new Promise((r) => setImmediate(r)); // behind schedule: let answers in
    if (calls.size >= spec.maxInFlight) {
      f.startedLate++;
      while (calls.size >= spec.maxInFlight) await Promise.race(calls);
    }
    const call: Promise<void> = sendOne(f.nextIndex++).finally(() => calls.delete(call));
    calls.add(call);
  }
  await Promise.all(calls);
  return f;
}

/** Per acknowledged trace (normalised id): its spans and when its request was sent (epoch ms). */
type AckedTraces = Map<string, { spans: number; sentEpochMs: number }>;

// ---------------------------------------------------------------------------------------------
// One phase

interface PhaseSpec {
  label: 'overload' | 'sustainable';
  durationMs: number;
  /** Requests/s (open loop); `calibrate`: OVERLOAD_FACTOR × the spans/s a calibration delivers. */
  rate: number | 'calibrate';
  spansPerRequest: number;
}

/**
 * Waits until skybridge has delivered what it holds: its admission ledger empty and the sink quiet
 * for 2.5 s (more than the default quiet_period of 1 s); or, without an admission gauge to read,
 * the sink quiet for 5 s. Gives up when the sink has been quiet for 30 s (longer than the
 * exporter's retry backoff) or after 300 s.
 */
async function drain(proc: MeasuredProcess, sink: SinkHandle, telemetryPort: number) {
  const start = performance.now();
  let lastSpans = sink.progress().spans;
  let lastChange = start;
  for (;;) {
    await sleep(500);
    if (proc.hasExited) throw new Error(`skybridge exited while draining. Its output:\n${proc.logTail()}`);
    const now = performance.now();
    const spans = sink.progress().spans;
    if (spans !== lastSpans) (lastSpans = spans), (lastChange = now);
    const held = await scrapeSamples(telemetryPort).then((s) => gaugeSum(s, 'skybridge_admission_held_spans'), () => null);
    const quiet = now - lastChange;
    const result = (end: string, ok: boolean) => ({ seconds: (performance.now() - start) / 1000, end, ok, heldSpans: held });
    if (held === 0 && quiet >= 2_500) return result('admission ledger empty, sink quiet', true);
    if (held === null && quiet >= 5_000) return result('sink quiet for 5 s (no admission gauge to read)', true);
    if (quiet >= 30_000) return result(`SINK QUIET FOR 30 S WITH ${fmt(held)} SPANS STILL HELD`, false);
    if (now - start >= 300_000) return result(`GAVE UP AFTER 300 S WITH ${fmt(held)} SPANS STILL HELD`, false);
  }
}

async function runPhase(o: OverloadCaseOptions, pool: RequestPool, spec: PhaseSpec) {
  const sink = await startSink(o, spec.label);
  const ports = { otlp: await freePort(), sink: sink.port, telemetry: await freePort() };
  const configFile = join(o.workDir, `skybridge-${spec.label}.yaml`);
  writeFileSync(configFile, skybridgeConfig(ports));
  const proc = new MeasuredProcess({
    command: process.execPath,
    args: [
      ...extraNodeFlags(),
      ...cpuProfileFlags(o.cpuProf, o.workDir, `skybridge-${spec.label}`),
      skybridgeEntry(),
      '--config',
      configFile,
    ],
    cwd: ROOT,
    logFile: join(o.workDir, `skybridge-${spec.label}.log`),
  });
  const connections = new Connections(`127.0.0.1:${ports.otlp}`);
  try {
    await waitUntilReady(proc, ports.telemetry, 30_000);
    proc.startSampling();

    // Calibration (overload phase, no --rate): closed loop for CALIBRATION_MS on this same skybridge;
    // its capacity is the sink's arrival rate over the calibration's second half (steady state).
    // Then a drain, so the phase starts from an empty ledger. Its traces are checked at the sink too.
    let calibration: { load: LoadFigures; acked: AckedTraces; deliveredSpansPerSecond: number; drain: Awaited<ReturnType<typeof drain>> } | undefined;
    let rate: number;
    if (spec.rate === 'calibrate') {
      const acked: AckedTraces = new Map();
      let from: SinkCounts | undefined;
      const mark = sleep(CALIBRATION_MS / 2).then(() => (from = sink.progress()));
      const load = await sendLoad(connections, pool, { startIndex: 0, durationMs: CALIBRATION_MS, rate: undefined, concurrency: o.concurrency, maxInFlight: o.concurrency }, acked);
      await mark;
      const to = sink.progress();
      const measured = from === undefined || to.nowEpochMs <= from.nowEpochMs ? 0 : ((to.spans - from.spans) * 1000) / (to.nowEpochMs - from.nowEpochMs);
      // Nothing delivered yet (a very slow sink, a stalled pipeline): fall back to what was acknowledged.
      const deliveredSpansPerSecond = measured > 0 ? measured : load.spansAcked / Math.max(0.001, (load.lastAnswerMs - load.firstSendMs) / 1000);
      const drained = await drain(proc, sink, ports.telemetry);
      calibration = { load, acked, deliveredSpansPerSecond, drain: drained };
      rate = Math.max(1, (OVERLOAD_FACTOR * deliveredSpansPerSecond) / spec.spansPerRequest);
      process.stdout.write(
        `Calibration: closed loop, ${o.concurrency} in flight, ${CALIBRATION_MS / 1000}s: ${fmt(deliveredSpansPerSecond)} spans/s delivered (second half), ` +
          `${fmt(load.spansAcked)} spans acknowledged, ${fmt(Object.values(load.refused).reduce((n, r) => n + r.requests, 0))} requests refused; drained in ${drained.seconds.toFixed(1)} s. ` +
          `Overload: ${OVERLOAD_FACTOR}× that = ${rate.toFixed(1)} requests/s ≈ ${fmt(rate * spec.spansPerRequest)} spans/s.\n`,
      );
    } else rate = spec.rate;
    const maxInFlight = Math.ceil((rate * CALL_DEADLINE_MS) / 1000) + o.concurrency;

    // The ledger's gauges every second during the load, for their peaks.
    const peaks = { heldSpans: 0, heldBytes: 0 };
    let limits: { bytes: number | null; spans: number | null } = { bytes: null, spans: null };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const s = await scrapeSamples(ports.telemetry);
          peaks.heldSpans = Math.max(peaks.heldSpans, gaugeSum(s, 'skybridge_admission_held_spans') ?? 0);
          peaks.heldBytes = Math.max(peaks.heldBytes, gaugeSum(s, 'skybridge_admission_held_bytes') ?? 0);
          limits = { bytes: gaugeSum(s, 'skybridge_admission_limit_bytes'), spans: gaugeSum(s, 'skybridge_admission_limit_spans') };
        } catch {
          // a missed scrape only loses one sample
        }
        await sleep(1_000);
      }
    })();

    const sinkAtStart = sink.progress();
    const metricsAtStart = await scrapeSamples(ports.telemetry).catch(() => [] as Sample[]);
    const cpuBefore = proc.cpuSeconds();
    const sinkCpuBefore = sink.proc.cpuSeconds();
    const selfBefore = process.cpuUsage();
    const machineBefore = machineBusyCpuSeconds();
    const acked: AckedTraces = new Map();
    const load = await sendLoad(
      connections,
      pool,
      { startIndex: calibration?.load.nextIndex ?? 0, durationMs: spec.durationMs, rate, concurrency: o.concurrency, maxInFlight },
      acked,
    );
    const loadEndMs = performance.now();
    sampling = false;
    await sampler;
    if (proc.hasExited) throw new Error(`skybridge exited during the load. Its output:\n${proc.logTail()}`);

    const drained = await drain(proc, sink, ports.telemetry);
    const drainedMs = performance.now();
    const cpuAfter = proc.cpuSeconds();
    const sinkCpuAfter = sink.proc.cpuSeconds();
    const self = process.cpuUsage(selfBefore);
    const machineAfter = machineBusyCpuSeconds();
    const peakRssBytes = proc.peakRssBytes();
    const maxSampledRssBytes = proc.maxSampledRssBytes;
    const metrics = await scrapeSamples(ports.telemetry).catch((error: Error) => {
      process.stderr.write(`overload: could not read skybridge /metrics: ${error.message}\n`);
      return [] as Sample[];
    });
    const beforeStop = sink.progress();
    const exit = await proc.stop();
    const final = await sink.stop();

    // Every acknowledged trace, span for span, at the sink (first deliveries, shutdown flush included).
    const atSink = new Map<string, { spans: number; lastEpochMs: number }>();
    for (const [id, spans, , , lastEpochMs] of final.traces) {
      const key = normaliseTraceId(id);
      const seen = atSink.get(key);
      if (seen === undefined) atSink.set(key, { spans, lastEpochMs });
      else {
        seen.spans += spans;
        seen.lastEpochMs = Math.max(seen.lastEpochMs, lastEpochMs);
      }
    }
    const check = (traces: AckedTraces) => {
      const c = { acknowledged: traces.size, complete: 0, partial: 0, missing: 0, missingSpans: 0, overDelivered: 0, overDeliveredSpans: 0 };
      const latencies: number[] = [];
      for (const [id, { spans, sentEpochMs }] of traces) {
        const got = atSink.get(id);
        if (got === undefined) {
          c.missing++;
          c.missingSpans += spans;
        } else if (got.spans < spans) {
          c.partial++;
          c.missingSpans += spans - got.spans;
        } else {
          c.complete++;
          latencies.push(got.lastEpochMs - sentEpochMs);
          if (got.spans > spans) {
            c.overDelivered++;
            c.overDeliveredSpans += got.spans - spans;
          }
        }
      }
      latencies.sort((a, b) => a - b);
      return { counts: c, latencies };
    };
    const { counts: checked, latencies } = check(acked);
    const traces = { ...checked, notAcknowledgedAtSink: 0, notAcknowledgedSpansAtSink: 0 };
    for (const [id, got] of atSink) {
      if (acked.has(id) || calibration?.acked.has(id)) continue;
      traces.notAcknowledgedAtSink++;
      traces.notAcknowledgedSpansAtSink += got.spans;
    }
    const calibrationTraces = calibration === undefined ? undefined : check(calibration.acked).counts;

    const total = (byStatus: Record<string, { requests: number; spans: number }>) =>
      Object.values(byStatus).reduce((n, r) => ({ requests: n.requests + r.requests, spans: n.spans + r.spans }), { requests: 0, spans: 0 });
    const startSeconds = Math.max(0.001, (load.lastStartMs - load.firstSendMs) / 1000);
    const deliveredSpans = beforeStop.spans - sinkAtStart.spans;
    const deliverSeconds = beforeStop.lastArrivalEpochMs === null ? null : (beforeStop.lastArrivalEpochMs - epochOf(load.firstSendMs)) / 1000;
    const cpuSeconds = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
    const sinkCpuSeconds = sinkCpuBefore === null || sinkCpuAfter === null ? null : sinkCpuAfter - sinkCpuBefore;
    const selfCpuSeconds = (self.user + self.system) / 1e6;
    const windowSeconds = (drainedMs - load.firstSendMs) / 1000;
    const otherCores =
      machineAfter === null || machineBefore === null || cpuSeconds === null || sinkCpuSeconds === null
        ? null
        : Math.max(0, machineAfter - machineBefore - cpuSeconds - sinkCpuSeconds - selfCpuSeconds) / windowSeconds;
    // Counters over the whole life of this skybridge (calibration included): drops are drops.
    const unintentionalDrops = sumSamples(metrics, 'skybridge_dropped_spans_total', { intentional: 'false' });
    const dropsByReason: Record<string, number> = {};
    for (const s of matchSamples(metrics, 'skybridge_dropped_spans_total', { intentional: 'false' })) {
      const key = `${s.labels.component}/${s.labels.reason}`;
      if (s.value > 0) dropsByReason[key] = (dropsByReason[key] ?? 0) + s.value;
    }
    // The histogram over the phase only: its buckets minus those at the phase's start.
    const phaseHistogram = matchSamples(metrics, `${LATENCY_HISTOGRAM}_bucket`).map((s) => ({
      ...s,
      value: s.value - sumSamples(metricsAtStart, `${LATENCY_HISTOGRAM}_bucket`, s.labels),
    }));
    // skybridge's refusals during the phase by its reason (error code), beside the statuses the load saw.
    const refusedByReason: Record<string, number> = {};
    for (const s of matchSamples(metrics, 'skybridge_receiver_refused_spans_total')) {
      const n = s.value - sumSamples(metricsAtStart, 'skybridge_receiver_refused_spans_total', s.labels);
      if (n > 0) refusedByReason[s.labels.reason ?? '?'] = (refusedByReason[s.labels.reason ?? '?'] ?? 0) + n;
    }
    const histP50 = histogramQuantile(phaseHistogram, LATENCY_HISTOGRAM, 0.5);
    const histP99 = histogramQuantile(phaseHistogram, LATENCY_HISTOGRAM, 0.99);

    return {
      label: spec.label,
      rate,
      maxInFlight,
      durationSeconds: spec.durationMs / 1000,
      logFile: proc.logFile,
      calibration:
        calibration === undefined
          ? null
          : {
              seconds: CALIBRATION_MS / 1000,
              concurrency: o.concurrency,
              deliveredSpansPerSecond: calibration.deliveredSpansPerSecond,
              acknowledgedSpans: calibration.load.spansAcked,
              refusedRequests: total(calibration.load.refused).requests,
              failedRequests: total(calibration.load.failed).requests,
              drainSeconds: calibration.drain.seconds,
              traces: calibrationTraces!,
            },
      load: {
        requestsStarted: load.requestsStarted,
        startedLate: load.startedLate,
        maxInFlight: load.maxInFlight,
        connections: connections.size,
        startSeconds,
        answersSeconds: (load.lastAnswerMs - load.firstSendMs) / 1000,
      },
      offered: { requests: load.requestsStarted, spans: load.spansOffered, spansPerSecond: load.spansOffered / startSeconds },
      acknowledged: { requests: load.requestsAcked, spans: load.spansAcked, traces: acked.size },
      refused: { ...total(load.refused), byStatus: load.refused },
      failed: { ...total(load.failed), byStatus: load.failed },
      sink: {
        spans: final.spans - sinkAtStart.spans,
        spansBeforeStop: deliveredSpans,
        segments: final.segments - sinkAtStart.segments,
        traces: final.traces.length - sinkAtStart.traces,
        streams: final.streams,
        redeliveredSegments: final.redeliveredSegments,
        redeliveredSpans: final.redeliveredSpans,
        malformedSegments: final.malformed,
        rateLimit: o.sinkRate ?? null,
      },
      traces,
      skybridge: {
        acceptedSpans: sumSamples(metrics, 'skybridge_receiver_accepted_spans_total') - sumSamples(metricsAtStart, 'skybridge_receiver_accepted_spans_total'),
        refusedSpans: sumSamples(metrics, 'skybridge_receiver_refused_spans_total') - sumSamples(metricsAtStart, 'skybridge_receiver_refused_spans_total'),
        refusedByReason,
        sendFailedSegments: sumSamples(metrics, 'skybridge_exporter_send_failed_segments_total'),
        unintentionalDrops,
        dropsByReason,
        intentionalDrops: sumSamples(metrics, 'skybridge_dropped_spans_total', { intentional: 'true' }),
        peakHeldSpans: peaks.heldSpans,
        peakHeldBytes: peaks.heldBytes,
        admissionLimits: limits,
        heldSpansAtDrainEnd: drained.heldSpans,
      },
      drain: { seconds: drained.seconds, end: drained.end, ok: drained.ok },
      process: { peakRssBytes, maxSampledRssBytes, cpuSeconds, windowSeconds },
      throughput: {
        deliverSeconds,
        deliveredSpansPerSecond: deliverSeconds === null || deliverSeconds <= 0 ? null : deliveredSpans / deliverSeconds,
        deliveredSpansPerCpuSecond: cpuSeconds ? deliveredSpans / cpuSeconds : null,
        acknowledgedSpansPerSecond: load.spansAcked / startSeconds,
      },
      latencyMs: {
        sendToSink: { traces: latencies.length, p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? null },
        skybridgeHistogram: {
          observations: sumSamples(metrics, `${LATENCY_HISTOGRAM}_count`) - sumSamples(metricsAtStart, `${LATENCY_HISTOGRAM}_count`),
          p50: histP50 === null ? null : histP50.seconds * 1000,
          p99: histP99 === null ? null : histP99.seconds * 1000,
          p99AboveTopBucket: histP99?.aboveTop ?? false,
        },
      },
      otherCpu: { sinkCpuSeconds, loadGeneratorCpuSeconds: selfCpuSeconds, otherProcessesCores: otherCores },
      exit,
    };
  } catch (error) {
    await proc.stop(5_000).catch(() => {});
    await sink.stop().catch(() => undefined);
    throw error;
  } finally {
    connections.close();
  }
}

type PhaseResult = Awaited<ReturnType<typeof runPhase>>;

/** Acknowledged spans all delivered, nothing dropped unintentionally, no duplicates under new segment ids. */
const deliveredAll = (p: PhaseResult) =>
  p.traces.partial === 0 && p.traces.missing === 0 && p.traces.overDelivered === 0 && p.skybridge.unintentionalDrops === 0 && p.sink.malformedSegments === 0;

function printRows(rows: [string, string][]): void {
  const width = Math.max(...rows.filter(([, v]) => v !== '').map(([k]) => k.length));
  process.stdout.write(`${rows.map(([k, v]) => (v === '' ? k : `${k.padEnd(width)}  ${v}`)).join('\n')}\n`);
}

function byStatusText(byStatus: Record<string, { requests: number; spans: number; withRetryInfo?: number }>): string {
  const parts = Object.entries(byStatus).map(
    ([status, r]) => `${status} ${fmt(r.requests)}${r.withRetryInfo === undefined ? '' : ` (${r.withRetryInfo === r.requests ? 'all' : fmt(r.withRetryInfo)} with RetryInfo)`}`,
  );
  return parts.length ? parts.join(', ') : 'none';
}

function phaseRows(p: PhaseResult): [string, string][] {
  const cores = (cpu: number | null) => (cpu === null ? 'n/a' : `${cpu.toFixed(1)} s (${(cpu / p.process.windowSeconds).toFixed(2)} cores)`);
  const sendToSink = p.latencyMs.sendToSink;
  const h = p.latencyMs.skybridgeHistogram;
  return [
    [
      '  offered',
      `${fmt(p.offered.spans)} spans in ${fmt(p.offered.requests)} requests started over ${p.load.startSeconds.toFixed(1)} s (${fmt(p.offered.spansPerSecond)} spans/s; ` +
        `${fmt(p.rate, 1)} requests/s scheduled, up to ${fmt(p.maxInFlight)} in flight on ${fmt(p.load.connections)} connections: ${fmt(p.load.maxInFlight)} reached${p.load.startedLate ? `, ${fmt(p.load.startedLate)} starts held back` : ''})`,
    ],
    ['  acknowledged', `${fmt(p.acknowledged.spans)} spans (${pct(p.acknowledged.spans, p.offered.spans)}), ${fmt(p.acknowledged.requests)} requests, ${fmt(p.acknowledged.traces)} traces`],
    [
      '  refused (not resent)',
      `${fmt(p.refused.spans)} spans, ${fmt(p.refused.requests)} requests: ${byStatusText(p.refused.byStatus)}` +
        `${Object.keys(p.skybridge.refusedByReason).length ? `; skybridge's reasons (spans): ${Object.entries(p.skybridge.refusedByReason).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}` : ''}`,
    ],
    ['  failed (no clear answer)', p.failed.requests === 0 ? 'none' : `${fmt(p.failed.spans)} spans, ${fmt(p.failed.requests)} requests: ${byStatusText(p.failed.byStatus)} (deadline ${CALL_DEADLINE_MS / 1000} s)`],
    ...Object.entries(p.failed.byStatus).map(([status, e]): [string, string] => [`    ${status}`, e.details.map((d) => JSON.stringify(d.length > 120 ? `${d.slice(0, 117)}...` : d)).join('; ')]),
    ['  delivered at the sink', `${fmt(p.sink.spans)} spans, ${fmt(p.sink.segments)} segments, ${fmt(p.sink.traces)} traces${p.sink.spans !== p.sink.spansBeforeStop ? ` (${fmt(p.sink.spans - p.sink.spansBeforeStop)} spans flushed at shutdown)` : ''}`],
    [
      '  acknowledged traces at the sink',
      `${fmt(p.traces.complete)} complete, ${fmt(p.traces.partial + p.traces.missing)} incomplete (${fmt(p.traces.partial)} partial, ${fmt(p.traces.missing)} missing: ${fmt(p.traces.missingSpans)} acknowledged spans lost)` +
        `${p.traces.overDelivered ? `; ${fmt(p.traces.overDelivered)} with more spans than sent (${fmt(p.traces.overDeliveredSpans)} extra)` : ''}`,
    ],
    ['  delivered, never acknowledged', `${fmt(p.traces.notAcknowledgedAtSink)} traces, ${fmt(p.traces.notAcknowledgedSpansAtSink)} spans (requests that failed without a clear answer, yet were taken)`],
    ['  unintentional drops (skybridge)', `${fmt(p.skybridge.unintentionalDrops)}${Object.keys(p.skybridge.dropsByReason).length ? ` (${Object.entries(p.skybridge.dropsByReason).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})` : ''}`],
    [
      '  admission ledger',
      `peak held ${fmt(p.skybridge.peakHeldSpans)} spans / ${mib(p.skybridge.peakHeldBytes)} (limits ${fmt(p.skybridge.admissionLimits.spans)} spans / ${mib(p.skybridge.admissionLimits.bytes)}); held at drain end ${fmt(p.skybridge.heldSpansAtDrainEnd)}`,
    ],
    ['  drain', `${p.drain.seconds.toFixed(1)} s: ${p.drain.end}`],
    ['  skybridge peak RSS (VmHWM / max sampled)', `${mib(p.process.peakRssBytes)} / ${mib(p.process.maxSampledRssBytes)}`],
    ['  skybridge CPU (load + drain)', cores(p.process.cpuSeconds)],
    ['  delivered spans/s (first send → last segment)', fmt(p.throughput.deliveredSpansPerSecond)],
    ['  delivered spans per skybridge CPU-second', fmt(p.throughput.deliveredSpansPerCpuSecond)],
    [
      '  send → last segment at sink (ms)',
      `p50 ${fmt(sendToSink.p50)}  p90 ${fmt(sendToSink.p90)}  p99 ${fmt(sendToSink.p99)}  max ${fmt(sendToSink.max)}  (${fmt(sendToSink.traces)} complete traces)`,
    ],
    [
      `  ${LATENCY_HISTOGRAM} (ms)`,
      `p50 ≈ ${fmt(h.p50)}  p99 ≈ ${h.p99AboveTopBucket ? '> ' : ''}${fmt(h.p99)}  (${fmt(h.observations)} segments; bucket-interpolated)`,
    ],
    [
      '  sink / load generator / others CPU',
      `${cores(p.otherCpu.sinkCpuSeconds)} / ${cores(p.otherCpu.loadGeneratorCpuSeconds)} / ${p.otherCpu.otherProcessesCores === null ? 'n/a' : `${p.otherCpu.otherProcessesCores.toFixed(2)} cores`} (${os.cpus().length} CPUs)`,
    ],
  ];
}

export async function runOverloadCase(o: OverloadCaseOptions) {
  const pool = RequestPool.generate({ seed: o.seed, minSpans: o.minSpans, maxSpans: o.maxSpans, startTimeMs: Date.now(), templates: o.templates });
  const spansPerRequest = pool.templateSpans / pool.size;
  process.stdout.write(
    `\n=== overload: OTLP/gRPC → skybridge (otlp → skywalking, default settings and admission) → sink OAP in its own process ===\n` +
      `Phase 1, overload: ${o.rate === undefined ? `open loop at ${OVERLOAD_FACTOR}× the spans/s a ${CALIBRATION_MS / 1000} s closed-loop calibration delivers` : `open loop at ${o.rate} requests/s`}, ` +
      `${spansPerRequest.toFixed(0)} spans/request, ${o.durationMs / 1000}s; Export deadline ${CALL_DEADLINE_MS / 1000} s; refusals are counted, never resent; ` +
      `sink ${o.sinkRate === undefined ? 'unpaced' : `capped at ${fmt(o.sinkRate)} segments/s`}.\n`,
  );
  const overload = await runPhase(o, pool, { label: 'overload', durationMs: o.durationMs, rate: o.rate ?? 'calibrate', spansPerRequest });
  const offeredRatio = overload.throughput.deliveredSpansPerSecond ? overload.offered.spansPerSecond / overload.throughput.deliveredSpansPerSecond : null;
  const c = overload.calibration;
  printRows([
    ['overload', ''],
    ...phaseRows(overload),
    ['  offered ÷ delivered', offeredRatio === null ? 'n/a' : `${offeredRatio.toFixed(1)}×${offeredRatio < 2 ? '  (BELOW 2×: not an overload; raise --rate)' : ''}`],
    ...(c === null
      ? []
      : ([
          [
            '  calibration traces at the sink',
            `${fmt(c.traces.complete)} of ${fmt(c.traces.acknowledged)} acknowledged complete${c.traces.missingSpans ? ` (${fmt(c.traces.missingSpans)} ACKNOWLEDGED SPANS LOST)` : ''}`,
          ],
        ] as [string, string][])),
  ]);

  let sustainable: PhaseResult | undefined;
  let sustainableRate: number | undefined;
  if (o.sustainMs > 0) {
    const delivered = overload.throughput.deliveredSpansPerSecond ?? 0;
    sustainableRate = Math.max(1, (SUSTAINABLE_SHARE * delivered) / spansPerRequest);
    process.stdout.write(
      `\nPhase 2, sustainable: ${sustainableRate.toFixed(1)} requests/s ≈ ${fmt(sustainableRate * spansPerRequest)} spans/s ` +
        `(${SUSTAINABLE_SHARE * 100}% of the ${fmt(delivered)} spans/s delivered above), open loop, ${o.sustainMs / 1000}s; fresh skybridge and sink.\n`,
    );
    sustainable = await runPhase(o, pool, { label: 'sustainable', durationMs: o.sustainMs, rate: sustainableRate, spansPerRequest });
    printRows([['sustainable', ''], ...phaseRows(sustainable)]);
  }

  const overloadOk = deliveredAll(overload) && (c === null || (c.traces.missingSpans === 0 && c.traces.overDelivered === 0));
  const problems: string[] = [];
  const lossText = (p: PhaseResult) =>
    `${fmt(p.traces.partial + p.traces.missing)} of ${fmt(p.traces.acknowledged)} acknowledged traces incomplete at the sink (${fmt(p.traces.missingSpans)} acknowledged spans lost)` +
    `${p.traces.overDelivered ? `, ${fmt(p.traces.overDelivered)} traces with more spans than sent` : ''}` +
    `${p.skybridge.unintentionalDrops ? `, ${fmt(p.skybridge.unintentionalDrops)} spans dropped unintentionally` : ''}` +
    `${p.sink.malformedSegments ? `, ${fmt(p.sink.malformedSegments)} malformed segments` : ''}`;
  if (!overloadOk) problems.push(`overload: ${lossText(overload)}${c !== null && c.traces.missingSpans ? `; calibration: ${fmt(c.traces.missingSpans)} acknowledged spans lost` : ''}`);
  if (!overload.drain.ok) problems.push(`overload: the drain did not finish (${overload.drain.end})`);
  if (sustainable !== undefined && !sustainable.drain.ok) problems.push(`sustainable: the drain did not finish (${sustainable.drain.end})`);
  if (sustainable !== undefined && !deliveredAll(sustainable)) problems.push(`sustainable: ${lossText(sustainable)}`);
  if (sustainable !== undefined && (sustainable.refused.requests > 0 || sustainable.failed.requests > 0)) {
    problems.push(`sustainable: ${fmt(sustainable.refused.requests)} requests refused and ${fmt(sustainable.failed.requests)} failed at ${SUSTAINABLE_SHARE * 100}% of the delivered rate`);
  }
  printRows([
    [
      'end-to-end check',
      problems.length === 0
        ? `ok: every acknowledged span was delivered${sustainable ? ', and the sustainable load saw no refusal' : ''}`
        : 'FAILED (below)',
    ],
  ]);
  for (const p of [overload, sustainable]) {
    if (p && p.sink.redeliveredSegments > 0) {
      process.stdout.write(`  ${p.label}: ${fmt(p.sink.redeliveredSegments)} segments (${fmt(p.sink.redeliveredSpans)} spans) arrived again under an id already seen (exporter resends); not counted above.\n`);
    }
  }
  if (problems.length) process.stderr.write(`\n!!! overload: END-TO-END CHECK FAILED:\n${problems.map((p) => `!!!   ${p}`).join('\n')}\n!!! skybridge logs: ${[overload, sustainable].filter((p) => p).map((p) => p!.logFile).join(', ')}\n`);

  const strip = (p: PhaseResult) => {
    const { logFile: _logFile, ...rest } = p;
    return rest;
  };
  return {
    name: 'overload' as const,
    title: 'OTLP/gRPC overload → skybridge → sink OAP (own process)',
    lossOk: problems.length === 0,
    json: {
      options: {
        durationSeconds: o.durationMs / 1000,
        sustainSeconds: o.sustainMs / 1000,
        concurrency: o.concurrency,
        rate: o.rate ?? null,
        overloadFactor: o.rate === undefined ? OVERLOAD_FACTOR : null,
        calibrationSeconds: o.rate === undefined ? CALIBRATION_MS / 1000 : null,
        callDeadlineSeconds: CALL_DEADLINE_MS / 1000,
        sinkRate: o.sinkRate ?? null,
        spansPerRequest,
        sustainableShare: SUSTAINABLE_SHARE,
        sustainableRequestsPerSecond: sustainableRate ?? null,
      },
      overload: { ...strip(overload), offeredToDelivered: offeredRatio },
      sustainable: sustainable === undefined ? null : strip(sustainable),
      // For the summary table: delivered spans/s under overload, latency at the sustainable load.
      summary: {
        deliveredSpansPerSecond: overload.throughput.deliveredSpansPerSecond,
        deliveredSpansPerCpuSecond: overload.throughput.deliveredSpansPerCpuSecond,
        p50: sustainable?.latencyMs.sendToSink.p50 ?? null,
        p99: sustainable?.latencyMs.sendToSink.p99 ?? null,
        peakRssBytes: overload.process.peakRssBytes,
      },
      endToEnd: { ok: problems.length === 0, problems },
    },
  };
}
