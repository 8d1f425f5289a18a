/**
 * A child process whose memory and CPU the benchmark reports: skybridge, or the decode-only floor.
 * Running each as its own process keeps the load generator's and the sink's allocations out of
 * its figures. Figures come from Linux's /proc; elsewhere they are reported as unavailable (null).
 *
 * - peak RSS: `VmHWM` (the kernel's high-water mark, including start-up), read just before stop;
 *   also the largest `VmRSS` seen by a 250 ms sampler, which shows the peak under load.
 * - CPU: user + system time from /proc/<pid>/stat, in seconds.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';

const SAMPLE_EVERY_MS = 250;

let clockTicks: number | undefined;
/** USER_HZ, the unit of /proc/<pid>/stat times (100 on every mainstream Linux). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds process `pid` used so far (null if it is gone or not on Linux). */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return null;
  }
}

/**
 * CPU seconds the whole machine spent busy so far, all cores together (/proc/stat: user, nice,
 * system, irq, softirq, steal; guest time is already inside user). With the benchmark's own
 * processes taken off, it shows what else ran during a measurement: on a 2-core machine a test
 * suite running beside the benchmark takes a share that changes every figure.
 */
export function machineBusyCpuSeconds(): number | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    return (user + nice + system + irq + softirq + steal) / ticksPerSecond();
  } catch {
    return null;
  }
}

export interface SpawnOptions {
  command: string;
  args: string[];
  cwd: string;
  /** stdout and stderr are appended here, so a failure can show the child's own words. */
  logFile: string;
  /** Receive stdout lines instead of logging them (the decode-only server's port line). */
  onStdoutLine?: (line: string) => void;
}

export class MeasuredProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Largest VmRSS seen by the sampler, in bytes. */
  maxSampledRssBytes: number | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exitedNow = false;
  #sampler: NodeJS.Timeout | undefined;

  constructor(options: SpawnOptions) {
    this.logFile = options.logFile;
    const log = openSync(options.logFile, 'a');
    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      stdio: ['ignore', options.onStdoutLine ? 'pipe' : log, log],
      env: process.env,
    });
    closeSync(log);
    if (options.onStdoutLine) {
      let pending = '';
      this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          options.onStdoutLine!(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exitedNow = true;
        this.stopSampling();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get hasExited(): boolean {
    return this.#exitedNow;
  }

  startSampling(): void {
    this.#sampler ??= setInterval(() => {
      const rss = this.#statusField('VmRSS');
      if (rss !== null && (this.maxSampledRssBytes === null || rss > this.maxSampledRssBytes)) this.maxSampledRssBytes = rss;
    }, SAMPLE_EVERY_MS);
  }

  stopSampling(): void {
    clearInterval(this.#sampler);
    this.#sampler = undefined;
  }

  /** The kernel's peak resident set size of the process so far, in bytes. */
  peakRssBytes(): number | null {
    return this.#statusField('VmHWM');
  }

  /** User + system CPU seconds used so far. */
  cpuSeconds(): number | null {
    return processCpuSeconds(this.pid);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  async stop(graceMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    this.stopSampling();
    if (this.#exitedNow) return { ...(await this.exited), killed: false };
    this.child.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, graceMs);
    const how = await this.exited;
    clearTimeout(timer);
    return { ...how, killed };
  }

  /** The last lines of the child's log, for error messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  #statusField(name: 'VmHWM' | 'VmRSS'): number | null {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) * 1024 : null;
    } catch {
      return null;
    }
  }
}

/**
 * Node flags that make a child write V8 CPU profiles when it exits, into `<workDir>/<name>.cpuprofiles/`
 * with Node's default file names. Those carry the thread id: one fixed file name would be written
 * by every thread in turn (tsx's module loader runs in a worker), leaving the loader's profile in
 * place of the main thread's.
 */
export function cpuProfileFlags(enabled: boolean, workDir: string, name: string): string[] {
  return enabled ? ['--cpu-prof', `--cpu-prof-dir=${workDir}/${name}.cpuprofiles`] : [];
}

/**
 * Node/V8 flags for the measured skybridge (not the floor, the sink or the load) from SKYBRIDGE_BENCH_NODE_FLAGS (space-separated), for
 * trying a flag's effect without touching the load generator: e.g. `--max-semi-space-size=64`.
 */
export function extraNodeFlags(): string[] {
  return (process.env.SKYBRIDGE_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
}
