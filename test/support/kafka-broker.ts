/**
 * A real Apache Kafka 4.x broker for tests, run by `scripts/kafka.sh`: one JVM in KRaft mode that is
 * both broker and controller, built from Maven Central artifacts (no Docker). Use it where
 * librdkafka's mock cluster (`kafka-mock/`) falls short: consumer groups as Kafka runs them, data
 * that lives on disk, a broker that restarts.
 *
 * Usage: `const kafka = await startKafka()`, point clients at `kafka.bootstrap` (kafkajs: `brokers:
 * kafka.brokers`), `await kafka.restart()` to stop the broker cleanly and start it again on the same
 * port and data directory (topics, messages and committed offsets survive), `await kafka.kill()`
 * for a crash (SIGKILL, recovery on the next `restart()`), `await kafka.stop()` at the end.
 *
 * The first start on a machine resolves the jars with Maven (network, about a minute); later starts
 * use the cache and take 5 to 10 s. If the test process exits without `stop()`, the broker is sent
 * SIGTERM; if the test process dies, the launcher sees its standard input close and stops the
 * broker itself. A data directory this helper created is removed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/kafka.sh', import.meta.url));
const READY_LINE = /^kafka bootstrap=(\S+)$/;

export interface KafkaBrokerOptions {
  /** Client port; default: a free one, kept across `restart()`. */
  port?: number;
  /** Where the broker keeps its data (and its log, `server.log`); default: a temp directory. */
  dataDir?: string;
  /** num.partitions for auto-created topics (the launcher's default is 3). */
  partitions?: number;
  /** How long to wait for the broker to take produce requests (default 180 s). */
  timeoutMs?: number;
  /**
   * A second listener with SASL_SSL, as managed services have: TLS with the key and certificate
   * chain in `pemFile` (PKCS#8 key first), then SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 for `user`.
   */
  saslSsl?: { port: number; pemFile: string; user: { name: string; password: string } };
}

export interface KafkaBroker {
  /** `host:port` for `bootstrap.servers`. */
  readonly bootstrap: string;
  /** The same as a list (kafkajs takes this). */
  readonly brokers: string[];
  readonly port: number;
  readonly dataDir: string;
  /** The broker's own log file. */
  readonly logFile: string;
  readonly running: boolean;
  /** The last `lines` lines of the broker's log and of the launcher's stderr, for failure messages. */
  logTail(lines?: number): string;
  /** Clean stop: SIGTERM to the launcher, which stops the JVM and waits for it. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
  /** A crash: SIGKILL to the launcher and the JVM, nothing flushed or handed over. */
  kill(): Promise<void>;
  /** Stops (if running) and starts again with the same port and data directory. */
  restart(): Promise<void>;
}

/** Launchers still running, stopped when the test process exits; data dirs to remove then. */
const live = new Set<ChildProcess>();
const ownedDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) signalGroup(child, 'SIGTERM');
    for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** The launcher runs in its own process group (detached), so the JVM can be reached with it. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
}

/** Lets the test process exit even though the launcher runs (a forgotten `stop()` must not hang it). */
function setRef(child: ChildProcess, ref: boolean): void {
  for (const handle of [child, child.stdin, child.stdout, child.stderr] as unknown as ({ ref?(): void; unref?(): void } | null)[]) {
    if (ref) handle?.ref?.();
    else handle?.unref?.();
  }
}

export async function startKafka(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  installExitHook();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'skb-kafka-'));
  if (options.dataDir === undefined) ownedDirs.add(dataDir);
  const logFile = join(dataDir, 'server.log');
  const timeoutMs = options.timeoutMs ?? 180_000;
  let port = options.port;
  let bootstrap = '';
  let child: ChildProcess | undefined;
  let stderr = '';

  const logTail = (lines = 40): string => {
    const log = existsSync(logFile) ? tail(readFileSync(logFile, 'utf8'), lines) : '(no broker log yet)';
    return `--- ${logFile} (last ${lines} lines) ---\n${log}\n--- scripts/kafka.sh stderr ---\n${tail(stderr, lines)}`;
  };

  const launch = async (): Promise<void> => {
    const args = [SCRIPT, '--data-dir', dataDir, '--exit-on-stdin-close', '--timeout', String(Math.ceil(timeoutMs / 1000))];
    if (port !== undefined) args.push('--port', String(port));
    if (options.partitions !== undefined) args.push('--partitions', String(options.partitions));
    if (options.saslSsl) {
      const { port: securePort, pemFile, user } = options.saslSsl;
      args.push('--sasl-ssl-port', String(securePort), '--tls-pem', pemFile, '--sasl-user', `${user.name}:${user.password}`);
    }
    const proc = spawn('bash', args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    child = proc;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    proc.stdin!.on('error', () => {});
    stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 256 * 1024) stderr = stderr.slice(-128 * 1024);
    });

    let timer: NodeJS.Timeout | undefined;
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buffered = '';
        proc.stdout!.on('data', (d: Buffer) => {
          buffered += d.toString();
          for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
            const text = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (READY_LINE.test(text)) resolve(text);
          }
        });
        proc.once('exit', (code, signal) => reject(new Error(`scripts/kafka.sh exited (${code ?? signal}) before the broker was ready`)));
        proc.once('error', reject);
        timer = setTimeout(() => reject(new Error(`Kafka broker not ready within ${timeoutMs} ms`)), timeoutMs);
      });
      bootstrap = READY_LINE.exec(line)![1]!;
      port = Number(bootstrap.slice(bootstrap.lastIndexOf(':') + 1));
    } catch (error) {
      signalGroup(proc, 'SIGKILL');
      if (isRunning(proc)) await once(proc, 'exit');
      throw new Error(`${(error as Error).message}\n${logTail()}`);
    } finally {
      clearTimeout(timer);
    }
    setRef(proc, false);
  };

  const stop = async (stopTimeoutMs = 45_000): Promise<void> => {
    const proc = child;
    if (!isRunning(proc)) return;
    setRef(proc, true);
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM'); // the launcher forwards it to the JVM and waits (up to 30 s) for a clean stop
    const timer = setTimeout(() => signalGroup(proc, 'SIGKILL'), stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    if (!isRunning(proc)) return;
    setRef(proc, true);
    const exited = once(proc, 'exit');
    signalGroup(proc, 'SIGKILL');
    await exited;
  };

  await launch();
  return {
    get bootstrap() {
      return bootstrap;
    },
    get brokers() {
      return [bootstrap];
    },
    get port() {
      return port!;
    },
    dataDir,
    logFile,
    get running() {
      return isRunning(child);
    },
    logTail,
    stop,
    kill,
    async restart() {
      await stop();
      await launch();
    },
  };
}
