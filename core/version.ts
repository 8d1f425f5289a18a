/**
 * skybridge's version, read from package.json. The file sits one level up from the sources and
 * two from the build (dist/), so the nearest package.json named skybridge is the one.
 */
import { existsSync, readFileSync } from 'node:fs';

export function skybridgeVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    const url = new URL(relative, import.meta.url);
    if (!existsSync(url)) continue;
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'skybridge' && pkg.version) return pkg.version;
  }
  return 'unknown';
}
