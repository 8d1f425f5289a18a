/**
 * The shipped build on its own: dist/ (scripts/build.mjs) beside package.json and only the
 * production dependencies, the way the container image and an npm install lay it out. tsx and the
 * other dev dependencies are absent, so this fails if the built code still needs them — including in
 * worker threads, which start on compiled modules.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startSkybridge } from '../support/skybridge-cli.ts';
import { freePort } from '../support/skybridge-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A directory holding dist/, package.json and symlinks to the production dependencies only. */
function productionLayout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skb-built-'));
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' });
  const modules = join(ROOT, 'node_modules');
  for (const path of listed.split('\n')) {
    const rel = relative(modules, path);
    // Hoisted packages only (node_modules/x or node_modules/@scope/x); nested ones come with them.
    if (!rel || rel.startsWith('..') || rel.includes('node_modules')) continue;
    const link = join(dir, 'node_modules', rel);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(path, link);
  }
  return dir;
}

describe('the built package, with production dependencies only', () => {
  let dir: string;
  before(() => {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: ['ignore', 'inherit', 'inherit'] });
    dir = productionLayout();
  });

  it('has no dev dependency to lean on', () => {
    const probe = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('tsx/esm/api')"], { cwd: dir, encoding: 'utf8' });
    assert.notEqual(probe.status, 0, 'tsx must not be resolvable from the production layout');
    assert.match(probe.stderr, /Cannot find package 'tsx'/);
  });

  it('answers --version from the built CLI', () => {
    const r = spawnSync(process.execPath, [join(dir, 'dist/bin/skybridge.js'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(r.stdout, `skybridge ${version}\n`);
  });

  it('runs a pipeline on two worker threads and prints the segments on stdout', async () => {
    const [httpPort, telemetryPort] = [await freePort(), await freePort()];
    const file = join(dir, 'run.yaml');
    writeFileSync(file, `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${httpPort}" } }
exporters:
  debug: { output: stdout, verbosity: detailed, assembly: { quiet_period: 100ms } }
pipelines:
  traces: { receivers: [otlp], exporters: [debug] }
workers: 2
telemetry: { endpoint: "127.0.0.1:${telemetryPort}", log_level: info }
`);
    const skybridge = await startSkybridge(file, { entry: join(dir, 'dist/bin/skybridge.js'), cwd: dir, keepStdout: true, timeoutMs: 30_000 });
    const deadline = Date.now() + 30_000;
    try {
      // Two traces whose ids land on different workers (the owner is the id's last 4 bytes mod 2).
      const traceIds = ['5b8efff798038103d269b633813fc600', '5b8efff798038103d269b633813fc601'];
      const body = {
        resourceSpans: [{
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
          scopeSpans: [{
            spans: traceIds.map((traceId, i) => ({
              traceId, spanId: `eee19b7ec3c1b17${i}`, name: 'GET /cart', kind: 2,
              startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000120000000',
              attributes: [{ key: 'http.request.method', value: { stringValue: 'GET' } }, { key: 'http.route', value: { stringValue: '/cart' } }],
            })),
          }],
        }],
      };
      const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200);
      while (skybridge.stdoutText().split('\n').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const segments = skybridge.stdoutText().trim().split('\n').map((line) => JSON.parse(line) as { traceId: string; service: string; spans: { operationName: string }[] });
      assert.deepEqual(segments.map((s) => s.traceId).sort(), traceIds);
      for (const segment of segments) {
        assert.equal(segment.service, 'checkout');
        assert.equal(segment.spans[0]!.operationName, 'GET:/cart');
      }
      assert.match(skybridge.stderrText(), /workers: 2 threads run the pipelines/);
      // The telemetry pages' files were copied beside the compiled code.
      for (const [path, type] of [['/status', 'text/html'], ['/status/status.js', 'text/javascript'], ['/assets/dom.js', 'text/javascript'], ['/traces', 'text/html'], ['/traces/trace-view.css', 'text/css']]) {
        const page = await fetch(`http://127.0.0.1:${telemetryPort}${path}`);
        assert.equal(page.status, 200, path);
        assert.match(page.headers.get('content-type') ?? '', new RegExp(`^${type}`), path);
        assert.ok((await page.text()).length > 100, path);
      }
    } finally {
      assert.equal(await skybridge.stop('SIGTERM'), 0, skybridge.stderrText());
    }
  });

  it('packs the build, not the sources or the tests', () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' })) as [{ files: { path: string }[] }];
    const paths = packed.files.map((f) => f.path);
    assert.ok(paths.includes('dist/bin/skybridge.js'));
    assert.ok(paths.includes('dist/exporters/skywalking/proto/language-agent/Tracing.proto'));
    assert.deepEqual(paths.filter((p) => /\.test\.|(^|\/)test\/|\.ts$|\.tsbuildinfo$|\.map$/.test(p) && !p.endsWith('.d.ts')), []);
  });
});
