/** Reading OTel attributes the way the translators need them: first present key, host:port forms. */
import type { Attributes } from '../../model/span-batch.ts';
import { attributeText } from '../service-identity.ts';

export function text(attrs: Attributes, key: string): string {
  const v = attrs[key];
  return v === undefined ? '' : attributeText(v);
}

/** The value of the first key present and non-empty. */
export function firstOf(attrs: Attributes, keys: readonly string[]): string {
  for (const k of keys) {
    const v = attrs[k];
    if (v !== undefined && v !== '') return attributeText(v);
  }
  return '';
}

/** `host:port` (IPv6 in brackets); `host` alone when the port is unknown. */
export function hostPort(host: string, port: string): string {
  if (!host) return '';
  if (/^[^:]+:\d+$/.test(host) || /^\[.*\]:\d+$/.test(host)) return host; // already host:port (http.host)
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return port ? `${h}:${port}` : h;
}

export function parseUrl(full: string): URL | undefined {
  if (!full) return undefined;
  try {
    return new URL(full);
  } catch {
    return undefined;
  }
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

/** `host:port` a client reached, default port filled in, the way the SkyWalking Node agent writes it. */
export function peerFromUrl(url: URL | undefined): string {
  if (!url) return '';
  return hostPort(url.hostname, url.port || DEFAULT_PORTS[url.protocol] || '');
}

/** Keys for the address a client called (current and pre-1.21 semantic conventions). */
export const SERVER_ADDRESS = ['server.address', 'net.peer.name', 'net.sock.peer.name', 'network.peer.address', 'net.peer.ip', 'net.sock.peer.addr'] as const;
export const SERVER_PORT = ['server.port', 'net.peer.port', 'network.peer.port', 'net.sock.peer.port'] as const;

/** The remote address of a client span: `server.address:server.port` and its older names. */
export function clientPeer(attrs: Attributes): string {
  return hostPort(firstOf(attrs, SERVER_ADDRESS), firstOf(attrs, SERVER_PORT));
}
