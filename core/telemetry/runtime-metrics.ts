/**
 * The Node runtime's own metrics on /metrics: prom-client's default collectors, split by what they
 * measure, plus event-loop utilization and the V8 heap limit.
 *
 * With `workers: N` every thread has its own registry and /metrics sums them (worker-pool.ts). So:
 * - process-wide metrics (`process_*`: CPU, RSS, file descriptors, start time; and the Node
 *   version) are collected by the main thread only, so the sum cannot count them N + 1 times;
 * - per-thread metrics (`nodejs_*` heap, event-loop delay, GC, active handles; and ours below)
 *   carry a `thread` label (`main`, `worker-0`, ...), so the sum leaves each thread's series apart.
 *
 * The collectors watch the thread they run in, not a collector instance, so each thread makes them
 * once and every Metrics registry of that thread shares them (tests start many collectors in one
 * process; each new set would add an event-loop monitor and a GC observer that are never stopped).
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Registry, type Metric } from 'prom-client';

/** How prom-client's default collectors are made: each registers its metrics on `registry`. */
type DefaultCollector = (registry: Registry, config: { labels?: Record<string, string>; eventLoopMonitoringPrecision?: number }) => void;

// prom-client exposes its collectors only all together (collectDefaultMetrics); they are loaded one
// by one so each side of the process-wide / per-thread split gets only its own.
const requireFromHere = createRequire(import.meta.url);
const collector = (file: string): DefaultCollector => requireFromHere(`prom-client/lib/metrics/${file}`) as DefaultCollector;

const PROCESS_WIDE = ['processCpuTotal', 'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors', 'version'];
const PER_THREAD = ['eventLoopLag', 'processHandles', 'processRequests', 'processResources', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'gc'];

/** Resolution of the event-loop delay histogram (prom-client's default). */
const EVENT_LOOP_RESOLUTION_MS = 10;

export interface RuntimeScope {
  /** The `thread` label of the per-thread metrics: `main`, `worker-0`, ... */
  thread: string;
  /** Whether this thread reports the process-wide metrics (the main thread, exactly one per process). */
  processWide: boolean;
}

let made: { scope: RuntimeScope; metrics: Metric[] } | undefined;

/** Registers this thread's runtime metrics on `registry` (made on the thread's first call). */
export function registerRuntimeMetrics(registry: Registry, scope: RuntimeScope): void {
  made ??= { scope, metrics: makeRuntimeMetrics(scope) };
  for (const metric of made.metrics) registry.registerMetric(metric);
}

function makeRuntimeMetrics(scope: RuntimeScope): Metric[] {
  const scratch = new Registry();
  const labels = { thread: scope.thread };
  for (const file of PER_THREAD) collector(file)(scratch, { labels, eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
  if (scope.processWide) {
    for (const file of PROCESS_WIDE) collector(file)(scratch, {});
    // prom-client marks the start time 'omit' (cluster workers each have their own). Here only the
    // main thread reports it, so the one value passes the workers' aggregation as it is.
    const startTime = scratch.getSingleMetric('process_start_time_seconds') as (Metric & { aggregator: string }) | undefined;
    if (startTime) startTime.aggregator = 'first';
  }
  new Counter({
    name: 'skybridge_eventloop_active_seconds_total',
    help: "Time this thread's event loop spent running callbacks rather than waiting; its rate is the event-loop utilization (0 idle, 1 saturated).",
    labelNames: ['thread'] as const,
    registers: [scratch],
    collect() {
      this.reset();
      this.inc(labels, performance.eventLoopUtilization().active / 1000);
    },
  });
  new Gauge({
    name: 'skybridge_heap_limit_bytes',
    help: "The V8 heap limit of this thread (--max-old-space-size or its default): past it the thread dies of 'heap out of memory'.",
    labelNames: ['thread'] as const,
    registers: [scratch],
    collect() {
      this.set(labels, getHeapStatistics().heap_size_limit);
    },
  });
  return scratch.getMetricsAsArray().map((m) => scratch.getSingleMetric(m.name)!);
}
