/**
 * Where the gateways are: a static list, or the A/AAAA records of one DNS name (a Kubernetes
 * headless Service) looked up again every `interval`. A resolver reports the endpoint list when it
 * changes; an empty answer or a failed lookup keeps the last good list (a DNS hiccup must not empty
 * the ring), and is logged.
 */
import { lookup, Resolver as DnsClient } from 'node:dns/promises';
import type { Logger } from '../telemetry/logger.ts';
import type { ResolverConfig } from './config.ts';

export interface Resolver {
  /** Resolves once a first list is known (or the first lookup failed); `onChange` gets every new list. */
  start(onChange: (endpoints: string[]) => void): Promise<void>;
  stop(): void;
  describe(): string;
}

/** How a DNS name becomes addresses; replaceable in tests. */
export type LookupAll = (hostname: string) => Promise<string[]>;

const systemLookup: LookupAll = async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** A and AAAA records from one DNS server; a family with no records is not an error. */
function nameserverLookup(nameserver: string): LookupAll {
  const client = new DnsClient({ tries: 2 });
  client.setServers([nameserver]);
  const records = (query: Promise<string[]>) =>
    query.catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENODATA' || error.code === 'ENOTFOUND') return [];
      throw error;
    });
  return async (hostname) => {
    const [v4, v6] = await Promise.all([records(client.resolve4(hostname)), records(client.resolve6(hostname))]);
    return [...v4, ...v6];
  };
}

export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function createResolver(config: ResolverConfig, logger: Logger, lookupAll?: LookupAll): Resolver {
  if (config.static) {
    const endpoints = config.static.hostnames;
    return {
      async start(onChange) {
        onChange([...endpoints]);
      },
      stop() {},
      describe: () => `static: ${endpoints.join(', ')}`,
    };
  }
  const dns = config.dns!;
  const lookupNow = lookupAll ?? (dns.nameserver ? nameserverLookup(dns.nameserver) : systemLookup);
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  const resolveOnce = async (onChange: (endpoints: string[]) => void) => {
    let addresses: string[];
    try {
      addresses = await withTimeout(lookupNow(dns.hostname), dns.timeout);
    } catch (error) {
      logger.warn({ error, hostname: dns.hostname }, 'Looking up the gateways failed; keeping the last list.');
      return;
    }
    if (addresses.length === 0) {
      logger.warn({ hostname: dns.hostname }, 'The gateways\' DNS name has no addresses; keeping the last list.');
      return;
    }
    const endpoints = [...new Set(addresses.map((a) => hostPort(a, dns.port)))].sort();
    const key = endpoints.join(',');
    if (key === last) return;
    last = key;
    onChange(endpoints);
  };
  return {
    async start(onChange) {
      await resolveOnce(onChange);
      timer = setInterval(() => void resolveOnce(onChange), dns.interval);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    describe: () => `dns: ${dns.hostname} port ${dns.port}, every ${dns.interval} ms${dns.nameserver ? ` from ${dns.nameserver}` : ''}`,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
