/**
 * librdkafka's mock Kafka cluster (Debian `librdkafka-dev`) as a child process, for tests that
 * need a real Kafka wire peer without a JVM. `mock-cluster.c` is compiled with gcc into the
 * gitignored `build/` directory on first use, and again whenever the source is newer than the
 * binary.
 *
 * Usage: `const kafka = await startKafkaMock({ brokers: 3, topics: { orders: 2 } })`, point the
 * client at `kafka.bootstrap`, `await kafka.down(2)` / `await kafka.up(2)` to take a broker away
 * and back (broker ids start at 1), `await kafka.stop()` at the end. If the test process dies the
 * cluster sees end of input on stdin and exits by itself.
 *
 * kafkajs consumer groups work, with two settings: the mock holds a group's first JoinGroup for
 * about 3 s, so `rebalanceTimeout` must be well above that (kafkajs loops on JoinGroup timeouts
 * otherwise), and a small `maxWaitTimeInMs` keeps `consumer.disconnect()` from waiting out a 5 s
 * fetch.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, 'mock-cluster.c');
const BUILD_DIR = join(HERE, 'build');
const BINARY = join(BUILD_DIR, 'mock-cluster');

function mtimeMs(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Compiles the launcher when the binary is missing or older than its source, and returns its path.
 * Builds to a temporary name and renames, so test files building at once never run a half-written
 * binary.
 */
export function buildMockCluster(): string {
  const built = mtimeMs(BINARY);
  if (built !== undefined && built >= mtimeMs(SOURCE)!) return BINARY;
  mkdirSync(BUILD_DIR, { recursive: true });
  const tmp = `${BINARY}.${process.pid}.tmp`;
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, SOURCE, '-lrdkafka'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    rmSync(tmp, { force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    const hint = /rdkafka_mock\.h|lrdkafka/.test(stderr) ? ' (install librdkafka-dev: apt-get install -y librdkafka-dev)' : '';
    throw new Error(`building ${SOURCE} failed${hint}:\n${stderr || String(error)}`);
  }
  renameSync(tmp, BINARY);
  return BINARY;
}

export interface KafkaMockOptions {
  /** Number of brokers, ids 1..n (default 1). */
  brokers?: number;
  /** Topics to create up front: name → partition count. */
  topics?: Record<string, number>;
  /** How long to wait for the bootstrap line (default 10 s). */
  timeoutMs?: number;
}

export interface KafkaMock {
  /** `host:port,host:port,...` for `bootstrap.servers` / kafkajs `brokers`. */
  readonly bootstrap: string;
  /** The same addresses as a list (kafkajs takes this). */
  readonly brokers: string[];
  readonly process: ChildProcess;
  /** Disconnects broker `id` (1-based) or every broker, and refuses new connections. */
  down(id: number | 'all'): Promise<void>;
  /** Lets broker `id` (or every broker) accept connections again. */
  up(id: number | 'all'): Promise<void>;
  createTopic(name: string, partitions?: number): Promise<void>;
  /** Destroys the cluster; idempotent. */
  stop(): Promise<void>;
}

export async function startKafkaMock(options: KafkaMockOptions = {}): Promise<KafkaMock> {
  const binary = buildMockCluster();
  const args: string[] = [];
  if (options.brokers !== undefined) args.push('--brokers', String(options.brokers));
  for (const [name, partitions] of Object.entries(options.topics ?? {})) args.push(`${name}:${partitions}`);
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.on('error', () => {}); // writing after the child died: the pending command rejects instead
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));

  // stdout is line-based: first the bootstrap line, then one answer per command, in order.
  const waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  const lines: string[] = [];
  let exited = false;
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiting.shift();
      if (w) w.resolve(line);
      else lines.push(line);
    }
  });
  const exitPromise = once(child, 'exit');
  child.once('exit', (code, signal) => {
    exited = true;
    for (const w of waiting.splice(0)) w.reject(new Error(`mock-cluster exited (${code ?? signal}): ${stderr}`));
  });
  const nextLine = (): Promise<string> => {
    const ready = lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (exited) return Promise.reject(new Error(`mock-cluster is not running: ${stderr}`));
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };

  const timeoutMs = options.timeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  let first: string;
  try {
    first = await Promise.race([
      nextLine(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`mock-cluster printed no bootstrap line within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const m = /^bootstrap (\S+)$/.exec(first);
  if (!m) {
    child.kill('SIGKILL');
    throw new Error(`mock-cluster: unexpected first line ${JSON.stringify(first)}: ${stderr}`);
  }
  const bootstrap = m[1]!;

  // One command at a time, so answers pair with their commands.
  let chain: Promise<unknown> = Promise.resolve();
  const command = (text: string): Promise<void> => {
    const run = chain.then(async () => {
      if (exited) throw new Error(`mock-cluster is not running; cannot "${text}"`);
      const answer = nextLine();
      child.stdin!.write(`${text}\n`);
      const line = await answer;
      if (line !== 'ok') throw new Error(`mock-cluster "${text}": ${line}`);
    });
    chain = run.catch(() => {});
    return run;
  };

  return {
    bootstrap,
    brokers: bootstrap.split(','),
    process: child,
    down: (id) => command(`down ${id}`),
    up: (id) => command(`up ${id}`),
    createTopic: (name, partitions = 1) => command(`topic ${name} ${partitions}`),
    async stop() {
      if (exited) return;
      child.stdin!.end('quit\n');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitPromise;
      clearTimeout(killer);
    },
  };
}
