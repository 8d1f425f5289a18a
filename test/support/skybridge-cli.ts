/**
 * Runs the real CLI (`node bin/skybridge.mjs --config <file>`) as a child process for the durable
 * retry fault tests: it can be killed (SIGKILL, SIGTERM) and restarted on the same ports, its JSON
 * log lines are kept for assertions, and its subcommands (`dlq list|replay`) can be run to the end.
 * (test/support/skybridge-process.ts is the e2e suite's lighter runner.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/skybridge.mjs', import.meta.url));

/** A port that was free a moment ago (bound to 0, read, closed), so a restart can bind it again. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** A temporary config file; `remove()` deletes its folder. */
export function configFile(yaml: string): { file: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'skybridge-test-'));
  const file = path.join(dir, 'pipelines.yaml');
  writeFileSync(file, yaml);
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SkybridgeChild {
  readonly child: ChildProcess;
  /** Parsed JSON log lines (stderr) so far. */
  readonly logs: Record<string, unknown>[];
  /** Everything written to stderr that was not a JSON log line. */
  readonly stderrText: () => string;
  /** What it wrote to stdout (with `keepStdout`; otherwise stdout is discarded and this is ''). */
  readonly stdoutText: () => string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  /** Send a signal (if still running) and wait for the exit. */
  stop(signal: NodeJS.Signals): Promise<number | string>;
  /** Resolves once a log line with this `msg` appeared. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export interface StartOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** The program to run instead of the sources' launcher, e.g. a built `dist/bin/skybridge.js`. */
  entry?: string;
  cwd?: string;
  /** Keep stdout for stdoutText() (the debug exporter's segments) instead of discarding it. */
  keepStdout?: boolean;
}

/** Starts `skybridge --config file` and waits for "skybridge is running.". */
export async function startSkybridge(file: string, opts: StartOptions = {}): Promise<SkybridgeChild> {
  const child = spawn(process.execPath, [opts.entry ?? CLI, ...(opts.args ?? []), '--config', file], {
    env: { ...process.env, ...opts.env },
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let other = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stderr!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        other += `${line}\n`;
      }
    }
    for (const wake of [...waiters]) wake();
  });
  let stdout = '';
  if (opts.keepStdout) child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  else child.stdout!.resume();
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? -1);
      for (const wake of [...waiters]) wake();
    });
  });

  const waitForLog = (msg: string | RegExp, timeoutMs = 15_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const matches = (line: Record<string, unknown>) => (typeof msg === 'string' ? line.msg === msg : msg.test(String(line.msg)));
      const check = (): void => {
        const found = logs.find(matches);
        if (found) {
          cleanup();
          resolve(found);
        } else if (done) {
          cleanup();
          reject(new Error(`skybridge exited before logging "${String(msg)}": ${other}${logs.map((l) => JSON.stringify(l)).join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`skybridge did not log "${String(msg)}" within ${timeoutMs} ms: ${other}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  try {
    await waitForLog('skybridge is running.', opts.timeoutMs ?? 20_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    logs,
    stderrText: () => other,
    stdoutText: () => stdout,
    exited,
    async stop(signal) {
      if (!done) child.kill(signal);
      return exited;
    },
    waitForLog,
  };
}

/** Runs a CLI subcommand to completion; returns its exit code and output. */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** One sample of the Prometheus text on /metrics. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Reads /metrics from a running skybridge's telemetry port. */
export async function scrapeMetrics(port: number): Promise<MetricSample[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function metricSum(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
