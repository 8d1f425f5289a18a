/**
 * B3 single-host spans from older Zipkin tracers (zipkin-js and Brave by default, Finagle, sidecars):
 * a server "joins" the client's span and reports its side under the client's span id, marked
 * `shared`. OpenTelemetry and SkyWalking need one id per span, so the server side gets an id of its
 * own and becomes the child of the client span:
 *
 *   client  id=P parent=X            client  id=P  parent=X
 *   server  id=P parent=X shared  →  server  id=P' parent=P     P' = first 8 bytes of
 *   child   id=C parent=P (server's) child   id=C  parent=P'    sha256(trace id ‖ P ‖ "server")
 *
 * P' is derived, never random, so the same span sent twice (a retry, or v1 and v2 copies) gets the
 * same id, and other collectors running this rule agree. Spans of the server's service whose parent
 * is P were started inside the joined server span (a joining tracer makes P the current span), so
 * they are re-parented to P'. That also works for children that arrive in later requests, through a
 * bounded memory of recent renames; a child that arrives before its shared server span keeps P
 * as parent (it then shows as called by the client directly).
 */
import { createHash } from 'node:crypto';
import { otelTraceId } from './hex-id.ts';
import type { ZipkinSpan } from './zipkin-span.ts';

/** Renames remembered by default: enough for the joined spans of several seconds of busy traffic. */
export const DEFAULT_RENAME_MEMORY = 10_000;

/**
 * The id a shared server span gets: the first 8 bytes of sha256(32-hex trace id, 16-hex span id,
 * "server"), as 16 lower-hex characters. The 64-bit trace id is widened first so both Zipkin spellings
 * of a trace give the same id.
 */
export function serverSpanId(traceId: string, spanId: string): string {
  const digest = createHash('sha256').update(`${otelTraceId(traceId)}${spanId}server`).digest();
  // An all-zero id is invalid; the chance is 2^-64, but the rule must still yield a valid id.
  if (digest.readBigUInt64BE(0) === 0n) digest[7] = 1;
  return digest.toString('hex', 0, 8);
}

/** Gives shared server spans ids of their own (see the module comment). One per receiver. */
export class SharedSpanSplitter {
  readonly #capacity: number;
  /** `trace/sharedId/service` → the server span's new id, oldest first. */
  readonly #renames = new Map<string, string>();

  constructor(capacity = DEFAULT_RENAME_MEMORY) {
    this.#capacity = capacity;
  }

  /**
   * Rewrites ids in place. Also applies two of Zipkin's span rules: a parent id equal to the span's
   * own id means "no parent", and `shared` only means something on a SERVER or CONSUMER span.
   */
  split(spans: ZipkinSpan[]): void {
    const renamed = new Set<ZipkinSpan>();
    for (const span of spans) {
      if (span.parentId === span.id) span.parentId = undefined;
      if (!span.shared) continue;
      if (span.kind !== 'SERVER' && span.kind !== 'CONSUMER') {
        span.shared = false;
        continue;
      }
      const id = serverSpanId(span.traceId, span.id);
      this.#remember(renameKey(span.traceId, span.id, span), id);
      span.parentId = span.id;
      span.id = id;
      renamed.add(span);
    }
    if (this.#renames.size === 0) return;
    for (const span of spans) {
      if (span.parentId === undefined || renamed.has(span)) continue;
      const parent = this.#renames.get(renameKey(span.traceId, span.parentId, span));
      if (parent !== undefined) span.parentId = parent;
    }
  }

  #remember(key: string, id: string): void {
    this.#renames.delete(key);
    this.#renames.set(key, id);
    if (this.#renames.size > this.#capacity) {
      const oldest = this.#renames.keys().next().value;
      if (oldest !== undefined) this.#renames.delete(oldest);
    }
  }
}

function renameKey(traceId: string, spanId: string, span: ZipkinSpan): string {
  return `${traceId}/${spanId}/${span.localEndpoint?.serviceName?.toLowerCase() ?? ''}`;
}
