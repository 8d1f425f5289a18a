/**
 * What starting skybridge costs: time from spawn until /readyz answers 200, and resident memory
 * once idle, for the shipped build (dist/, plain JavaScript) and for the sources run through tsx.
 *
 *   npm run bench:start [-- --runs 5 --workers 1]
 *
 * Each run starts `pipelines.yaml` (the embedded default) on free ports, waits for readiness,
 * idles 3 s, reads VmRSS (and the sum over threads is the process's: Linux reports it per process),
 * then stops it with SIGTERM. Build first (`npm run build`); the script refuses a stale dist/.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/skybridge-process.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const LAUNCHERS = {
  built: ['dist/bin/skybridge.js'],
  tsx: ['bin/skybridge.mjs'],
} as const;

interface StartFigures {
  readyMs: number;
  idleRssMiB: number;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

async function readyWithin(port: number, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

async function startOnce(launcher: readonly string[], workers: number): Promise<StartFigures> {
  const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  const env = {
    ...process.env,
    OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports[0]}`,
    OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports[1]}`,
    ZIPKIN_ENDPOINT: `127.0.0.1:${ports[2]}`,
    JAEGER_COMPACT_ENDPOINT: `127.0.0.1:${ports[3]}`,
    JAEGER_BINARY_ENDPOINT: `127.0.0.1:${ports[4]}`,
    JAEGER_HTTP_ENDPOINT: `127.0.0.1:${ports[5]}`,
    JAEGER_GRPC_ENDPOINT: `127.0.0.1:${ports[6]}`,
    SKYBRIDGE_TELEMETRY_ENDPOINT: `127.0.0.1:${ports[7]}`,
    SKYBRIDGE_WORKERS: String(workers),
  };
  const started = performance.now();
  const child = spawn(process.execPath, [...launcher, '--config', 'pipelines.yaml'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const ready = await Promise.race([readyWithin(ports[7]!, Date.now() + 30_000), exited.then(() => false)]);
    if (!ready) throw new Error(`${launcher.join(' ')} was not ready within 30 s:\n${stderr}`);
    const readyMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, 3_000));
    return { readyMs, idleRssMiB: rssMiB(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, workers: { type: 'string', default: '1' } } });
const runs = Number(values.runs);
const workers = Number(values.workers);
if (!existsSync(`${root}/dist/bin/skybridge.js`)) throw new Error('dist/ is missing: npm run build first');

const results: Record<string, StartFigures[]> = { built: [], tsx: [] };
// Alternate the launchers so a noisy neighbour hits both alike.
for (let i = 0; i < runs; i++) {
  for (const [name, launcher] of Object.entries(LAUNCHERS)) results[name]!.push(await startOnce(launcher, workers));
}
console.log(`start cost over ${runs} runs each, workers: ${workers} (medians; min–max)`);
for (const [name, figures] of Object.entries(results)) {
  const ready = figures.map((f) => f.readyMs);
  const rss = figures.map((f) => f.idleRssMiB);
  console.log(
    `  ${name.padEnd(6)} ready ${median(ready).toFixed(0)} ms (${Math.min(...ready).toFixed(0)}–${Math.max(...ready).toFixed(0)})` +
      `   idle RSS ${median(rss).toFixed(1)} MiB (${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)})`,
  );
}
