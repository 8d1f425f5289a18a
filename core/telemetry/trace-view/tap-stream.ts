/**
 * GET /traces/tap: every segment (or, with `spans=1`, every source span) built from now on, one
 * JSON object a line (application/x-ndjson), for `skybridge tap`. `service=NAME` keeps those of one
 * service.
 *
 * A reader slower than the traffic does not make skybridge buffer without bound: past
 * MAX_BUFFERED_BYTES lines are dropped, and one line `{"tap":"dropped","lines":N}` says so once
 * the reader caught up.
 */
import type http from 'node:http';
import type { TraceViewBackend } from './backend.ts';
import type { TapOptions } from './tap-lines.ts';

const MAX_BUFFERED_BYTES = 1 << 20;
/** An empty line now and then, so a reader behind a proxy sees the connection alive. */
const HEARTBEAT_MS = 15_000;

export function streamTap(req: http.IncomingMessage, res: http.ServerResponse, backend: TraceViewBackend, options: TapOptions): void {
  let dropped = 0;
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.flushHeaders();
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stop = backend.tap(options, (lines) => {
    for (const line of lines) {
      if (res.writableLength > MAX_BUFFERED_BYTES) dropped++;
      else res.write(`${line}\n`);
    }
  });
  res.on('drain', () => {
    if (dropped === 0) return;
    res.write(`${JSON.stringify({ tap: 'dropped', lines: dropped })}\n`);
    dropped = 0;
  });
  const heartbeat = setInterval(() => res.write('\n'), HEARTBEAT_MS);
  heartbeat.unref();
  res.on('close', () => {
    stop();
    clearInterval(heartbeat);
  });
}
