/**
 * A steady OTLP/HTTP JSON load that behaves like a well-mannered SDK exporter with unlimited
 * retries: each request is resent (after Retry-After, or 100 ms) until skybridge answers 2xx, so a
 * trace counts as acknowledged exactly when skybridge said it took it. Every trace is
 * frontend SERVER → frontend CLIENT → backend SERVER (3 spans), which skybridge turns into 2
 * segments with known ids (local root span id + trace id), so the OAP's side can be checked span
 * for span.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { DecodedSegment } from './stand-in-oap.ts';

export interface LoadTrace {
  traceId: string;
  /** segment id → spans it must hold. */
  segments: Map<string, number>;
}

export interface LoadOptions {
  /** `http://127.0.0.1:4318/v1/traces`; read at every attempt, so a restarted skybridge on another port can be followed. */
  url: () => string;
  tracesPerRequest: number;
  /**
   * Two agents: the frontend's spans go to `url()`, the backend's to this one, in two requests; a
   * trace counts as acknowledged once both were.
   */
  backendUrl?: () => string;
  /** A new request every this many ms (while fewer than `maxInFlight` are unanswered). */
  intervalMs: number;
  maxInFlight?: number;
}

const SPANS_PER_TRACE = 3;

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function attr(key: string, value: string | number) {
  return typeof value === 'number' ? { key, value: { intValue: String(value) } } : { key, value: { stringValue: value } };
}

function makeTraces(n: number): { bodies: { frontend: string; backend: string; both: string }; traces: LoadTrace[] } {
  const now = BigInt(Date.now()) * 1_000_000n;
  const ms = (k: number) => String(now + BigInt(k) * 1_000_000n);
  const frontend = [];
  const backend = [];
  const traces: LoadTrace[] = [];
  for (let i = 0; i < n; i++) {
    const traceId = hex(16);
    const root = hex(8);
    const client = hex(8);
    const server = hex(8);
    frontend.push(
      { traceId, spanId: root, name: 'GET /checkout', kind: 2, flags: 0x100, startTimeUnixNano: ms(0), endTimeUnixNano: ms(20),
        attributes: [attr('http.request.method', 'GET'), attr('url.path', '/checkout'), attr('http.route', '/checkout'), attr('http.response.status_code', 200)] },
      { traceId, spanId: client, parentSpanId: root, name: 'POST', kind: 3, flags: 0x100, startTimeUnixNano: ms(2), endTimeUnixNano: ms(18),
        attributes: [attr('http.request.method', 'POST'), attr('url.full', 'http://backend:8080/pay'), attr('server.address', 'backend'), attr('server.port', 8080), attr('http.response.status_code', 200)] },
    );
    backend.push({ traceId, spanId: server, parentSpanId: client, name: 'POST /pay', kind: 2, flags: 0x300, startTimeUnixNano: ms(4), endTimeUnixNano: ms(16),
      attributes: [attr('http.request.method', 'POST'), attr('url.path', '/pay'), attr('http.route', '/pay'), attr('server.address', 'backend'), attr('server.port', 8080), attr('http.response.status_code', 200)] });
    traces.push({ traceId, segments: new Map([[root + traceId, 2], [server + traceId, 1]]) });
  }
  const resource = (service: string) => ({ attributes: [attr('service.name', service), attr('service.instance.id', `${service}-1`)] });
  const scope = { name: 'skybridge-test-load', version: '1.0.0' };
  const fe = { resource: resource('frontend'), scopeSpans: [{ scope, spans: frontend }] };
  const be = { resource: resource('backend'), scopeSpans: [{ scope, spans: backend }] };
  return {
    bodies: { both: JSON.stringify({ resourceSpans: [fe, be] }), frontend: JSON.stringify({ resourceSpans: [fe] }), backend: JSON.stringify({ resourceSpans: [be] }) },
    traces,
  };
}

function post(url: string, body: string): Promise<{ status: number; retryAfterMs: number | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        const after = Number(res.headers['retry-after']);
        resolve({ status: res.statusCode ?? 0, retryAfterMs: Number.isFinite(after) ? after * 1000 : undefined });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

export class OtlpTraceLoad {
  readonly #options: LoadOptions;
  /** Traces skybridge answered 2xx for, in order. */
  readonly acked: LoadTrace[] = [];
  /** Answers other than 2xx, and connection errors, by status ('error' for the latter). */
  readonly refusals = new Map<string, number>();
  /** Requests sent, including every resend. */
  attempts = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: LoadOptions) {
    this.#options = options;
  }

  get spansAcked(): number {
    return this.acked.length * SPANS_PER_TRACE;
  }

  get segmentsExpected(): number {
    return this.acked.length * 2;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Begin sending one request per interval. */
  start(): void {
    this.#stopped = false;
    this.#timer ??= setInterval(() => {
      if (this.#inFlight.size >= (this.#options.maxInFlight ?? 8)) return;
      const request = this.#send(makeTraces(this.#options.tracesPerRequest));
      this.#inFlight.add(request);
      void request.finally(() => this.#inFlight.delete(request));
    }, this.#options.intervalMs);
  }

  /** Stop starting new requests; those in flight keep retrying. */
  pause(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stop starting new requests and wait until every one in flight was acknowledged. */
  async drain(timeoutMs = 30_000): Promise<void> {
    this.pause();
    const until = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0) {
      if (Date.now() > until) throw new Error(`${this.#inFlight.size} requests still unacknowledged after ${timeoutMs} ms.`);
      await Promise.race([...this.#inFlight, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
  }

  /** Give up on requests still in flight (they were never acknowledged). */
  abandon(): void {
    this.pause();
    this.#stopped = true;
  }

  async #send(request: ReturnType<typeof makeTraces>): Promise<void> {
    const backendUrl = this.#options.backendUrl;
    const acked = backendUrl
      ? (await Promise.all([this.#sendUntilAcked(this.#options.url, request.bodies.frontend), this.#sendUntilAcked(backendUrl, request.bodies.backend)])).every(Boolean)
      : await this.#sendUntilAcked(this.#options.url, request.bodies.both);
    if (acked && !this.#stopped) this.acked.push(...request.traces);
  }

  /** Resends `body` until a 2xx (true) or until the load is abandoned (false). */
  async #sendUntilAcked(url: () => string, body: string): Promise<boolean> {
    while (!this.#stopped) {
      this.attempts += 1;
      let wait = 100;
      try {
        const { status, retryAfterMs } = await post(url(), body);
        if (status >= 200 && status < 300) return true;
        this.refusals.set(String(status), (this.refusals.get(String(status)) ?? 0) + 1);
        if (status !== 429 && status !== 502 && status !== 503 && status !== 504) throw new Error(`Permanent answer ${status}.`);
        wait = Math.min(retryAfterMs ?? 100, 500);
      } catch (error) {
        if ((error as Error).message.startsWith('Permanent')) throw error;
        this.refusals.set('error', (this.refusals.get('error') ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    return false;
  }
}

export interface DeliveryReport {
  tracesAcked: number;
  spansAcked: number;
  segmentsExpected: number;
  segmentsReceived: number;
  distinctSegments: number;
  /** Received more than once (counted per extra copy). */
  duplicates: number;
  /** Acknowledged segments never received, or received with fewer spans. */
  missing: string[];
}

/** Checks every acknowledged trace against what the OAP received. */
export function deliveryReport(acked: readonly LoadTrace[], received: readonly DecodedSegment[]): DeliveryReport {
  const byId = new Map<string, DecodedSegment>();
  for (const segment of received) if (!byId.has(segment.tracesegmentid)) byId.set(segment.tracesegmentid, segment);
  const missing: string[] = [];
  let expected = 0;
  for (const trace of acked) {
    for (const [id, spans] of trace.segments) {
      expected++;
      const got = byId.get(id);
      if (got === undefined || got.spansList.length < spans) missing.push(id);
    }
  }
  return {
    tracesAcked: acked.length,
    spansAcked: acked.length * SPANS_PER_TRACE,
    segmentsExpected: expected,
    segmentsReceived: received.length,
    distinctSegments: byId.size,
    duplicates: received.length - byId.size,
    missing,
  };
}

/**
 * Follows what the OAP received incrementally (each segment is looked at once), so waiting for a
 * large backlog costs O(segments), not O(segments²) as re-running `deliveryReport` on every
 * arrival would.
 */
export class DeliveryTracker {
  readonly #received: readonly DecodedSegment[];
  readonly #spansById = new Map<string, number>();
  #seen = 0;

  constructor(received: readonly DecodedSegment[]) {
    this.#received = received;
  }

  /** Acknowledged segments not (fully) received yet. */
  missing(acked: readonly LoadTrace[]): number {
    for (; this.#seen < this.#received.length; this.#seen++) {
      const segment = this.#received[this.#seen]!;
      const spans = segment.spansList.length;
      if ((this.#spansById.get(segment.tracesegmentid) ?? -1) < spans) this.#spansById.set(segment.tracesegmentid, spans);
    }
    let missing = 0;
    for (const trace of acked) for (const [id, spans] of trace.segments) if ((this.#spansById.get(id) ?? 0) < spans) missing++;
    return missing;
  }

  /** Polls every 100 ms until nothing acknowledged is missing; rejects after `timeoutMs`. */
  async waitForAll(acked: () => readonly LoadTrace[], timeoutMs: number, what = 'every acknowledged segment'): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const missing = this.missing(acked());
      if (missing === 0) return;
      if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}: ${missing} segments missing.`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
