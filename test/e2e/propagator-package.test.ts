/**
 * The propagator as an application developer gets it: `npm pack` in propagator/ (which builds it
 * through `prepack`), the tarball installed with `npm install` into a fresh project outside the
 * repository next to the OpenTelemetry packages the README's install line names (peers resolved by
 * npm as for any user), and then:
 * - the README's example, taken from README.md as it stands, run as plain JavaScript: its client
 *   span goes out as `traceparent` and `sw8`, and extracting those headers gives back that span;
 * - the `sw8` it wrote, read by the SkyWalking Node agent's own ContextCarrier and by skybridge's
 *   codec, naming the segment and span skybridge will emit;
 * - an `sw8` the SkyWalking Node agent writes, extracted by the installed package in a child
 *   process as the called OTel service would;
 * - a TypeScript consumer compiled against the installed declarations without skipLibCheck.
 * The tarball must hold built JavaScript and declarations only, and the built code may import
 * nothing but its peer dependencies and Node built-ins.
 *
 * The registry must be reachable, unless npm's cache already holds the OpenTelemetry packages
 * (`--prefer-offline`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { otelSpanIdFromSkyWalking, otelTraceIdFromSkyWalking, skyWalkingParentFromTracestate } from '../../core/propagation/skywalking-continuation.ts';
import { decodeSw8 } from '../../core/propagation/sw8.ts';
import { segmentIdFor } from '../../core/segments/segment-builder.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const { ContextCarrier } = require('skywalking-backend-js/lib/trace/context/ContextCarrier.js');
const { default: AgentId } = require('skywalking-backend-js/lib/trace/ID.js');

const repo = fileURLToPath(new URL('../../', import.meta.url));
const packageDir = path.join(repo, 'propagator');
const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const PACKAGE_NAME = '@skybridge/otel-propagator';

/**
 * npm run from `npm test` passes its npm_* settings down (its prefix among them); the child npm
 * must decide everything from its own working directory, outside the repository.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
}

async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: cleanEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 180_000 });
  return stdout;
}

async function nodeScript(cwd: string, file: string, args: string[] = []): Promise<string> {
  const { stdout } = await run(process.execPath, [file, ...args], { cwd, env: cleanEnv(), timeout: 30_000 });
  return stdout;
}

/** The body of the first fenced block of `lang` after `heading` (or anywhere when none given). */
function fencedBlock(markdown: string, lang: string, heading?: string): string {
  const from = heading ? markdown.indexOf(heading) : 0;
  assert.ok(from >= 0, `README has a "${heading}" section`);
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(markdown.slice(from));
  assert.ok(match?.[1], `README has a ${lang} block${heading ? ` under "${heading}"` : ''}`);
  return match[1];
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Reports what the example computed; appended to the README's code, which keeps its own output. */
const EXAMPLE_REPORT = `
console.log('REPORT ' + JSON.stringify({ headers, sent: span.spanContext(), received: { ...parent, traceState: parent.traceState?.serialize() } }));
`;

/** The called OTel service: the README's wiring, then the parent it extracts from argv's headers. */
const RECEIVER = `
import { context, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SkyWalkingPropagator, SkyWalkingSpanProcessor } from '${PACKAGE_NAME}';

new NodeTracerProvider({ spanProcessors: [new SkyWalkingSpanProcessor()] }).register({
  propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new SkyWalkingPropagator()] }),
});
const parent = trace.getSpanContext(propagation.extract(context.active(), JSON.parse(process.argv[2])));
console.log(JSON.stringify({ ...parent, traceState: parent?.traceState?.serialize() }));
`;

const CONSUMER_TS = `
import type { TextMapPropagator } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SkyWalkingPropagator, SkyWalkingSpanProcessor, SW_TRACESTATE_KEY, type SkyWalkingPropagatorOptions } from '${PACKAGE_NAME}';

const options: SkyWalkingPropagatorOptions = { strict: true, correlationKeys: ['tenant'] };
export const propagator: TextMapPropagator = new SkyWalkingPropagator(options);
export const processor: SpanProcessor = new SkyWalkingSpanProcessor();
export const key: string = SW_TRACESTATE_KEY;
`;

interface SpanContextJson {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: string;
}

describe('the propagator package, packed and installed', { timeout: 300_000 }, () => {
  let work: string;
  let app: string;
  let packed: { filename: string; files: { path: string }[] };
  let example: { stdout: string; report: { headers: Record<string, string>; sent: SpanContextJson; received: SpanContextJson } };

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'skybridge-propagator-package-'));
    [packed] = JSON.parse(await npm(packageDir, ['pack', '--json', '--pack-destination', work])) as [typeof packed];

    const readme = await readFile(path.join(packageDir, 'README.md'), 'utf8');
    const install = /^npm install (.+)$/m.exec(fencedBlock(readme, 'sh'))?.[1]?.split(/\s+/);
    assert.ok(install && install.includes(PACKAGE_NAME), 'the README install line names the package');
    const tarball = path.join(work, packed.filename);
    const specs = install.map((name) => (name === PACKAGE_NAME ? tarball : name));

    app = path.join(work, 'app');
    await mkdir(app);
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'propagator-user', private: true, type: 'module' }));
    await npm(app, ['install', '--no-audit', '--no-fund', '--prefer-offline', ...specs]);

    await writeFile(path.join(app, 'example.mjs'), fencedBlock(readme, 'js', '## Example') + EXAMPLE_REPORT);
    const stdout = await nodeScript(app, 'example.mjs');
    const reportLine = stdout.split('\n').find((l) => l.startsWith('REPORT '));
    assert.ok(reportLine, stdout);
    example = { stdout, report: JSON.parse(reportLine.slice('REPORT '.length)) };
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('packs built JavaScript and declarations only: no TypeScript sources, no tests', () => {
    const files = packed.files.map((f) => f.path);
    assert.ok(files.includes('dist/propagator/index.js') && files.includes('dist/propagator/index.d.ts'), files.join('\n'));
    assert.ok(files.includes('README.md') && files.includes('package.json'));
    const sources = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(sources, [], 'no .ts sources');
    const tests = files.filter((f) => /(^|\/)(test|tests|__tests__)\/|\.test\.|\.spec\./.test(f));
    assert.deepEqual(tests, [], 'no test files');
    const other = files.filter((f) => !['README.md', 'package.json'].includes(f) && !/^dist\/.+\.(js|d\.ts)$/.test(f));
    assert.deepEqual(other, []);
  });

  it('imports nothing at run time but its peer dependencies and Node built-ins', async () => {
    const installed = path.join(app, 'node_modules', ...PACKAGE_NAME.split('/'));
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8'));
    assert.equal(manifest.dependencies, undefined, 'no runtime dependencies');
    const peers = Object.keys(manifest.peerDependencies);
    assert.ok(peers.includes('@opentelemetry/api') && peers.includes('@opentelemetry/sdk-trace-base'), peers.join());

    const bare = new Set<string>();
    for (const file of (await filesUnder(installed)).filter((f) => f.endsWith('.js'))) {
      const code = await readFile(file, 'utf8');
      for (const [, specifier] of code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g)) {
        if (specifier!.startsWith('.')) {
          const target = path.resolve(path.dirname(file), specifier!);
          assert.ok(target.startsWith(installed + path.sep), `${file} imports ${specifier} from outside the package`);
        } else {
          bare.add(specifier!);
        }
      }
    }
    const unexpected = [...bare].filter((s) => !s.startsWith('node:') && !peers.includes(s));
    assert.deepEqual(unexpected, [], `imports beyond the peers: ${[...bare].join(', ')}`);
  });

  it("runs the README's example: the client span goes out as traceparent and sw8 and comes back on extraction", () => {
    const { headers, sent, received } = example.report;
    assert.match(example.stdout, /^true true$/m, "the example's own check prints true true");
    assert.equal(headers.traceparent, `00-${sent.traceId}-${sent.spanId}-01`);
    assert.ok(headers.sw8, 'an sw8 header');
    assert.equal(received.traceId, sent.traceId);
    assert.equal(received.spanId, sent.spanId, 'the extracted parent is the client span');
    assert.equal(received.isRemote, true);
    const continued = skyWalkingParentFromTracestate(received.traceState ?? '');
    assert.equal(continued?.parentSegmentId, segmentIdFor(sent.traceId, sent.spanId), 'the received tracestate carries the sw8 context');
  });

  it('writes an sw8 that names what skybridge will emit and that the SkyWalking Node agent accepts', () => {
    const { headers, sent } = example.report;
    const sw = decodeSw8(headers.sw8, { strict: true });
    assert.ok(sw, `skybridge's strict (Java agent rules) codec reads ${headers.sw8}`);
    assert.equal(sw.sampled, true);
    assert.equal(sw.traceId, sent.traceId);
    assert.equal(sw.parentSegmentId, segmentIdFor(sent.traceId, sent.spanId), 'the client span is its own local root');
    assert.equal(sw.parentSpanId, 0);
    assert.equal(sw.parentService, 'checkout');
    assert.equal(sw.parentServiceInstance, 'checkout-1');
    assert.equal(sw.addressUsedAtClient, 'stock:8080');

    const agent = ContextCarrier.from({ sw8: headers.sw8 });
    assert.ok(agent.isValid(), 'the Node agent takes it as a valid context');
    assert.equal(agent.traceId.toString(), sent.traceId);
    assert.equal(agent.segmentId.toString(), sw.parentSegmentId);
    assert.equal(agent.spanId, 0);
    assert.equal(agent.service, 'checkout');
    assert.equal(agent.clientAddress, 'stock:8080');
  });

  it('continues a trace the SkyWalking Node agent started, in the installed package', async () => {
    await writeFile(path.join(app, 'receive.mjs'), RECEIVER);
    const traceId = '9f1c2b3a4d5e6f708192a3b4c5d6e7f8';
    const segmentId = '0123456789abcdef0123456789abcdef';
    const agent = new ContextCarrier(new AgentId(traceId), new AgentId(segmentId), 3, 'frontend', 'frontend-1', 'GET:/cart', 'checkout:3000');
    const parent = JSON.parse(await nodeScript(app, 'receive.mjs', [JSON.stringify({ sw8: agent.value })])) as SpanContextJson;
    assert.equal(parent.traceId, otelTraceIdFromSkyWalking(traceId));
    assert.equal(parent.spanId, otelSpanIdFromSkyWalking(segmentId, 3));
    assert.equal(parent.traceFlags, 1, 'sampled');
    const continued = skyWalkingParentFromTracestate(parent.traceState ?? '');
    assert.equal(continued?.traceId, traceId, "the agent's trace id travels in the tracestate");
    assert.equal(continued?.parentService, 'frontend');
    assert.equal(continued?.addressUsedAtClient, 'checkout:3000');
  });

  it('type-checks a TypeScript consumer against the installed declarations', async () => {
    // One compiler run for both: the consumer must pass, and a wrong option must fail, which shows
    // the declarations carry real types rather than `any`.
    await writeFile(path.join(app, 'consumer.ts'), CONSUMER_TS);
    await writeFile(path.join(app, 'wrong-option.ts'), CONSUMER_TS.replace('strict: true', "strict: 'yes'"));
    const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: [], skipLibCheck: false };
    await writeFile(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts', 'wrong-option.ts'] }));
    const output = await run(process.execPath, [tsc, '-p', app], { cwd: app, timeout: 120_000 }).then(
      () => '',
      (e: { stdout?: string }) => e.stdout ?? '',
    );
    const errors = output.split('\n').filter((l) => /error TS\d+/.test(l));
    assert.equal(errors.length, 1, output);
    assert.match(errors[0]!, /^wrong-option\.ts\(\d+,\d+\): error TS2322/);
  });
});
