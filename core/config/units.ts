/**
 * Value types shared by every component schema. Units always travel with the value ("200ms",
 * "4MiB"); a bare number for a duration or size is rejected because its unit would be a guess.
 */
import { z } from 'zod';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
}

export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*$/i.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

/** A duration such as "200ms", "10s", "5m"; parses to milliseconds. */
export function duration(bounds: { min?: string; max?: string } = {}) {
  const min = bounds.min === undefined ? undefined : parseDuration(bounds.min);
  const max = bounds.max === undefined ? undefined : parseDuration(bounds.max);
  return z.union([z.string(), z.number()]).transform((input, ctx) => {
    const text = String(input);
    const ms = typeof input === 'number' ? undefined : parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as "200ms", "10s" or "5m", got ${JSON.stringify(input)}. Fix: write the number with its unit (ms, s, m, h).` });
      return z.NEVER;
    }
    if (min !== undefined && ms < min) ctx.addIssue({ code: 'custom', message: `${text} is below the minimum ${bounds.min}. Fix: use at least ${bounds.min}.` });
    if (max !== undefined && ms > max) ctx.addIssue({ code: 'custom', message: `${text} is above the maximum ${bounds.max}. Fix: use at most ${bounds.max}.` });
    return ms;
  });
}

/** A size such as "512KiB", "4MiB", "1GB"; parses to bytes. */
export function size(bounds: { min?: string; max?: string } = {}) {
  const min = bounds.min === undefined ? undefined : parseSize(bounds.min);
  const max = bounds.max === undefined ? undefined : parseSize(bounds.max);
  return z.union([z.string(), z.number()]).transform((input, ctx) => {
    const text = String(input);
    const bytes = typeof input === 'number' ? undefined : parseSize(text);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size such as "512KiB", "4MiB" or "1GiB", got ${JSON.stringify(input)}. Fix: write the number with its unit (B, KiB, MiB, GiB, KB, MB, GB).` });
      return z.NEVER;
    }
    if (min !== undefined && bytes < min) ctx.addIssue({ code: 'custom', message: `${text} is below the minimum ${bounds.min}. Fix: use at least ${bounds.min}.` });
    if (max !== undefined && bytes > max) ctx.addIssue({ code: 'custom', message: `${text} is above the maximum ${bounds.max}. Fix: use at most ${bounds.max}.` });
    return bytes;
  });
}

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string): HostPort | undefined {
  // [v6]:port, host:port
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

/** "host:port" to listen on or connect to. Port 0 asks the OS for a free port (tests). */
export function endpoint(what: string) {
  return z.string().refine((v) => parseHostPort(v) !== undefined, {
    message: `expected "host:port" for ${what}. Fix: write it like "0.0.0.0:4317" or "127.0.0.1:11800" (IPv6 as "[::]:4317").`,
  });
}

export const tlsClientSchema = z
  .strictObject({
    insecure: z.boolean().default(true).describe('Plaintext when true (the OAP default); TLS when false.'),
    ca_file: z.string().optional().describe('PEM file of the CA that signed the server certificate; system roots when absent.'),
    cert_file: z.string().optional().describe('Client certificate (PEM) for mutual TLS.'),
    key_file: z.string().optional().describe('Client private key (PEM) for mutual TLS.'),
    server_name_override: z.string().optional().describe('Expected server name in the certificate, when it differs from the endpoint host.'),
  })
  .describe('TLS to the destination.');
export type TlsClientConfig = z.output<typeof tlsClientSchema>;

// Note for schema authors: give defaults of unit-typed fields with `.prefault("1s")` (the input
// form, parsed like user input) rather than `.default()`, which takes the parsed output (ms/bytes).
// Object blocks take `.prefault({})` so their inner defaults apply when the block is absent.
