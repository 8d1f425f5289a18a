/**
 * The built CLI end to end: `skybridge validate` on a broken file, and `skybridge --config` on the
 * embedded default's shape, fed the README's curl example, printing the segment on stdout and
 * stopping cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/skybridge.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('skybridge CLI', () => {
  it('validate prints every problem with its key path and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, [
      'receivers:',
      '  otlp:',
      '    grpc: { endpiont: "0.0.0.0:4317" }',
      '  zipkn: {}',
      'exporters:',
      '  skywalking:',
      '    endpoint: oap',
      '    assembly: { quiet_period: 200 }',
      'pipelines:',
      '  traces: { receivers: [otlp], exporters: [skywalking, logging] }',
      '',
    ].join('\n'));
    const r = spawnSync(process.execPath, [BIN, 'validate', '--config', file], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    const out = r.stderr;
    assert.match(out, /broken\.yaml:3:\d+ receivers\.otlp\.grpc\.endpiont: unknown key/);
    assert.match(out, /receivers\.zipkn: unknown receiver type "zipkn" \(did you mean "zipkin"\?\)/);
    assert.match(out, /exporters\.skywalking\.endpoint: expected "host:port"/);
    assert.match(out, /exporters\.skywalking\.assembly\.quiet_period: expected a duration/);
    assert.match(out, /pipelines\.traces\.exporters\[1\]: "logging" is not defined under exporters/);
    assert.match(out, /5 problems in .*broken\.yaml; nothing was started\./);
  });

  it('--version prints the version and exits 0', () => {
    const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(r.stdout, `skybridge ${version}\n`);
  });

  it('validate accepts the repository default pipelines.yaml', () => {
    const r = spawnSync(process.execPath, [BIN, 'validate', '--config', join(ROOT, 'pipelines.yaml')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /is valid/);
  });

  it('runs a pipeline, prints segments as JSON lines on stdout, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-'));
    const [httpPort, telemetryPort] = [await freePort(), await freePort()];
    const file = join(dir, 'run.yaml');
    writeFileSync(file, `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${httpPort}" } }
exporters:
  debug: { output: stdout, verbosity: detailed, assembly: { quiet_period: 100ms } }
pipelines:
  traces: { receivers: [otlp], exporters: [debug] }
telemetry: { endpoint: "127.0.0.1:${telemetryPort}", log_level: warn }
`);
    const child = spawn(process.execPath, [BIN, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      // Wait until the telemetry page says ready.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${telemetryPort}/readyz`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`not ready: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const body = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] }, scopeSpans: [{ spans: [{
        traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'GET /cart', kind: 2,
        startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000120000000',
        attributes: [{ key: 'http.request.method', value: { stringValue: 'GET' } }, { key: 'http.route', value: { stringValue: '/cart' } }, { key: 'http.response.status_code', value: { intValue: 200 } }],
      }] }] }] };
      const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200);
      while (!stdout.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const segment = JSON.parse(stdout.split('\n')[0]!);
      assert.equal(segment.traceId, '5b8efff798038103d269b633813fc60c');
      assert.equal(segment.service, 'checkout');
      assert.equal(segment.spans[0].operationName, 'GET:/cart');
      assert.equal(segment.spans[0].spanType, 'Entry');
      assert.equal(segment.spans[0].spanLayer, 'Http');
      const metrics = await (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`)).text();
      assert.match(metrics, /skybridge_receiver_accepted_spans_total\{component="otlp",transport="http"\} 1/);
      // The start summary names every receiver and exporter.
      assert.match(stderr, new RegExp(`otlp: OTLP/HTTP on 127\\.0\\.0\\.1:${httpPort} \\(POST /v1/traces`));
      assert.match(stderr, /debug: segments as JSON lines to stdout/);
    } finally {
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, stderr);
    }
  });

  it('exits after SIGTERM within its shutdown timeout even when nobody reads its stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-'));
    const [httpPort, telemetryPort] = [await freePort(), await freePort()];
    const file = join(dir, 'stalled.yaml');
    writeFileSync(file, `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${httpPort}" } }
exporters:
  debug: { output: stdout, verbosity: detailed, assembly: { quiet_period: 50ms } }
pipelines:
  traces: { receivers: [otlp], exporters: [debug] }
telemetry: { endpoint: "127.0.0.1:${telemetryPort}", log_level: warn }
`);
    // stdout is a pipe this test never reads: once the kernel's buffer (64 KiB) is full, writes stall.
    const child = spawn(process.execPath, [BIN, '--config', file, '--shutdown-timeout', '2s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!(await fetch(`http://127.0.0.1:${telemetryPort}/readyz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`not ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const spans = Array.from({ length: 200 }, (_, i) => ({
      traceId: (i + 1).toString(16).padStart(32, 'a'), spanId: (i + 1).toString(16).padStart(16, 'b'), name: `GET /item/${'x'.repeat(500)}`, kind: 2,
      startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000120000000',
      attributes: [{ key: 'note', value: { stringValue: 'y'.repeat(2_000) } }],
    }));
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: `s${i}` } }] }, scopeSpans: [{ spans }] }] }) });
      assert.equal(res.status, 200);
    }
    await new Promise((r) => setTimeout(r, 500)); // the segments are built and written: stdout is now full
    const stopAt = Date.now();
    child.kill('SIGTERM');
    const [code] = await Promise.race([
      once(child, 'exit'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running 10 s after SIGTERM: ${stderr}`)), 10_000)),
    ]);
    child.kill('SIGKILL');
    assert.ok(Date.now() - stopAt < 8_000, `exited ${Date.now() - stopAt} ms after SIGTERM`);
    assert.equal(code, 0, stderr);
  });
});
