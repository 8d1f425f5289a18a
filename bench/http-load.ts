/**
 * The HTTP load: pre-encoded bodies POSTed over keep-alive connections, one request in flight per
 * connection and `concurrency` connections, as Zipkin reporters, jaeger-client's HTTPSender or an
 * agent-tier collector post them. `202`/`200` is an ack. Backpressure (`429`, `503`) and a dropped
 * connection are resent (load.ts) after the server's `Retry-After`, or an exponential backoff with
 * jitter when it gave none; any other status fails the request.
 */
import http from 'node:http';
import { CALL_TIMEOUT_MS, runLoad, type Attempt, type LoadOptions, type LoadResult } from './load.ts';

export interface HttpLoadOptions extends LoadOptions {
  /** e.g. `http://127.0.0.1:9411/api/v2/spans`. */
  url: string;
  contentType: string;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

export async function runHttpLoad(options: HttpLoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  try {
    return await runLoad(options, (bytes) => postOnce(agent, url, options.contentType, bytes));
  } finally {
    agent.destroy();
  }
}

function postOnce(agent: http.Agent, url: URL, contentType: string, body: Buffer): Promise<Attempt> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'Content-Type': contentType, 'Content-Length': body.length },
        timeout: CALL_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 202 || status === 200) return resolve({ ok: true });
          const retryAfter = Number(res.headers['retry-after']);
          resolve({
            ok: false,
            status: String(status),
            details: Buffer.concat(chunks).toString('utf8').trim().slice(0, 200),
            retryable: RETRYABLE_STATUS.has(status),
            ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
          });
        });
        res.on('error', (err: NodeJS.ErrnoException) => resolve(socketFailure(err)));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(socketFailure(err)));
    req.end(body);
  });
}

/** A reset or refused connection or a timeout: the server may be busy or restarting, so resend. */
function socketFailure(err: NodeJS.ErrnoException): Attempt {
  return { ok: false, status: err.code ?? 'socket error', details: err.message, retryable: true };
}
