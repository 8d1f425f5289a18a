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

/**
 * A page mounted beside /metrics (the status page, the trace view). It answers GET and HEAD for its
 * path and everything under it; `url` is the parsed request URL.
 */
export type TelemetryRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

export interface TelemetryServerOptions {
  tls?: { config: TlsServerConfig; logger: Logger };
  /** Extra pages by path prefix ('/status' serves /status and /status/...). */
  routes?: Record<string, TelemetryRoute>;
  /** Where `/` redirects (a key of `routes`); without it `/` is a 404 listing the pages. */
  home?: string;
}

export class TelemetryServer {
  readonly #server: http.Server;
  readonly #endpoint: string;
  readonly #tls: { config: TlsServerConfig; logger: Logger } | undefined;
  #stopReloading: (() => void) | undefined;

  constructor(endpoint: string, metrics: MetricsPage, isReady: () => boolean, options: TelemetryServerOptions = {}) {
    this.#endpoint = endpoint;
    const { tls, routes = {}, home } = options;
    this.#tls = tls;
    const prefixes = Object.keys(routes).sort((a, b) => b.length - a.length);
    const routeFor = (path: string): TelemetryRoute | undefined => {
      const prefix = prefixes.find((p) => path === p || path.startsWith(`${p}/`));
      return prefix === undefined ? undefined : routes[prefix];
    };
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const url = new URL(req.url ?? '/', 'http://telemetry.invalid');
      const path = url.pathname;
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
      } else if (path === '/' && home !== undefined) {
        res.writeHead(302, { Location: home }).end();
      } else {
        const route = routeFor(path);
        if (route) {
          route(req, res, url);
          return;
        }
        const pages = ['/metrics', '/healthz', '/readyz', ...prefixes].join(', ');
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`Try ${pages}.\n`);
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
