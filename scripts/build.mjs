#!/usr/bin/env node
// The shipped build: compiles the collector's TypeScript to JavaScript in dist/ (tsconfig.build.json)
// and copies beside it the files the code reads at run time (.proto, and the telemetry pages' .html,
// .css, .js, .json, .svg). `npm ci` runs it through `prepare`; `npm start` runs it with --if-stale,
// which builds only when a source is newer than the last build, so a pull never starts old code.
//
// Writes nothing to stdout: `npm start | jq` sees only what the collector prints.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const stamp = join(dist, '.tsbuildinfo');
const SOURCE_DIRS = ['bin', 'core', 'receivers', 'processors', 'exporters'];
const ASSET = /\.(proto|html|css|js|json|svg)$/;
// Tests, their data and the tsx launchers are for running from sources, not for the build.
const SKIP = /(^|\/)(testdata|node_modules)(\/|$)|\.test\.ts$|\.mjs$/;

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = relative(root, path);
    if (SKIP.test(rel)) continue;
    if (entry.isDirectory()) yield* sourceFiles(path);
    else yield path;
  }
}

function allSources() {
  return [join(root, 'components.ts'), join(root, 'tsconfig.build.json'), join(root, 'tsconfig.json'),
    ...SOURCE_DIRS.flatMap((d) => [...sourceFiles(join(root, d))])];
}

function isStale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return allSources().some((file) => statSync(file).mtimeMs > built);
}

if (process.argv.includes('--if-stale') && !isStale()) process.exit(0);

const started = Date.now();
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  // stdout → stderr: tsc reports type errors on stdout.
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: ['ignore', 2, 2] });
} catch {
  process.stderr.write('build: tsc failed (errors above); dist/ was not updated completely.\n');
  process.exit(1);
}
let assets = 0;
for (const file of allSources()) {
  if (!ASSET.test(file) || file.endsWith('tsconfig.json') || file.endsWith('tsconfig.build.json')) continue;
  const target = join(dist, relative(root, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  assets++;
}
// tsc -b style incremental builds leave the stamp untouched when nothing changed; touch it so
// --if-stale compares against this build.
execFileSync('touch', [stamp]);
process.stderr.write(`build: dist/ ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${assets} runtime files copied)\n`);
