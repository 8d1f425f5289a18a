/**
 * The `tail_sampling` benchmark case: paced OTLP/gRPC load of the generator's 3-service traces into
 * skybridge running `otlp → tail_sampling → skywalking → sink OAP`, for a minute by default. It
 * reports what a tail sampler costs and does: peak RSS while `decision_wait` worth of traces is
 * held, spans/s offered and accepted, spans/s kept, kept traces per 3-second window (skybridge's own
 * summary, and a count at the sink), and how long kept traces took to come out.
 *
 * Unlike the receiver cases it has no decode-only floor, and its end-to-end check is
 * accepted = kept at the sink + sampled out (every other drop is printed).
 *
 * Span times: the request pool reuses a few hundred encoded requests, so their timestamps would
 * repeat every few seconds. The budget's windows follow span start times, so each request's times
 * are moved, as it is sent, to end just before the send (as if an SDK exported finished traces).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs/minimal.js';
import { cpuProfileFlags, MeasuredProcess } from '../measured-process.ts';
import { runOtlpLoad } from '../otlp-load.ts';
import { RequestPool, type LoadRequest } from '../request-pool.ts';
import { SinkOap } from '../sink-oap.ts';
import { matchSamples, scrapeSamples, sumSamples, waitUntilReady, freePort } from '../skybridge-telemetry.ts';
import { skybridgeEntry } from '../skybridge-entry.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WINDOW_MS = 3_000;
/** Offered load when `--rate` is not given. */
export const TAIL_SAMPLING_SPANS_PER_SECOND = 50_000;

export interface TailSamplingCaseOptions {
  durationMs: number;
  /** Requests per second; derived from TAIL_SAMPLING_SPANS_PER_SECOND when absent. */
  rate: number | undefined;
  concurrency: number;
  minSpans: number;
  maxSpans: number;
  seed: number;
  templates: number;
  quietPeriod: string;
  workDir: string;
  cpuProf: boolean;
  /** Traces kept per 3 s window. */
  perWindow?: number;
  decisionWait?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number | null | undefined) => (bytes == null ? 'n/a' : `${(bytes / 1048576).toFixed(1)} MiB`);
const fmt = (n: number | null | undefined, digits = 0) => (n == null || Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));


/**
 * Offsets of every fixed64 time in an ExportTraceServiceRequest: Span.start_time_unix_nano (7),
 * end_time_unix_nano (8) and Span.Event.time_unix_nano (1), and the earliest start.
 */
function findTimeOffsets(bytes: Uint8Array): { offsets: number[]; minStartNs: bigint } {
  const offsets: number[] = [];
  let minStartNs: bigint | undefined;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = protobuf.Reader.create(bytes);
  const within = (end: number, onField: (field: number, wireType: number) => boolean): void => {
    while (r.pos < end) {
      const tag = r.uint32();
      if (!onField(tag >>> 3, tag & 7)) r.skipType(tag & 7);
    }
  };
  const nested = (onField: (field: number, wireType: number) => boolean): void => {
    const length = r.uint32();
    within(r.pos + length, onField);
  };
  const event = (field: number, wireType: number): boolean => {
    if (field !== 1 || wireType !== 1) return false;
    offsets.push(r.pos);
    r.pos += 8;
    return true;
  };
  const span = (field: number, wireType: number): boolean => {
    if ((field === 7 || field === 8) && wireType === 1) {
      if (field === 7) {
        const start = view.readBigUInt64LE(r.pos);
        if (minStartNs === undefined || start < minStartNs) minStartNs = start;
      }
      offsets.push(r.pos);
      r.pos += 8;
      return true;
    }
    if (field === 11 && wireType === 2) return nested(event), true;
    return false;
  };
  const scopeSpans = (field: number, wireType: number): boolean => field === 2 && wireType === 2 && (nested(span), true);
  const resourceSpans = (field: number, wireType: number): boolean => field === 2 && wireType === 2 && (nested(scopeSpans), true);
  within(r.len, (field, wireType) => field === 1 && wireType === 2 && (nested(resourceSpans), true));
  return { offsets, minStartNs: minStartNs ?? 0n };
}

/** The pool's requests with their span times moved so the earliest starts `leadMs` before the send. */
function timeShiftedPool(pool: RequestPool, leadMs: number): RequestPool {
  const times = Array.from({ length: pool.size }, (_, i) => findTimeOffsets(pool.request(i).bytes));
  const request = (index: number): LoadRequest => {
    const original = pool.request(index);
    const { offsets, minStartNs } = times[index % pool.size]!;
    const bytes = Buffer.from(original.bytes); // a copy: round 0 is the shared template itself
    const shift = BigInt(Date.now() - leadMs) * 1_000_000n - minStartNs;
    for (const at of offsets) bytes.writeBigUInt64LE(bytes.readBigUInt64LE(at) + shift, at);
    return { ...original, bytes };
  };
  // Everything but request() is the pool's own (bound, so its private fields work).
  return new Proxy(pool, {
    get(target, property) {
      if (property === 'request') return request;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function skybridgeConfig(ports: { otlp: number; sink: number; telemetry: number }, o: Required<Pick<TailSamplingCaseOptions, 'perWindow' | 'decisionWait' | 'quietPeriod'>>): string {
  return `# Written by bench/cases/tail-sampling.ts for one benchmark run.
receivers:
  otlp:
    grpc:
      endpoint: 127.0.0.1:${ports.otlp}
    http: null

processors:
  tail_sampling:
    sample_n_per_3_secs: ${o.perWindow}
    decision_wait: ${o.decisionWait}
    quiet_period: ${o.quietPeriod}
    policies:
      - { name: errors, type: error }
      - { name: slow, type: latency, latency: { threshold: 130ms } }

exporters:
  skywalking:
    endpoint: 127.0.0.1:${ports.sink}
    assembly:
      quiet_period: ${o.quietPeriod}

pipelines:
  traces:
    receivers: [otlp]
    processors: [tail_sampling]
    exporters: [skywalking]

telemetry:
  endpoint: 127.0.0.1:${ports.telemetry}
  log_level: warn
`;
}

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export async function runTailSamplingCase(o: TailSamplingCaseOptions) {
  const perWindow = o.perWindow ?? 300;
  const decisionWait = o.decisionWait ?? '10s';
  const pool = RequestPool.generate({ seed: o.seed, minSpans: o.minSpans, maxSpans: o.maxSpans, startTimeMs: Date.now(), templates: o.templates });
  const spansPerRequest = pool.templateSpans / pool.size;
  const rate = o.rate ?? Math.max(1, Math.round(TAIL_SAMPLING_SPANS_PER_SECOND / spansPerRequest));
  process.stdout.write(
    `\n=== tail_sampling: OTLP/gRPC → tail_sampling → skywalking → sink OAP ===\n` +
      `${rate} requests/s × ${spansPerRequest.toFixed(0)} spans ≈ ${fmt(rate * spansPerRequest)} spans/s offered for ${o.durationMs / 1000}s; ` +
      `sample_n_per_3_secs ${perWindow}, decision_wait ${decisionWait}, quiet_period ${o.quietPeriod}, policies: errors, latency ≥ 130ms.\n`,
  );

  const sink = new SinkOap();
  const ports = { otlp: await freePort(), sink: await sink.start(), telemetry: await freePort() };
  const configFile = join(o.workDir, 'skybridge-tail_sampling.yaml');
  writeFileSync(configFile, skybridgeConfig(ports, { perWindow, decisionWait, quietPeriod: o.quietPeriod }));
  const proc = new MeasuredProcess({
    command: process.execPath,
    args: [
      ...cpuProfileFlags(o.cpuProf, o.workDir, 'skybridge-tail_sampling'),
      skybridgeEntry(),
      '--config',
      configFile,
    ],
    cwd: ROOT,
    logFile: join(o.workDir, 'skybridge-tail_sampling.log'),
  });
  try {
    await waitUntilReady(proc, ports.telemetry, 30_000);
    proc.startSampling();
    // The buffer gauges, scraped every 2 s, for their peaks.
    const peaks = { heldSpans: 0, heldBytes: 0, heldTraces: 0 };
    let sampling = true;
    const gauges = (async () => {
      while (sampling) {
        try {
          const s = await scrapeSamples(ports.telemetry);
          peaks.heldSpans = Math.max(peaks.heldSpans, sumSamples(s, 'skybridge_queue_size', { queue: 'trace_buffer_spans' }));
          peaks.heldBytes = Math.max(peaks.heldBytes, sumSamples(s, 'skybridge_queue_size', { queue: 'trace_buffer_bytes' }));
          peaks.heldTraces = Math.max(peaks.heldTraces, sumSamples(s, 'skybridge_queue_size', { queue: 'trace_buffer_traces' }));
        } catch {
          // a missed scrape only loses one sample
        }
        await sleep(2_000);
      }
    })();

    const sentAt = new Map<string, number>();
    const cpuBefore = proc.cpuSeconds();
    const load = await runOtlpLoad({
      target: `127.0.0.1:${ports.otlp}`,
      pool: timeShiftedPool(pool, 200),
      concurrency: o.concurrency,
      rate,
      durationMs: o.durationMs,
      onFirstSend: (request, atMs) => {
        for (const id of request.traceIds) sentAt.set(id, atMs);
      },
    });
    if (proc.hasExited) throw new Error(`skybridge exited during the load. Its output:\n${proc.logTail()}`);
    const loadSeconds = (load.lastAckMs - load.firstSendMs) / 1000;

    // Drain: the last windows close decision_wait after their end; then the exporter's quiet period.
    const drainStart = performance.now();
    let last = -1;
    for (;;) {
      const s = await scrapeSamples(ports.telemetry);
      const decided = sumSamples(s, 'skybridge_tail_sampling_traces_total');
      const held = sumSamples(s, 'skybridge_queue_size', { queue: 'trace_buffer_traces' });
      if (held === 0 && decided === last && sink.spans > 0) break;
      last = decided;
      if (performance.now() - drainStart > 60_000) break;
      await sleep(1_500);
    }
    await sleep(2_000);
    sampling = false;
    await gauges;
    const cpuAfter = proc.cpuSeconds();
    const peakRss = proc.peakRssBytes();
    const maxSampledRss = proc.maxSampledRssBytes;
    const metrics = await scrapeSamples(ports.telemetry);
    const stopped = await proc.stop();
    await sink.stop();

    // Kept traces per window at the sink, by the send time of their request (≈ start + 200 ms).
    const keptPerWindow = new Map<number, number>();
    const latencies: number[] = [];
    for (const [id, arrival] of sink.traces) {
      const sent = sentAt.get(id.toLowerCase());
      if (sent === undefined) continue;
      const window = Math.floor((performance.timeOrigin + sent - 200) / WINDOW_MS);
      keptPerWindow.set(window, (keptPerWindow.get(window) ?? 0) + 1);
      latencies.push(arrival.lastArrivalMs - sent);
    }
    // The first and last windows are partly outside the load.
    const inner = [...keptPerWindow.entries()].sort((a, b) => a[0] - b[0]).slice(1, -1).map(([, n]) => n);
    inner.sort((a, b) => a - b);
    latencies.sort((a, b) => a - b);

    const accepted = sumSamples(metrics, 'skybridge_receiver_accepted_spans_total');
    const sampledOut = sumSamples(metrics, 'skybridge_dropped_spans_total', { reason: 'sampled_out' });
    const otherDrops = sumSamples(metrics, 'skybridge_dropped_spans_total') - sampledOut;
    const windows = sumSamples(metrics, 'skybridge_tail_sampling_window_kept_traces_count');
    const windowKept = sumSamples(metrics, 'skybridge_tail_sampling_window_kept_traces_sum');
    const byPolicy = matchSamples(metrics, 'skybridge_tail_sampling_traces_total')
      .filter((s) => s.value > 0)
      .map((s) => `${s.labels.policy}/${s.labels.decision} ${fmt(s.value)}`)
      .join(', ');
    const early = matchSamples(metrics, 'skybridge_tail_sampling_early_decisions_total').filter((s) => s.value > 0).map((s) => `${s.labels.reason}/${s.labels.decision} ${fmt(s.value)}`);
    const lossOk = load.requestsFailed === 0 && accepted === load.spansAcked && sink.spans + sampledOut + otherDrops === accepted && otherDrops === 0;
    const cpu = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
    const windowSeconds = (performance.now() - load.firstSendMs) / 1000;

    const rows: [string, string][] = [
      ['  requests acked / sent', `${fmt(load.requestsAcked)} / ${fmt(load.requestsStarted)} (failed ${load.requestsFailed}; retries: ${Object.entries(load.retries).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})`],
      ['  spans/s offered → accepted', `${fmt(rate * spansPerRequest)} → ${fmt(load.spansAcked / loadSeconds)} (${fmt(load.spansAcked)} spans in ${loadSeconds.toFixed(1)} s)`],
      ['  spans/s kept (at sink, over the load)', `${fmt(sink.spans / loadSeconds)} (${fmt(sink.spans)} spans, ${fmt(sink.traces.size)} traces)`],
      ['  kept traces per 3 s window', `skybridge: ${fmt(windows ? windowKept / windows : null, 1)} mean over ${fmt(windows)} windows; sink, by send time: min ${fmt(inner[0])} p50 ${fmt(percentile(inner, 0.5))} max ${fmt(inner.at(-1))} (budget ${perWindow})`],
      ['  decisions', byPolicy],
      ['  decided early', early.length ? early.join(', ') : 'none'],
      ['  send → segments at sink (kept traces, ms)', `p50 ${fmt(percentile(latencies, 0.5))}  p90 ${fmt(percentile(latencies, 0.9))}  p99 ${fmt(percentile(latencies, 0.99))}  max ${fmt(latencies.at(-1))}`],
      ['  peak held (2 s scrapes)', `${fmt(peaks.heldTraces)} traces, ${fmt(peaks.heldSpans)} spans, ${mib(peaks.heldBytes)} estimated`],
      ['  peak RSS (VmHWM / max sampled)', `${mib(peakRss)} / ${mib(maxSampledRss)}`],
      ['  CPU', `${cpu === null ? 'n/a' : `${cpu.toFixed(1)} s`} (${cpu === null ? 'n/a' : (cpu / windowSeconds).toFixed(2)} cores avg over ${windowSeconds.toFixed(0)} s incl. drain)`],
      ['end-to-end check', `accepted ${fmt(accepted)} = kept at sink ${fmt(sink.spans)} + sampled out ${fmt(sampledOut)}${otherDrops ? ` + OTHER DROPS ${fmt(otherDrops)}` : ''}: ${lossOk ? 'ok' : 'MISMATCH'}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
    if (!lossOk) process.stderr.write(`\n!!! tail_sampling: END-TO-END CHECK FAILED. skybridge log: ${proc.logFile}\n`);

    return {
      name: 'tail_sampling' as const,
      title: 'OTLP/gRPC → tail_sampling → skywalking',
      lossOk,
      json: {
        options: { rate, spansPerRequest, durationSeconds: o.durationMs / 1000, perWindow, decisionWait, quietPeriod: o.quietPeriod },
        load,
        throughput: { offeredSpansPerSecond: rate * spansPerRequest, acceptedSpansPerSecond: load.spansAcked / loadSeconds, keptSpansPerSecond: sink.spans / loadSeconds },
        keptPerWindow: { skybridgeMean: windows ? windowKept / windows : null, windows, sinkByWindow: inner },
        latencyMs: { p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? null },
        held: peaks,
        process: { peakRssBytes: peakRss, maxSampledRssBytes: maxSampledRss, cpuSeconds: cpu },
        sink: { spans: sink.spans, traces: sink.traces.size, segments: sink.segments },
        skybridge: { accepted, sampledOut, otherDrops, byPolicy },
        exit: stopped,
        endToEnd: { accepted, keptAtSink: sink.spans, sampledOut, otherDrops, ok: lossOk },
      },
    };
  } catch (error) {
    await proc.stop(5_000).catch(() => {});
    await sink.stop();
    throw error;
  }
}
