/**
 * Bearer-token authentication on a listener: the `auth:` block of every TCP receiver. A request
 * must carry `Authorization: Bearer <token>` (gRPC: the `authorization` metadata) with one of the
 * configured tokens; anything else is answered 401 / UNAUTHENTICATED and nothing more, so a prober
 * learns nothing about the tokens or the pipeline. Tokens come from the config (use
 * `${ENV_VAR}`) or from a file of one token per line, read again when it changes (a rotated
 * Kubernetes Secret). Comparison is in constant time: every presented token is hashed, and its
 * digest is compared with every known digest without stopping at a match.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { duration } from '../config/units.ts';
import type { Logger } from '../telemetry/logger.ts';

export const bearerAuthSchema = z
  .strictObject({
    tokens: z.array(z.string().min(1)).default([]).describe('Accepted tokens; write them as ${ENV_VAR} references, not in the file.'),
    tokens_file: z.string().min(1).optional().describe('A file of accepted tokens, one per line (blank lines and lines starting with # are ignored).'),
    reload_interval: duration({ min: '1s', max: '24h' }).prefault('1m').describe('How often tokens_file is checked for changes.'),
  })
  .refine((a) => a.tokens.length > 0 || a.tokens_file !== undefined, {
    message: 'no token configured. Fix: list tokens (as ${ENV_VAR} references) or set tokens_file.',
  })
  .describe('Bearer-token authentication: requests without an accepted token are refused (401, UNAUTHENTICATED). Absent or null: none.');

export type BearerAuthConfig = z.output<typeof bearerAuthSchema>;

/** The `auth:` key of a listener: optional, and `null` means no authentication as absent does. */
export const listenerAuthSchema = bearerAuthSchema
  .nullable()
  .optional()
  .describe('Bearer tokens this listener accepts (tokens, tokens_file); requests without one are answered 401 / UNAUTHENTICATED. Absent or null: none.');

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

export class BearerTokens {
  readonly #config: BearerAuthConfig;
  readonly #logger: Logger;
  #digests: Buffer[] = [];
  #fileStamp = '';
  #timer: NodeJS.Timeout | undefined;

  /** Reads the tokens now: an unreadable tokens_file fails the component's start. */
  constructor(config: BearerAuthConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#load(true);
    if (config.tokens_file !== undefined) {
      this.#timer = setInterval(() => this.#load(false), config.reload_interval);
      this.#timer.unref();
    }
  }

  /** True when `authorization` (the header or metadata value) carries an accepted bearer token. */
  accepts(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const m = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(authorization);
    if (!m) return false;
    const presented = digest(m[1]!);
    let ok = false;
    for (const known of this.#digests) ok = timingSafeEqual(presented, known) || ok;
    return ok;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  #load(atStart: boolean): void {
    const fromConfig = this.#config.tokens;
    const file = this.#config.tokens_file;
    if (file === undefined) {
      this.#digests = fromConfig.map(digest);
      return;
    }
    try {
      const s = statSync(file);
      const stamp = `${s.mtimeMs}:${s.size}`;
      if (stamp === this.#fileStamp) return;
      const fromFile = readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
      this.#digests = [...fromConfig, ...fromFile].map(digest);
      this.#fileStamp = stamp;
      if (!atStart) this.#logger.info({ tokens_file: file, tokens: fromFile.length }, 'Loaded the changed tokens file.');
    } catch (err) {
      if (atStart) throw new Error(`Cannot read auth.tokens_file ${file}: ${(err as Error).message}`);
      this.#logger.warn({ tokens_file: file, error: err }, 'Cannot read the tokens file; keeping the tokens loaded before.');
    }
  }
}
