/**
 * The collector's own page: Prometheus text on /metrics, liveness on /healthz, readiness on
 * /readyz (200 only while the pipelines run, so a load balancer stops sending during shutdown).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '../config/units.ts';

/** Where /metrics comes from: one registry, or with `workers: N` every thread's summed. */
export interface MetricsPage {
  text(): Promise<string>;
  readonly contentType: string;
}

export class TelemetryServer {
  readonly #server: http.Server;
  readonly #endpoint: string;

  constructor(endpoint: string, metrics: MetricsPage, isReady: () => boolean) {
    this.#endpoint = endpoint;
    this.#server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET' }).end();
        return;
      }
      if (path === '/metrics') {
        metrics.text().then(
          (text) => res.writeHead(200, { 'Content-Type': metrics.contentType }).end(text),
          (error: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${error.message}\n`),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ready = isReady();
        res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Try /metrics, /healthz or /readyz.\n');
      }
    });
  }

  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? 0;
  }

  start(): Promise<void> {
    const { host, port } = parseHostPort(this.#endpoint)!;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
