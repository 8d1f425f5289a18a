/**
 * `skybridge tap` as a user runs it: the real CLI in its own process, reading a running collector's
 * /traces/tap stream while spans arrive over OTLP/HTTP. Its stdout must be the segments the OAP
 * received (one JSON line each), or with --spans the source spans; Ctrl-C ends it with 0; a port
 * nobody listens on gives one line on stderr and exit code 1.
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
function checkoutTrace() {
  const traceId = hex(16);
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

describe('skybridge tap', () => {
  let oap: StandInOap;
  let collector: RunningCollector;
  let endpoint = '';
  let otlpUrl = '';
  const taps: Tap[] = [];

  before(async () => {
    oap = await StandInOap.start();
    const yaml = `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:0" } }
exporters:
  skywalking:
    endpoint: ${oap.endpoint}
    assembly: { quiet_period: 200ms }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
telemetry:
  endpoint: "127.0.0.1:0"
  log_level: silent
`;
    collector = await startCollector({ text: yaml, name: 'tap.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
    endpoint = `127.0.0.1:${collector.telemetry!.port}`;
    otlpUrl = `http://127.0.0.1:${collector.service.component<OtlpPorts>('otlp')!.httpPort}/v1/traces`;
  });

  after(async () => {
    for (const tap of taps) tap.child.kill('SIGKILL');
    await collector?.shutdown(5_000);
    await oap?.stop();
  });

  const send = async (body: object) => {
    const res = await fetch(otlpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.text());
  };

  it('prints the segments of spans sent after it started, as the OAP got them, and ends on Ctrl-C with 0', async () => {
    const tap = runTap(['--endpoint', endpoint]);
    taps.push(tap);
    await tap.waitFor(() => tap.stderr().includes('Ctrl-C to stop'), 'the tap to connect');
    const { traceId, ids, body } = checkoutTrace();
    await send(body);
    await tap.waitFor(() => tap.lines.filter((l) => l.traceId === traceId).length >= 2, 'two segments of the trace');
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
    const tap = runTap(['--endpoint', endpoint, '--spans', '--service', 'orders']);
    taps.push(tap);
    await tap.waitFor(() => tap.stderr().includes('Ctrl-C to stop'), 'the tap to connect');
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
    taps.push(tap);
    assert.equal(await tap.exited, 1);
    const lines = tap.stderr().trim().split('\n');
    assert.equal(lines.length, 1, tap.stderr());
    assert.match(lines[0]!, new RegExp(`^skybridge tap: cannot connect to 127\\.0\\.0\\.1:${port}: connection refused`));
    assert.deepEqual(tap.lines, []);
  });
});
