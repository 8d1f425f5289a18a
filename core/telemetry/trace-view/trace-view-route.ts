/**
 * The trace view on the telemetry port, mounted at /traces:
 *
 *   /traces                     the page (index.html, trace-view.js, trace-view.css beside this file)
 *   /traces/api/traces?...      kept traces, newest first: traceId, service, endpoint, error=1, limit
 *   /traces/api/trace/<id>      one trace: its segments and source spans (every assembler's)
 *   /traces/tap?spans=1&service what is built from now on, as JSON lines (tap-stream.ts)
 *
 * With `workers: N` every worker keeps its own traces and the answers are merged (backend.ts).
 * With the view off the API answers with a notice saying so, and the page shows it.
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { TelemetryRoute } from '../telemetry-server.ts';
import { localBackend, workersBackend, type TraceViewBackend, type TraceViewWorkers } from './backend.ts';
import type { TraceViewConfig } from './config.ts';
import { streamTap } from './tap-stream.ts';
import { toJson, VOCABULARY } from './trace-json.ts';
import { TraceRecorder } from './trace-recorder.ts';
import type { TraceQuery } from './trace-summary.ts';

export interface TraceViewSource {
  /** This thread's recorder (workers: 1), for the pipelines' components. */
  recorder?: TraceRecorder;
  /** Where the page's answers come from; absent when the view is off. */
  backend?: TraceViewBackend;
  /** Why there is no view, shown on the page and by `skybridge tap`. */
  notice?: string;
}

/**
 * The trace view of a collector: with one thread a recorder here; with `workers` above 1 each
 * worker keeps its own (worker-thread.ts) and `pool` asks them all.
 */
export function traceViewSource(telemetry: { endpoint: string | null; trace_view: TraceViewConfig }, pool?: TraceViewWorkers): TraceViewSource {
  // Nobody could look (no telemetry port): keep nothing.
  if (telemetry.endpoint === null) return {};
  if (!telemetry.trace_view.enabled) return { notice: 'The trace view is off (telemetry.trace_view.enabled: false).' };
  if (pool) return { backend: workersBackend(pool) };
  const recorder = new TraceRecorder(telemetry.trace_view);
  return { recorder, backend: localBackend(recorder) };
}

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '': { file: './index.html', type: 'text/html; charset=utf-8' },
  '/trace-view.js': { file: './trace-view.js', type: 'text/javascript; charset=utf-8' },
  '/trace-view.css': { file: './trace-view.css', type: 'text/css; charset=utf-8' },
};

const staticCache = new Map<string, Buffer>();

function staticFile(name: string): Buffer {
  let body = staticCache.get(name);
  if (body === undefined) {
    body = readFileSync(new URL(name, import.meta.url));
    staticCache.set(name, body);
  }
  return body;
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(toJson(value));
}

function queryOf(params: URLSearchParams): TraceQuery {
  const limit = Number(params.get('limit') ?? '');
  return {
    traceId: params.get('traceId')?.trim() || undefined,
    service: params.get('service')?.trim() || undefined,
    endpoint: params.get('endpoint')?.trim() || undefined,
    error: params.get('error') === '1' || params.get('error') === 'true',
    limit: Number.isInteger(limit) && limit > 0 ? limit : undefined,
  };
}

export function traceViewRoute(source: TraceViewSource, prefix = '/traces'): TelemetryRoute {
  const { backend, notice } = source;
  const answer = async (res: http.ServerResponse, path: string, url: URL): Promise<void> => {
    if (path === '/api/traces') {
      if (!backend) return sendJson(res, 200, { notice, traces: [] });
      return sendJson(res, 200, await backend.search(queryOf(url.searchParams)));
    }
    const id = decodeURIComponent(path.slice('/api/trace/'.length));
    const found = backend ? await backend.find(id) : [];
    if (found.length === 0) return sendJson(res, 404, { notice: notice ?? `No kept trace has the id ${id}; it may have been forgotten (telemetry.trace_view.max_traces).` });
    return sendJson(res, 200, { vocabulary: VOCABULARY, traces: found });
  };
  return (req, res, url) => {
    const path = url.pathname.slice(prefix.length).replace(/\/$/, '');
    const asset = STATIC_FILES[path];
    if (asset) {
      res.writeHead(200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' }).end(staticFile(asset.file));
      return;
    }
    if (path === '/api/traces' || path.startsWith('/api/trace/')) {
      answer(res, path, url).catch((error: Error) => sendJson(res, 500, { notice: `The trace view failed: ${error.message}` }));
      return;
    }
    if (path === '/tap') {
      if (!backend) {
        res.writeHead(409, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${notice ?? 'The trace view is off.'}\n`);
        return;
      }
      const service = url.searchParams.get('service')?.trim() || undefined;
      streamTap(req, res, backend, { spans: url.searchParams.get('spans') === '1', ...(service ? { service } : {}) });
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`Try ${prefix}, ${prefix}/api/traces, ${prefix}/api/trace/<id> or ${prefix}/tap.\n`);
  };
}
