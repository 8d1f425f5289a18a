/**
 * A load above capacity gets refusals, the process stays under its hard limit, and everything
 * accepted is exported. The real pipeline (otlp → memory_limiter → batch → skywalking exporter)
 * runs in-process against a stand-in OAP that holds its replies, so the exporter keeps every
 * accepted span in memory, as it would with a slow OAP.
 *
 * Memory is a model, not this process's RSS (which the test runner, the stand-in and the client
 * share, and which no test can steer precisely): a fixed base plus 64 KiB for every span accepted
 * and not yet delivered. The limiter reads it through the memory source its factory takes.
 * A regression shows as: no 429s (the limiter never refuses), a peak at or above the hard limit
 * (it refused too late), or an accepted trace missing at the OAP (a refusal after acceptance).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { components } from '../../../components.ts';
import { startCollector, type Factories, type RunningCollector } from '../../../core/collector.ts';
import type { Component } from '../../../core/component.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { createMemoryLimiterFactory } from '../../../processors/memory_limiter/factory.ts';
import type { MemorySource } from '../../../processors/memory_limiter/memory-source.ts';
import { postRaw } from '../otlp-receiver/post-raw.ts';
import { StandInOap } from '../../support/stand-in-oap.ts';

const MiB = 1024 * 1024;
const BASE = 32 * MiB;
const PER_SPAN = 64 * 1024;
const HARD = 64 * MiB;
const SOFT = 48 * MiB; // limit − spike_limit
const SPANS_PER_TRACE = 4;

/** Memory = base + what the pipeline holds: spans accepted (answered 200) minus spans delivered. */
class HeldSpansMemory implements MemorySource {
  accepted = 0;
  delivered = 0;
  /** Highest value the model reached, between the limiter's checks included. */
  peak = 0;
  used = (): number => BASE + (this.accepted - this.delivered) * PER_SPAN;
  total = (): number => 8 * 1024 * MiB;
  accept(spans: number): void {
    this.accepted += spans;
    this.peak = Math.max(this.peak, this.used());
  }
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** One OTLP/JSON request: a trace of a SERVER span and three INTERNAL children. */
function traceRequest(traceId: string): string {
  const root = hex(8);
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const span = (spanId: string, parent: string, name: string, kind: number, offsetMs: number) => ({
    traceId, spanId, parentSpanId: parent, name, kind, flags: parent ? 0x100 : 0,
    startTimeUnixNano: String(t0 + BigInt(offsetMs) * 1_000_000n),
    endTimeUnixNano: String(t0 + BigInt(offsetMs + 5) * 1_000_000n),
    attributes: [{ key: 'payload', value: { stringValue: 'x'.repeat(200) } }],
  });
  const spans = [span(root, '', 'GET /load', 2, 0)];
  for (let i = 1; i < SPANS_PER_TRACE; i++) spans.push(span(hex(8), root, `step-${i}`, 1, i));
  return JSON.stringify({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'load' } }, { key: 'service.instance.id', value: { stringValue: 'load-1' } }] },
      scopeSpans: [{ scope: { name: 'load-test' }, spans }],
    }],
  });
}

async function metricSum(collector: RunningCollector, name: 'exporterSentSpans' | 'memoryLimiterRefusedSpans' | 'memoryLimiterState'): Promise<number> {
  return (await collector.metrics[name].get()).values.reduce((a, v) => a + v.value, 0);
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('memory_limiter in a real pipeline with a stalled OAP', () => {
  let oap: StandInOap;
  let collector: RunningCollector;
  let url = '';
  const memory = new HeldSpansMemory();

  before(async () => {
    oap = await StandInOap.start();
    const factories: Factories = {
      ...components,
      processors: components.processors.map((f) => (f.type === 'memory_limiter' ? createMemoryLimiterFactory({ memory, gc: undefined }) : f)),
    };
    const yaml = `
receivers:
  otlp:
    grpc: null
    http: { endpoint: "127.0.0.1:0" }
processors:
  memory_limiter: { check_interval: 20ms, limit: 64MiB, spike_limit: 16MiB, retry_after: 2s }
  batch: { send_batch_size: 64, timeout: 20ms }
exporters:
  skywalking:
    endpoint: ${oap.endpoint}
    timeout: 60s
    sending_queue: { queue_size: 100000 }
    assembly: { quiet_period: 50ms }
pipelines:
  traces: { receivers: [otlp], processors: [memory_limiter, batch], exporters: [skywalking] }
telemetry: { endpoint: null, log_level: silent }
`;
    collector = await startCollector({ text: yaml, name: 'memory-limit.yaml' }, factories, { logger: createLogger({ level: 'silent' }) });
    const otlp = collector.service.component<Component & { httpPort: number }>('otlp')!;
    url = `http://127.0.0.1:${otlp.httpPort}/v1/traces`;
  });

  after(async () => {
    oap.releaseReplies();
    await collector?.shutdown(5_000);
    await oap?.stop();
  });

  it('refuses with 429 + Retry-After above the soft limit, stays under the hard limit, and exports everything it accepted', async () => {
    oap.holdReplies();
    const accepted: string[] = [];
    const refused: string[] = [];
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const traceId = hex(16);
        const res = await postRaw(url, traceRequest(traceId), { headers: { 'Content-Type': 'application/json' } });
        if (res.status === 200) {
          accepted.push(traceId);
          memory.accept(SPANS_PER_TRACE);
        } else {
          assert.equal(res.status, 429, `unexpected answer ${res.status}: ${res.body.toString()}`);
          assert.equal(res.headers['retry-after'], '2');
          refused.push(traceId);
        }
        if (refused.length >= 20 || accepted.length + refused.length >= 5000) stop = true;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);

    // Refusals came, and only once the modelled memory had reached the soft limit.
    assert.ok(refused.length >= 20, `expected refusals, got ${refused.length} after ${accepted.length} accepted requests`);
    assert.ok(memory.peak >= SOFT, `memory peaked at ${memory.peak / MiB} MiB, below the soft limit`);
    assert.ok(memory.peak < HARD, `memory peaked at ${memory.peak / MiB} MiB, at or above the hard limit`);
    assert.equal(await metricSum(collector, 'memoryLimiterState'), 1);
    assert.equal(await metricSum(collector, 'memoryLimiterRefusedSpans'), refused.length * SPANS_PER_TRACE);

    // The OAP catches up: every accepted trace arrives whole; no refused one arrives at all.
    oap.releaseReplies();
    const spansAtOap = (): Map<string, number> => {
      const byTrace = new Map<string, number>();
      for (const s of oap.segments) byTrace.set(s.traceid, Math.max(byTrace.get(s.traceid) ?? 0, s.spansList.length));
      return byTrace;
    };
    await oap.waitFor(() => accepted.every((id) => spansAtOap().get(id) === SPANS_PER_TRACE), 30_000, () => {
      const at = spansAtOap();
      return `${accepted.length} accepted traces (${accepted.filter((id) => at.get(id) === SPANS_PER_TRACE).length} arrived whole)`;
    });
    const atOap = spansAtOap();
    assert.deepEqual(refused.filter((id) => atOap.has(id)), [], 'a refused trace reached the OAP');

    // Delivered spans leave memory, and the limiter accepts again by itself.
    await until(async () => {
      memory.delivered = await metricSum(collector, 'exporterSentSpans');
      return memory.delivered >= memory.accepted;
    }, 30_000, 'the exporter to report every accepted span delivered');
    await until(async () => (await metricSum(collector, 'memoryLimiterState')) === 0, 5_000, 'the limiter to recover');
    const res = await postRaw(url, traceRequest(hex(16)), { headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 200);
  });
});
