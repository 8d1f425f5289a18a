/**
 * What the benchmark reads from a running skybridge over its telemetry endpoint: /readyz before a
 * load starts, and the Prometheus text of /metrics for the counters and gauges a case reports; and
 * the free ports it starts skybridge and its peers on.
 * bench/run.ts and every case in bench/cases/ use this one copy, so they all wait for skybridge and
 * read its series the same way (a case that parsed /metrics its own way could report figures that
 * do not compare with the others').
 */
import { createServer } from 'node:net';
import type { MeasuredProcess } from './measured-process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls skybridge's /readyz every 100 ms until it answers 200 (its pipelines run; it answers 503
 * before that and while shutting down). Throws when the process exits first, or when `timeoutMs`
 * passes, with the last answer and the tail of its output: why a start-up failed is nearly always
 * in skybridge's own log.
 */
export async function waitUntilReady(proc: MeasuredProcess, telemetryPort: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer yet';
  while (performance.now() < deadline) {
    if (proc.hasExited) {
      const { code, signal } = await proc.exited;
      throw new Error(`skybridge exited during start-up (code ${code}, signal ${signal}). Its output:\n${proc.logTail()}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${telemetryPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
      last = `/readyz answered ${res.status}`;
    } catch (error) {
      last = (error as Error).message; // not listening yet, most often
    }
    await sleep(100);
  }
  throw new Error(`skybridge was not ready within ${timeoutMs / 1000}s (${last}). Its output:\n${proc.logTail()}`);
}

/** One line of /metrics: `name{label="value",...} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Every `skybridge_*` sample on skybridge's /metrics now (comments and other libraries' series are
 * skipped). Throws when /metrics cannot be read within 5 s: whether a missed scrape is one lost
 * sample or a failed figure is for the caller to say.
 */
export async function scrapeSamples(telemetryPort: number): Promise<Sample[]> {
  const text = await (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || !m[1]!.startsWith('skybridge_')) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The samples of metric `name` whose labels include every one of `labels` (other labels may differ). */
export const matchSamples = (samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

/** The sum of `matchSamples`: a counter over all its label sets, or those of one reason, component... 0 when none. */
export const sumSamples = (samples: Sample[], name: string, labels: Record<string, string> = {}): number =>
  matchSamples(samples, name, labels).reduce((a, s) => a + s.value, 0);

/**
 * The sum of a gauge, or null when skybridge exports no sample of it: a gauge that is absent (no
 * holder opened an account yet, a feature not configured) is not a gauge at 0.
 */
export const gaugeSum = (samples: Sample[], name: string): number | null => (matchSamples(samples, name).length === 0 ? null : sumSamples(samples, name));

/** A port free right now on loopback (the OS picks it; a tiny race with other processes is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}
