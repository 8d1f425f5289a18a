/**
 * The Node runtime metrics on /metrics, with one thread and with `workers: 2`: process-wide ones
 * (CPU, RSS, file descriptors, start time) appear once and match what this very process measures of
 * itself (the collector runs in the test's process), never summed over the threads; per-thread ones
 * (heap, event-loop delay and utilization, GC) appear once per thread, told apart by `thread`.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { components } from '../../../components.ts';
import { startCollector } from '../../../core/collector.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { parsePrometheusText, type Sample } from '../../../core/telemetry/status/prometheus-text.ts';
import { freePort } from '../../support/skybridge-process.ts';

const PROCESS_WIDE = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds', 'process_start_time_seconds', 'nodejs_version_info'];
const PER_THREAD = ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_eventloop_lag_p99_seconds', 'skybridge_eventloop_active_seconds_total', 'skybridge_heap_limit_bytes', 'nodejs_active_handles_total'];

/** This process as it measures itself, right after the scrape (the collector still running). */
interface Self {
  cpuSeconds: number;
  rss: number;
  fds: number;
}

async function scrape(workers: number): Promise<{ samples: Sample[]; self: Self }> {
  const port = await freePort();
  const yaml = `
workers: ${workers}
receivers:
  otlp:
    http: { endpoint: 127.0.0.1:${await freePort()} }
    grpc: { endpoint: 127.0.0.1:${await freePort()} }
exporters:
  debug: { output: stderr, verbosity: basic }
pipelines:
  traces: { receivers: [otlp], exporters: [debug] }
telemetry: { endpoint: 127.0.0.1:${port}, log_level: silent }
`;
  const collector = await startCollector({ text: yaml, name: 'runtime.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
  try {
    // Garbage, so every thread has run its collector at least once before the scrape.
    for (let i = 0; i < 50; i++) new Array(100_000).fill({ i });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const cpu = process.cpuUsage();
    const self = { cpuSeconds: (cpu.user + cpu.system) / 1e6, rss: process.memoryUsage().rss, fds: readdirSync('/proc/self/fd').length };
    return { samples: parsePrometheusText(text), self };
  } finally {
    await collector.shutdown(5_000);
  }
}

function only(samples: Sample[], name: string): Sample {
  const found = samples.filter((s) => s.name === name);
  assert.equal(found.length, 1, `${name}: ${JSON.stringify(found)}`);
  return found[0]!;
}

function byThread(samples: Sample[], name: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const s of samples.filter((x) => x.name === name)) {
    const thread = s.labels.thread;
    assert.ok(thread, `${name} without a thread label`);
    assert.ok(!values.has(thread), `${name} twice for thread ${thread}`);
    values.set(thread, s.value);
  }
  return values;
}

for (const workers of [1, 2]) {
  describe(`runtime metrics with workers: ${workers}`, () => {
    const threads = workers === 1 ? ['main'] : ['main', ...Array.from({ length: workers }, (_, i) => `worker-${i}`)];

    it('process-wide metrics appear once, unlabelled by thread, with this process\'s own values', async () => {
      const { samples, self } = await scrape(workers);
      for (const name of PROCESS_WIDE) assert.equal(only(samples, name).labels.thread, undefined, name);

      const cpu = only(samples, 'process_cpu_seconds_total').value;
      assert.ok(cpu > 0 && cpu <= self.cpuSeconds, `CPU ${cpu}s is this process's (${self.cpuSeconds}s), not a sum over threads`);
      const rss = only(samples, 'process_resident_memory_bytes').value;
      assert.ok(rss > self.rss * 0.7 && rss < self.rss * 1.3, `RSS ${rss} vs this process's ${self.rss}`);
      const fds = only(samples, 'process_open_fds').value;
      assert.ok(Math.abs(fds - self.fds) <= 10, `open fds ${fds} vs ${self.fds} right after`);
      assert.ok(only(samples, 'process_max_fds').value >= fds);
      const started = only(samples, 'process_start_time_seconds').value;
      assert.ok(Math.abs(started - (Date.now() / 1000 - process.uptime())) < 5, `start time ${started}`);
    });

    it(`per-thread metrics appear once for each of ${threads.join(', ')}`, async () => {
      const { samples } = await scrape(workers);
      for (const name of PER_THREAD) assert.deepEqual([...byThread(samples, name).keys()].sort(), threads, name);
      for (const [thread, used] of byThread(samples, 'nodejs_heap_size_used_bytes')) {
        const limit = byThread(samples, 'skybridge_heap_limit_bytes').get(thread)!;
        assert.ok(used > 1e6 && used < limit, `${thread}: heap used ${used} of limit ${limit}`);
      }
      for (const [thread, busy] of byThread(samples, 'skybridge_eventloop_active_seconds_total')) {
        assert.ok(busy > 0 && busy < process.uptime(), `${thread}: event loop busy ${busy}s of ${process.uptime()}s`);
      }
      for (const [thread, p99] of byThread(samples, 'nodejs_eventloop_lag_p99_seconds')) {
        assert.ok(Number.isNaN(p99) || (p99 >= 0 && p99 < 5), `${thread}: event-loop delay p99 ${p99}s`);
      }
      const gcThreads = new Set(samples.filter((s) => s.name === 'nodejs_gc_duration_seconds_count').map((s) => s.labels.thread));
      assert.ok(gcThreads.has('main'), 'the main thread\'s garbage collections are counted');
    });
  });
}
