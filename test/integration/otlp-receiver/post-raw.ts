/** A bare `http.request` POST that reports exactly what came back, for sending malformed requests. */
import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** True when the request went over a kept-alive socket used before. */
  reusedSocket: boolean;
}

export interface RawPost {
  headers?: http.OutgoingHttpHeaders;
  method?: string;
  agent?: http.Agent;
  /** Write the body in pieces without Content-Length (chunked), as the OTel JS exporter does. */
  chunked?: boolean;
  /** Keep the request open after writing the body (the server must answer before it ends). */
  leaveOpen?: boolean;
}

/**
 * Sends `body` and resolves with the response. Errors after the response arrived (the server closed
 * the connection while the body was still being written) are ignored: the answer is what counts.
 */
export function postRaw(url: string, body: Buffer | string, opts: RawPost = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...opts.headers };
    if (!opts.chunked) headers['Content-Length'] = Buffer.byteLength(body);
    const req = http.request(url, { method: opts.method ?? 'POST', headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket });
        if (opts.leaveOpen) req.destroy();
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => reject(err));
    if (opts.chunked) {
      const b = Buffer.from(body);
      const step = 16 * 1024;
      for (let i = 0; i < b.length; i += step) req.write(b.subarray(i, i + step));
    } else req.write(body);
    if (!opts.leaveOpen) req.end();
  });
}
