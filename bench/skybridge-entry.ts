/**
 * What the benchmark runs as skybridge: the shipped build (dist/bin/skybridge.js), rebuilt first if
 * a source changed, so the figures are those of what users run (no tsx loader in memory) and of
 * the code in the checkout.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let built = false;

export function skybridgeEntry(): string {
  if (!built) {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: ['ignore', 'inherit', 'inherit'] });
    built = true;
  }
  return join(ROOT, 'dist/bin/skybridge.js');
}
