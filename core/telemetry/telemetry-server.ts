/**
 * The collector's own page: Prometheus text on /metrics, liveness on /healthz, readiness on
 * /readyz (200 only while the pipelines run, so a load balancer stops sending during shutdown).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '../config/units.ts';
import { reloadOnChange, tlsServerOptions, type TlsServerConfig } from '../tls/server-tls.ts';
import type { Logger } from './logger.ts';

/** Where /metrics comes from: one registry, or with `workers: N` every thread's summed. */
export interface MetricsPage {
  text(): Promise<string>;
  readonly contentType: string;
}

export class TelemetryServer {
  readonly #server: http.Server;
  readonly #endpoint: string;
  readonly #tls: { config: TlsServerConfig; logger: Logger } | undefined;
  #stopReloading: (() => void) | undefined;

  constructor(endpoint: string, metrics: MetricsPage, isReady: () => boolean, tls?: { config: TlsServerConfig; logger: Logger }) {
    this.#endpoint = endpoint;
    this.#tls = tls;
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
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
    };
    this.#server = tls ? https.createServer(tlsServerOptions(tls.config), onRequest) : http.createServer(onRequest);
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
        if (this.#tls) this.#stopReloading = reloadOnChange(this.#tls.config, this.#server as https.Server, this.#tls.logger);
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    this.#stopReloading?.();
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
