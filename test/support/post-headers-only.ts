/**
 * A POST that sends its headers, announcing `length` body bytes, and never the body: it gets an
 * answer only from a server that answers without reading the body (an admission refusal, a 413 on
 * Content-Length). Resolves with that answer and closes the connection.
 */
import http from 'node:http';

export interface HeadersOnlyAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export function postHeadersOnly(url: string, length: number, headers: http.OutgoingHttpHeaders = {}): Promise<HeadersOnlyAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'Content-Length': length }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}
