/**
 * `skybridge tap` as a user runs it: the real CLI in its own process, reading a running collector's
 * /traces/tap stream while spans arrive over OTLP/HTTP. Its stdout must be the segments the OAP
 * received (one JSON line each), or with --spans the source spans; Ctrl-C ends it with 0; a port
 * nobody listens on gives one line on stderr and exit code 1. With `workers: 2` the tap and the
 * trace view's API gather what both worker threads built.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { components } from '../../components.ts';
import { startCollector, type RunningCollector } from '../../core/collector.ts';
import type { Component } from '../../core/component.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { ownerOfHexTraceId } from '../../core/workers/trace-owner.ts';
import { freePort } from '../support/skybridge-cli.ts';
import { StandInOap } from '../support/stand-in-oap.ts';

const BIN = fileURLToPath(new URL('../../bin/skybridge.mjs', import.meta.url));
const WAIT_MS = 30_000;

type OtlpPorts = Component & { httpPort: number };

interface Tap {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once `test` holds for what was printed so far. */
  waitFor(test: () => boolean, what: string): Promise<void>;
}

function runTap(args: string[]): Tap {
  const child = spawn(process.execPath, [BIN, 'tap', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  let partial = '';
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakers]) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push(JSON.parse(line) as Record<string, unknown>);
    wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    wake();
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  exited.then(wake, wake);
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitFor(test, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (test()) {
            clearTimeout(timer);
            wakers.delete(check);
            resolve();
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            wakers.delete(check);
            reject(new Error(`tap exited (${child.exitCode}) before ${what}; stderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          wakers.delete(check);
          reject(new Error(`timed out waiting for ${what}; stderr: ${stderr}`));
        }, WAIT_MS);
        wakers.add(check);
        check();
      });
    },
  };
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const attr = (key: string, value: string | number) => ({ key, value: typeof value === 'number' ? { intValue: value } : { stringValue: value } });

/** frontend (SERVER → CLIENT) calling orders (SERVER, remote parent), as OTLP/JSON. */
function checkoutTrace(traceId = hex(16)) {
  const ids = { feServer: hex(8), feClient: hex(8), ordServer: hex(8) };
  const t0 = BigInt(Date.now() - 1_000) * 1_000_000n;
  const at = (ms: number) => String(t0 + BigInt(ms) * 1_000_000n);
  const resource = (service: string, spans: object[]) => ({
    resource: { attributes: [attr('service.name', service), attr('service.instance.id', `${service}-1`)] },
    scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http' }, spans }],
  });
  const body = {
    resourceSpans: [
      resource('frontend', [
        { traceId, spanId: ids.feServer, name: 'GET /checkout', kind: 2, startTimeUnixNano: at(0), endTimeUnixNano: at(50),
          attributes: [attr('http.request.method', 'GET'), attr('http.route', '/checkout'), attr('http.response.status_code', 200)] },
        { traceId, spanId: ids.feClient, parentSpanId: ids.feServer, name: 'POST', kind: 3, startTimeUnixNano: at(5), endTimeUnixNano: at(45),
          attributes: [attr('http.request.method', 'POST'), attr('url.full', 'http://orders:8080/orders'), attr('server.address', 'orders'), attr('server.port', 8080)] },
      ]),
      resource('orders', [
        { traceId, spanId: ids.ordServer, parentSpanId: ids.feClient, flags: 0x301, name: 'POST /orders', kind: 2, startTimeUnixNano: at(10), endTimeUnixNano: at(40),
          attributes: [attr('http.request.method', 'POST'), attr('http.route', '/orders'), attr('http.response.status_code', 201)] },
      ]),
    ],
  };
  return { traceId, ids, body };
}

function collectorYaml(oapEndpoint: string, workers: number): string {
  return `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:0" } }
exporters:
  skywalking:
    endpoint: ${oapEndpoint}
    assembly: { quiet_period: 200ms }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
workers: ${workers}
telemetry:
  endpoint: "127.0.0.1:0"
  log_level: silent
`;
}

/** A collector in this process (OTLP/HTTP in, a stand-in OAP out) with its telemetry port. */
function useCollector(workers: number) {
  const running = { oap: undefined as unknown as StandInOap, collector: undefined as unknown as RunningCollector, endpoint: '', otlpUrl: '' };
  const taps: Tap[] = [];
  before(async () => {
    running.oap = await StandInOap.start();
    running.collector = await startCollector({ text: collectorYaml(running.oap.endpoint, workers), name: 'tap.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
    running.endpoint = `127.0.0.1:${running.collector.telemetry!.port}`;
    // The receivers run in the main thread whatever `workers` is.
    const otlp = running.collector.service.component<OtlpPorts>('otlp');
    running.otlpUrl = `http://127.0.0.1:${otlp!.httpPort}/v1/traces`;
  });
  after(async () => {
    for (const tap of taps) tap.child.kill('SIGKILL');
    await running.collector?.shutdown(5_000);
    await running.oap?.stop();
  });
  return {
    running,
    /** Starts `skybridge tap` against this collector; resolves once it is connected. */
    async tap(args: string[] = []) {
      const tap = runTap(['--endpoint', running.endpoint, ...args]);
      taps.push(tap);
      await tap.waitFor(() => tap.stderr().includes('Ctrl-C to stop'), 'the tap to connect');
      return tap;
    },
    async send(body: object) {
      const res = await fetch(running.otlpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200, await res.text());
    },
  };
}

describe('skybridge tap', () => {
  const { running, tap: startTap, send } = useCollector(1);

  it('prints the segments of spans sent after it started, as the OAP got them, and ends on Ctrl-C with 0', async () => {
    const tap = await startTap();
    const { traceId, ids, body } = checkoutTrace();
    await send(body);
    await tap.waitFor(() => tap.lines.filter((l) => l.traceId === traceId).length >= 2, 'two segments of the trace');
    const { oap } = running;
    await oap.waitForSegments(2, WAIT_MS);

    const printed = tap.lines.filter((l) => l.traceId === traceId) as unknown as { traceSegmentId: string; service: string; spans: { refs: { parentTraceSegmentId: string; networkAddressUsedAtPeer: string }[] }[] }[];
    assert.deepEqual(printed.map((s) => s.service).sort(), ['frontend', 'orders']);
    const received = oap.segments.filter((s) => s.traceid === traceId);
    assert.deepEqual(printed.map((s) => s.traceSegmentId).sort(), received.map((s) => s.tracesegmentid).sort(), 'the segments the OAP received');
    const frontend = printed.find((s) => s.service === 'frontend')!;
    const orders = printed.find((s) => s.service === 'orders')!;
    assert.equal(frontend.traceSegmentId, ids.feServer + traceId);
    assert.equal(orders.spans[0]!.refs[0]!.parentTraceSegmentId, frontend.traceSegmentId);
    assert.equal(orders.spans[0]!.refs[0]!.networkAddressUsedAtPeer, 'orders:8080');

    tap.child.kill('SIGINT');
    assert.equal(await tap.exited, 0);
    assert.doesNotMatch(tap.stderr(), /error|failed|broke/i);
  });

  it('with --spans --service prints only that service\'s source spans, with the segment each became', async () => {
    const tap = await startTap(['--spans', '--service', 'orders']);
    const { traceId, ids, body } = checkoutTrace();
    await send(body);
    await tap.waitFor(() => tap.lines.some((l) => (l.span as { traceId?: string } | undefined)?.traceId === traceId), 'the orders span');
    const mine = tap.lines.filter((l) => (l.span as { traceId: string }).traceId === traceId) as unknown as { service: string; span: { spanId: string; parentSpanId: string; kind: number; startTimeUnixNano: string }; placement: { segmentId: string; spanId: number } }[];
    assert.equal(mine.length, 1, 'frontend spans are left out');
    assert.equal(mine[0]!.service, 'orders');
    assert.equal(mine[0]!.span.spanId, ids.ordServer);
    assert.equal(mine[0]!.span.parentSpanId, ids.feClient);
    assert.equal(mine[0]!.span.kind, 2);
    assert.match(mine[0]!.span.startTimeUnixNano, /^\d{19}$/);
    assert.deepEqual(mine[0]!.placement, { segmentId: ids.ordServer + traceId, spanId: 0 });
    tap.child.kill('SIGINT');
    assert.equal(await tap.exited, 0);
  });

  it('says in one line that nothing listens, and exits 1', async () => {
    const port = await freePort();
    const tap = runTap(['--endpoint', `127.0.0.1:${port}`]);
    assert.equal(await tap.exited, 1);
    const lines = tap.stderr().trim().split('\n');
    assert.equal(lines.length, 1, tap.stderr());
    assert.match(lines[0]!, new RegExp(`^skybridge tap: cannot connect to 127\\.0\\.0\\.1:${port}: connection refused`));
    assert.deepEqual(tap.lines, []);
  });
});

describe('skybridge tap and the trace view with workers: 2', () => {
  const { running, tap: startTap, send } = useCollector(2);

  it('gathers the segments and kept traces of both worker threads', async () => {
    // One trace owned by each worker (trace-owner.ts decides by the id's last four bytes).
    const ids = [0, 1].map((owner) => {
      for (;;) {
        const id = hex(16);
        if (ownerOfHexTraceId(id, 2) === owner) return id;
      }
    });
    const tap = await startTap();
    const traces = ids.map((id) => checkoutTrace(id));
    for (const t of traces) await send(t.body);
    await tap.waitFor(() => ids.every((id) => tap.lines.filter((l) => l.traceId === id).length >= 2), 'two segments of each trace');
    for (const t of traces) {
      const orders = tap.lines.find((l) => l.traceId === t.traceId && l.service === 'orders') as unknown as { spans: { refs: { parentTraceSegmentId: string }[] }[] };
      assert.equal(orders.spans[0]!.refs[0]!.parentTraceSegmentId, t.ids.feServer + t.traceId);
    }
    tap.child.kill('SIGINT');
    assert.equal(await tap.exited, 0);

    const base = `http://${running.endpoint}/traces/api`;
    const list = (await (await fetch(`${base}/traces`)).json()) as { traces: { traceId: string; services: string[] }[]; kept: { traces: number } };
    assert.deepEqual(list.traces.map((t) => t.traceId).sort(), [...ids].sort());
    assert.equal(list.kept.traces, 2);
    for (const id of ids) {
      const res = await fetch(`${base}/trace/${id}`);
      assert.equal(res.status, 200);
      const detail = (await res.json()) as { traces: { segments: { service: string }[]; sources: unknown[] }[] };
      assert.deepEqual(detail.traces[0]!.segments.map((s) => s.service).sort(), ['frontend', 'orders']);
      assert.equal(detail.traces[0]!.sources.length, 3);
    }
  });
});
