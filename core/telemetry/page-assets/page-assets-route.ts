/**
 * /assets on the telemetry port: the browser code the pages share (dom.js), so the status page and
 * the trace view build their DOM the same way. Plain files read once, nothing from the internet.
 */
import { readFileSync } from 'node:fs';
import type { TelemetryRoute } from '../telemetry-server.ts';

export const PAGE_ASSETS_PATH = '/assets';

const FILES: Record<string, string> = { '/dom.js': 'text/javascript; charset=utf-8' };

export function pageAssetsRoute(): TelemetryRoute {
  const bodies = new Map(Object.keys(FILES).map((path) => [path, readFileSync(new URL(`.${path}`, import.meta.url))]));
  return (req, res, url) => {
    const path = url.pathname.slice(PAGE_ASSETS_PATH.length);
    const body = bodies.get(path);
    if (body === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found.\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': FILES[path]!, 'Cache-Control': 'no-cache' }).end(req.method === 'HEAD' ? undefined : body);
  };
}
