/**
 * Runs `bin/skybridge.mjs --config <yaml>` as a child process for end-to-end tests: writes the YAML
 * to a temp file, waits for /readyz on its telemetry port, and stops it with SIGTERM or kills it
 * with SIGKILL (a crash). The YAML gets the telemetry block appended; do not write one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/skybridge.mjs', import.meta.url));

/** Ports this process handed out, so it never hands one out twice. */
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  const srv = createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Ports in that range that fetch() refuses to connect to (the Fetch standard's "bad ports"), which
 * made a readiness probe fail as if the server never came up.
 */
const FETCH_BLOCKED = new Set([10080]);

/**
 * A port free now, for a server a test starts a moment later. Picked at random below the kernel's
 * ephemeral range (32768-60999 by default): a port the OS hands out for `listen(0)` can be taken
 * by any test's outgoing connection before the server binds it, which made tests fail with
 * EADDRINUSE on a loaded machine; outgoing connections never use ports below that range.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    if (FETCH_BLOCKED.has(port) || handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export class SkybridgeProcess {
  readonly name: string;
  readonly yaml: string;
  readonly telemetryPort: number;
  #child: ChildProcess | undefined;
  /** stderr of every run, for failure messages. */
  log = '';

  private constructor(name: string, yaml: string, telemetryPort: number) {
    this.name = name;
    this.yaml = yaml;
    this.telemetryPort = telemetryPort;
  }

  static async start(name: string, yaml: string, opts: { logLevel?: string } = {}): Promise<SkybridgeProcess> {
    const telemetryPort = await freePort();
    const full = `${yaml}\ntelemetry:\n  endpoint: "127.0.0.1:${telemetryPort}"\n  log_level: ${opts.logLevel ?? 'warn'}\n`;
    const p = new SkybridgeProcess(name, full, telemetryPort);
    await p.restart();
    return p;
  }

  /** The running child's pid (for /proc readings such as peak RSS). */
  get pid(): number | undefined {
    return this.running ? this.#child!.pid : undefined;
  }

  /** Peak resident memory of the running child so far (VmHWM), in bytes; Linux only. */
  peakRssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    if (kib === undefined) throw new Error(`No VmHWM in /proc/${this.pid}/status.`);
    return Number(kib) * 1024;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts (again) with the same config and telemetry port; resolves once /readyz answers. */
  async restart(timeoutMs = 20_000): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), `skb-${this.name}-`));
    const file = join(dir, 'pipelines.yaml');
    writeFileSync(file, this.yaml);
    const child = spawn(process.execPath, [BIN, '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited during start: ${this.log}`);
      const ok = await fetch(`http://127.0.0.1:${this.telemetryPort}/readyz`).then((r) => r.ok, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`${this.name} not ready within ${timeoutMs} ms: ${this.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The /metrics page as text. */
  metrics(): Promise<string> {
    return fetch(`http://127.0.0.1:${this.telemetryPort}/metrics`).then((r) => r.text());
  }

  /** A crash: SIGKILL, nothing flushed. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  /** A clean stop: SIGTERM, then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || !this.running) return child?.exitCode ?? null;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code] = await once(child, 'exit');
    clearTimeout(timer);
    return code as number | null;
  }
}
