/**
 * How many workers `workers: auto` means: the CPUs this process may use. `availableParallelism`
 * follows the CPU affinity mask but not a cgroup quota, so a Kubernetes pod limited to one CPU
 * on a 32-core node would otherwise start 32 workers; the quota in `cpu.max` (cgroup v2) caps it.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export function usableCpus(cpuMax = readCgroupCpuMax()): number {
  let cpus = availableParallelism();
  if (cpuMax !== undefined) {
    const [quota, period] = cpuMax.trim().split(/\s+/);
    const q = Number(quota);
    const p = Number(period);
    if (quota !== 'max' && Number.isFinite(q) && Number.isFinite(p) && p > 0) cpus = Math.min(cpus, Math.max(1, Math.ceil(q / p)));
  }
  return Math.max(1, cpus);
}

function readCgroupCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined;
  }
}

/** The worker count a config asks for: a number as given, `auto` as the usable CPUs. */
export function resolveWorkers(setting: number | 'auto'): number {
  return setting === 'auto' ? usableCpus() : setting;
}
