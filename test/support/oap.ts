/**
 * Runs the real Apache SkyWalking OAP 10.1.0 (`scripts/oap.sh`, see docs/real-peers.md) for tests:
 * spawns the script in its own process group, waits for its ready line
 * (`oap grpc=HOST:PORT rest=http://HOST:PORT`), and answers GraphQL. Startup is slow the first time
 * (Maven resolves about 140 MB of jars), a few seconds after that.
 *
 * `stop()` sends SIGTERM to the script, which stops the JVM; if the test process exits (or gets
 * SIGINT/SIGTERM) first, the whole process group is SIGKILLed, and if it is SIGKILLed itself, the
 * script sees its stdin close and stops the JVM: no JVM outlives the test.
 * Failures carry the tail of the OAP's log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, SkybridgeProcess } from './skybridge-process.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/oap.sh', import.meta.url));
const READY = /^oap grpc=(\S+) rest=(\S+)$/m;

export interface StartOapOptions {
  /** Enable the OAP's kafka-fetcher on this bootstrap address (`--kafka`). */
  kafka?: string;
  /** Topic prefix for kafka-fetcher (`--kafka-namespace`). */
  kafkaNamespace?: string;
  /** Require this gRPC `Authentication` token (`--token`). */
  token?: string;
  /** `h2` (in memory, the default) or `postgresql` (127.0.0.1:5432/test). */
  storage?: 'h2' | 'postgresql';
  /** How long to wait for the ready line; 240 s by default (a first run resolves jars with Maven). */
  readyTimeoutMs?: number;
  /** JVM options instead of oap.sh's default `-Xms256m -Xmx1g`. */
  javaOpts?: string;
}

export interface GraphqlError {
  message: string;
  path?: (string | number)[];
}

export interface RealOap {
  /** `host:port` of the core gRPC server: native segments, management, OTLP traces. */
  readonly grpcAddress: string;
  /** `http://host:port` of the core REST server (GraphQL at `/graphql`). */
  readonly restUrl: string;
  /** Zipkin query API base (`http://host:port/zipkin`): the spans the OAP's own OTLP receiver stored. */
  readonly zipkinUrl: string;
  /** The OAP's log file (kept until `stop()`). */
  readonly logFile: string;
  /** POSTs a GraphQL query; resolves `data`, rejects when the answer has `errors` or is not JSON. */
  graphql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** The last `lines` lines of the OAP's log, for failure messages. */
  logTail(lines?: number): string;
  /** SIGTERM to oap.sh (which stops the JVM and waits for it); SIGKILL to the group after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines - 1).join('\n');
}

/** Kills the script and the JVM with it (both are in the group the detached spawn created). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** While an OAP runs, a dying test process takes it down too. */
function guardProcessExit(child: ChildProcess): () => void {
  const onExit = () => killGroup(child, 'SIGKILL');
  const onSignal = (signal: NodeJS.Signals) => {
    killGroup(child, 'SIGKILL');
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    // Our listener was the reason the default action did not run: die the way the signal meant.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.removeListener('exit', onExit);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}

/**
 * Starts the OAP. Its ports are picked free by oap.sh and bound by the JVM seconds later, so another
 * test process can take one in between ("Address already in use"): then it starts again on new ports.
 */
export async function startOap(opts: StartOapOptions = {}): Promise<RealOap> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOapOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOapOnce(opts: StartOapOptions): Promise<RealOap> {
  const dir = mkdtempSync(join(tmpdir(), 'skb-oap-'));
  const logFile = join(dir, 'oap.log');
  const zipkinPort = await freePort();
  // --exit-on-stdin-close: if this process dies in a way no handler sees (SIGKILL), its end of the
  // stdin pipe closes and oap.sh stops the JVM.
  const args = [SCRIPT, '--log', logFile, '--zipkin-port', String(zipkinPort), '--exit-on-stdin-close'];
  if (opts.kafka !== undefined) args.push('--kafka', opts.kafka);
  if (opts.kafkaNamespace !== undefined) args.push('--kafka-namespace', opts.kafkaNamespace);
  if (opts.token !== undefined) args.push('--token', opts.token);
  if (opts.storage !== undefined) args.push('--storage', opts.storage);
  const env = { ...process.env };
  if (opts.javaOpts !== undefined) env.OAP_JAVA_OPTS = opts.javaOpts;

  const child = spawn('bash', args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env });
  const unguard = guardProcessExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const logTail = (lines = 60): string => (existsSync(logFile) ? tail(readFileSync(logFile, 'utf8'), lines) : '(no log yet)');
  const exited = once(child, 'exit');

  const timeoutMs = opts.readyTimeoutMs ?? 240_000;
  let ready: RegExpExecArray;
  try {
    ready = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`OAP not ready within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        const m = READY.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      };
      child.stdout!.on('data', check);
      void exited.then(([code, signal]) => {
        clearTimeout(timer);
        reject(new Error(`oap.sh exited (${signal ?? code}) before it was ready`));
      });
    });
  } catch (err) {
    killGroup(child, 'SIGKILL');
    await exited;
    child.stdin!.destroy();
    unguard();
    const message = `${(err as Error).message}\n--- oap.sh stderr ---\n${tail(stderr, 30)}\n--- OAP log (${logFile}) ---\n${logTail(80)}`;
    throw new Error(message);
  }

  const [, grpcAddress, restUrl] = ready as unknown as [string, string, string];
  const zipkinUrl = `http://${grpcAddress.split(':')[0]}:${zipkinPort}/zipkin`;
  let stopped: Promise<void> | undefined;

  return {
    grpcAddress,
    restUrl,
    zipkinUrl,
    logFile,
    logTail,
    async graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      const res = await fetch(`${restUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      let body: { data?: T; errors?: GraphqlError[] };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new Error(`GraphQL answered ${res.status} with non-JSON: ${text.slice(0, 500)}`);
      }
      if (body.errors?.length) throw new Error(`GraphQL errors: ${body.errors.map((e) => `${e.message}${e.path ? ` at ${e.path.join('.')}` : ''}`).join('; ')}`);
      if (!res.ok || body.data === undefined) throw new Error(`GraphQL answered ${res.status}: ${text.slice(0, 500)}`);
      return body.data;
    },
    stop(timeoutMs = 30_000): Promise<void> {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
          await exited;
          clearTimeout(timer);
        }
        // The JVM is oap.sh's child: make sure nothing of the group is left.
        killGroup(child, 'SIGKILL');
        child.stdin!.destroy();
        unguard();
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

export interface OapBehindSkybridge {
  readonly oap: RealOap;
  readonly skybridge: SkybridgeProcess;
  /** The port of skybridge's one OTLP receiver (gRPC or HTTP, as asked) on 127.0.0.1. */
  readonly otlpPort: number;
  /** Stops skybridge, then the OAP. */
  stop(): Promise<void>;
}

/**
 * The real OAP with a skybridge process (named `name`) in front of it: one OTLP receiver (`grpc` or
 * `http`) on a free port, the `skywalking` exporter to the OAP's gRPC port (assembly quiet_period
 * 200ms, max_wait 3s). If skybridge does not start, the OAP is stopped again.
 */
export async function startOapBehindSkybridge(name: string, otlp: 'grpc' | 'http' = 'grpc'): Promise<OapBehindSkybridge> {
  const oap = await startOap();
  let skybridge: SkybridgeProcess;
  let otlpPort: number;
  try {
    otlpPort = await freePort();
    const receiver = otlp === 'grpc' ? `{ grpc: { endpoint: "127.0.0.1:${otlpPort}" }, http: null }` : `{ grpc: null, http: { endpoint: "127.0.0.1:${otlpPort}" } }`;
    skybridge = await SkybridgeProcess.start(
      name,
      `
receivers:
  otlp: ${receiver}
exporters:
  skywalking:
    endpoint: "${oap.grpcAddress}"
    assembly: { quiet_period: 200ms, max_wait: 3s }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
`,
    );
  } catch (err) {
    await oap.stop();
    throw err;
  }
  return {
    oap,
    skybridge,
    otlpPort,
    async stop() {
      await skybridge.stop();
      await oap.stop();
    },
  };
}

/** GraphQL `Duration` for the last `minutes` minutes up to one minute ahead, step MINUTE (oap.sh runs the OAP in UTC). */
export function lastMinutes(minutes = 15): { start: string; end: string; step: 'MINUTE' } {
  const fmt = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ').replace(':', '');
  const now = Date.now();
  return { start: fmt(now - minutes * 60_000), end: fmt(now + 60_000), step: 'MINUTE' };
}

/**
 * Calls `probe` every `intervalMs` until it returns a value other than undefined; rejects after
 * `timeoutMs` with `what`, the last probe error and the OAP's log tail.
 */
export async function pollOap<T>(
  oap: RealOap,
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 90_000, intervalMs = 1_000 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const cause = last instanceof Error ? `; last error: ${last.message}` : '';
      throw new Error(`OAP: ${what} not seen within ${timeoutMs} ms${cause}\n--- OAP log ---\n${oap.logTail(40)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
