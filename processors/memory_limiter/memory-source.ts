/**
 * Where the memory limiter gets its numbers. Both are plain functions so tests hand in fake ones
 * (fake memory with fake time) instead of allocating.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MemorySource {
  /** Bytes the process uses now. */
  used(): number;
  /** Bytes the process may use at most: what `limit_percentage` is a percentage of. */
  total(): number;
}

/**
 * Resident set size: everything the process holds in RAM, the JS heap plus Buffers, sockets' and
 * gRPC's native memory, zlib state and code. That is what the kernel's OOM killer and a container's
 * cgroup limit act on. The V8 heap alone (heapUsed) misses the Buffers that hold request bodies and
 * encoded segments, which is most of what a collector under load holds. `process.memoryUsage.rss()`
 * reads one number without walking the heap, so checking it often is cheap.
 */
export function processRss(): number {
  return process.memoryUsage.rss();
}

// cgroup v2 writes "max" when unlimited; v1 writes a huge number (PAGE_COUNTER_MAX pages).
const CGROUP_LIMIT_FILES = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];

function cgroupLimit(files: readonly string[]): number | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    if (!/^\d+$/.test(text)) return undefined; // "max": no limit
    return Number(text);
  }
  return undefined;
}

/**
 * The container's memory limit when it has one (cgroup v2 `memory.max`, else v1
 * `memory.limit_in_bytes`), capped at the machine's total memory, which is also the answer when
 * there is no limit.
 */
export function availableMemory(files: readonly string[] = CGROUP_LIMIT_FILES): number {
  const machine = os.totalmem();
  const limit = cgroupLimit(files);
  return limit === undefined ? machine : Math.min(limit, machine);
}

export const processMemory: MemorySource = { used: processRss, total: () => availableMemory() };
