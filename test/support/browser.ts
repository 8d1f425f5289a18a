/**
 * A headless Chromium for the browser tests: Debian's /usr/bin/chromium (installed by
 * scripts/test-peers.sh) driven by playwright-core, which downloads nothing.
 *
 * Screenshots go to a temporary directory, or into docs/images/ when SKYBRIDGE_UPDATE_SCREENSHOTS=1,
 * so a test run never changes the checkout unless asked to.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.SKYBRIDGE_CHROMIUM ?? '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

const DOCS_IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url));

/** Where a screenshot named `name` (e.g. 'status-page.png') is written. */
export function screenshotPath(name: string): string {
  if (process.env.SKYBRIDGE_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_IMAGES, { recursive: true });
    return join(DOCS_IMAGES, name);
  }
  return join(mkdtempSync(join(tmpdir(), 'skybridge-shot-')), name);
}
