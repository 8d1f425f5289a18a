/**
 * The status page on the telemetry port: /status is the page, /status/status.css and
 * /status/status.js its assets (plain files, no build step, nothing from the internet), and
 * /status/snapshot.json what the page polls. The metrics are read only when the snapshot is asked
 * for, and at most once per MIN_SAMPLE_MS however many pages are open, so an unwatched status page
 * costs nothing.
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { TelemetryRoute } from '../telemetry-server.ts';
import { parsePrometheusText } from './prometheus-text.ts';
import { RateHistory } from './rate-history.ts';
import { buildSnapshot, type StatusSnapshot } from './status-snapshot.ts';
import type { Topology } from './topology.ts';

/** Where the telemetry server mounts the page (its assets are addressed relative to it). */
export const STATUS_PATH = '/status';

/** Two polls a second at most reach the metrics; more share the last reading. */
const MIN_SAMPLE_MS = 500;
const RATE_WINDOW_MS = 5_000;
const HISTORY_KEEP_MS = 30_000;

const ASSETS: Record<string, { file: string; type: string }> = {
  '': { file: 'status.html', type: 'text/html; charset=utf-8' },
  '/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
  '/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
};

export interface StatusRouteOptions {
  topology: Topology;
  /** Prometheus text of every thread's metrics (what /metrics serves). */
  metricsText: () => Promise<string>;
  workers: number;
  /** The clock, for tests. */
  now?: () => number;
}

export function statusRoute(options: StatusRouteOptions): TelemetryRoute {
  const now = options.now ?? Date.now;
  const history = new RateHistory({ windowMs: RATE_WINDOW_MS, keepMs: HISTORY_KEEP_MS });
  const assets = new Map(Object.entries(ASSETS).map(([path, a]) => [path, { type: a.type, body: readFileSync(new URL(`./${a.file}`, import.meta.url)) }]));
  let last: { at: number; snapshot: Promise<StatusSnapshot> } | undefined;

  const snapshot = (): Promise<StatusSnapshot> => {
    const at = now();
    if (last && at - last.at < MIN_SAMPLE_MS) return last.snapshot;
    const taken = options.metricsText().then((text) =>
      buildSnapshot({ at, samples: parsePrometheusText(text), topology: options.topology, workers: options.workers, history }));
    last = { at, snapshot: taken };
    // A failed reading is not cached: the next poll tries again.
    taken.catch(() => { if (last?.snapshot === taken) last = undefined; });
    return taken;
  };

  return (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const rest = url.pathname.slice(STATUS_PATH.length);
    if (rest === '/snapshot.json') {
      snapshot().then(
        (s) => res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(s)),
        (error: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${error.message}\n`),
      );
      return;
    }
    // /status/ would resolve the page's relative asset paths one level too deep.
    if (rest === '/') {
      res.writeHead(301, { Location: STATUS_PATH }).end();
      return;
    }
    const asset = assets.get(rest);
    if (asset === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found.\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' }).end(req.method === 'HEAD' ? undefined : asset.body);
  };
}
