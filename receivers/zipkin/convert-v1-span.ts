/**
 * Zipkin v1 → v2, by the rules of the Zipkin server's converter (openzipkin/zipkin
 * `zipkin2.v1.V1SpanConverter`), so a v1 sender gets the spans Zipkin itself would store:
 *
 * - Each distinct annotation host (by service name) becomes one v2 span; annotations without a host
 *   go to the first span. A span whose `cs` and `sr` hosts share a service name (loopback) is forked
 *   into a client and a server span.
 * - `cs`/`cr` make a CLIENT, `sr`/`ss` a SERVER, `ms` a PRODUCER, `mr` a CONSUMER span. The span's
 *   own timestamp/duration win when both are set, else the core annotations give them. Core
 *   annotations are consumed; others stay annotations (`ws`/`wr` only when not used for messaging).
 * - A v1 span holding both `cs` and `sr` was shared by client and server: the server side becomes a
 *   `shared` v2 span timed by `sr`/`ss`. A server-only span without its own timestamp (or with `ss`
 *   but no duration) is `shared` too, as v1 marked joined spans by leaving the timestamp out.
 * - String binary annotations become tags (an empty `lc` marker is dropped); `ca`/`sa`/`ma` become the
 *   remote endpoint of the server/client/messaging span. A `ca` naming the server's own service
 *   (Finagle records the client socket that way) loses its service name to avoid a self-link.
 * - With no core annotations at all, `ca`+`sa` make the `ca` side's span talk to `sa`, `sa` alone is
 *   a remote endpoint, and `ca` alone makes the span a SERVER.
 */
import type { V1Annotation, V1Span } from './v1-span.ts';
import { emptyZipkinSpan, sameServiceName, type ZipkinEndpoint, type ZipkinSpan } from './zipkin-span.ts';

/** The v2 spans one v1 span stands for (one per recording host; usually exactly one). */
export function convertV1Span(source: V1Span): ZipkinSpan[] {
  return new V1Conversion(source).run();
}

class V1Conversion {
  readonly #source: V1Span;
  readonly #first: ZipkinSpan;
  readonly #forks: ZipkinSpan[] = [];
  #cs: V1Annotation | undefined;
  #sr: V1Annotation | undefined;
  #ss: V1Annotation | undefined;
  #cr: V1Annotation | undefined;
  #ms: V1Annotation | undefined;
  #mr: V1Annotation | undefined;
  #ws: V1Annotation | undefined;
  #wr: V1Annotation | undefined;

  constructor(source: V1Span) {
    this.#source = source;
    this.#first = this.#newSpan(undefined);
  }

  run(): ZipkinSpan[] {
    this.#annotations();
    this.#binaryAnnotations();
    return [this.#first, ...this.#forks];
  }

  #newSpan(localEndpoint: ZipkinEndpoint | undefined): ZipkinSpan {
    const s = this.#source;
    const span = emptyZipkinSpan(s.traceId, s.id);
    span.parentId = s.parentId;
    span.name = s.name;
    span.debug = s.debug;
    span.localEndpoint = localEndpoint;
    return span;
  }

  /** The v2 span recorded by `host`: the first span takes the first host seen, a new host forks. */
  #spanFor(host: ZipkinEndpoint | undefined): ZipkinSpan {
    if (host === undefined) return this.#first;
    if (this.#first.localEndpoint === undefined) {
      this.#first.localEndpoint = host;
      return this.#first;
    }
    if (sameServiceName(this.#first.localEndpoint, host)) return this.#first;
    for (const f of this.#forks) if (sameServiceName(f.localEndpoint, host)) return f;
    return this.#fork(host);
  }

  #fork(host: ZipkinEndpoint | undefined): ZipkinSpan {
    const span = this.#newSpan(host);
    this.#forks.push(span);
    return span;
  }

  #annotations(): void {
    const source = this.#source;
    for (const a of source.annotations) {
      const span = this.#spanFor(a.endpoint);
      // Core annotations need a host; without one they are ordinary events.
      if (a.value.length !== 2 || a.endpoint === undefined) {
        span.annotations.push({ timestamp: a.timestamp, value: a.value });
        continue;
      }
      switch (a.value) {
        case 'cs': span.kind = 'CLIENT'; this.#cs = a; break;
        case 'sr': span.kind = 'SERVER'; this.#sr = a; break;
        case 'ss': span.kind = 'SERVER'; this.#ss = a; break;
        case 'cr': span.kind = 'CLIENT'; this.#cr = a; break;
        case 'ms': span.kind = 'PRODUCER'; this.#ms = a; break;
        case 'mr': span.kind = 'CONSUMER'; this.#mr = a; break;
        case 'ws': this.#ws = a; break;
        case 'wr': this.#wr = a; break;
        default: span.annotations.push({ timestamp: a.timestamp, value: a.value });
      }
    }

    // A bridge from an event model may leave out the start annotation while the span's own timing
    // says where it was.
    if (this.#cs === undefined && this.#endMatchesSpanDuration(this.#cr)) {
      this.#cs = { timestamp: source.timestamp, value: 'cs', endpoint: this.#cr!.endpoint };
    }
    if (this.#sr === undefined && this.#endMatchesSpanDuration(this.#ss)) {
      this.#sr = { timestamp: source.timestamp, value: 'sr', endpoint: this.#ss!.endpoint };
    }

    const cs = this.#cs;
    const sr = this.#sr;
    const ss = this.#ss;
    const cr = this.#cr;
    if (cs !== undefined && sr !== undefined) {
      // Client and server shared this span: the client owns the span's timing.
      this.#time(cs, cr);
      const client = this.#spanFor(cs.endpoint);
      let server: ZipkinSpan;
      if (sameServiceName(cs.endpoint, sr.endpoint)) {
        client.kind = 'CLIENT';
        server = this.#fork(sr.endpoint);
        server.kind = 'SERVER';
      } else {
        server = this.#spanFor(sr.endpoint);
      }
      server.shared = true;
      server.timestamp = sr.timestamp;
      if (ss !== undefined) server.duration = positive(ss.timestamp - sr.timestamp);
      if (cr === undefined && source.duration === 0n) client.duration = undefined; // one-way: no response
    } else if (cs !== undefined && cr !== undefined) {
      this.#time(cs, cr);
    } else if (sr !== undefined && ss !== undefined) {
      this.#time(sr, ss);
    } else {
      this.#incompleteRpc();
    }

    // v1 had no shared flag: a server side reported without its own timestamp (or with `ss` but no
    // duration, as MySQL-stored merged rows look) was joined to the client's span.
    if (cs === undefined && sr !== undefined && (source.timestamp === 0n || (ss !== undefined && source.duration === 0n))) {
      this.#spanFor(sr.endpoint).shared = true;
    }

    this.#messaging();
  }

  #messaging(): void {
    const ms = this.#ms;
    const mr = this.#mr;
    const ws = this.#ws;
    const wr = this.#wr;
    if (ms !== undefined && mr !== undefined) {
      // Not supposed to share a span, but when they do, split them like client and server.
      const producer = this.#spanFor(ms.endpoint);
      let consumer: ZipkinSpan;
      if (sameServiceName(ms.endpoint, mr.endpoint)) {
        producer.kind = 'PRODUCER';
        consumer = this.#fork(mr.endpoint);
        consumer.kind = 'CONSUMER';
      } else {
        consumer = this.#spanFor(mr.endpoint);
      }
      consumer.shared = true;
      if (wr !== undefined) {
        consumer.timestamp = wr.timestamp;
        consumer.duration = positive(mr.timestamp - wr.timestamp);
      } else {
        consumer.timestamp = mr.timestamp;
      }
      producer.timestamp = ms.timestamp;
      producer.duration = ws === undefined ? undefined : positive(ws.timestamp - ms.timestamp);
    } else if (ms !== undefined) {
      this.#time(ms, ws);
    } else if (mr !== undefined) {
      if (wr !== undefined) this.#time(wr, mr);
      else this.#time(mr, undefined);
    } else {
      if (ws !== undefined) this.#spanFor(ws.endpoint).annotations.push({ timestamp: ws.timestamp, value: ws.value });
      if (wr !== undefined) this.#spanFor(wr.endpoint).annotations.push({ timestamp: wr.timestamp, value: wr.value });
    }
  }

  /** The v1 span's own timing when complete, else the begin/end annotations'. */
  #time(begin: V1Annotation, end: V1Annotation | undefined): void {
    const source = this.#source;
    const span = this.#spanFor(begin.endpoint);
    if (source.timestamp !== 0n && source.duration !== 0n) {
      span.timestamp = source.timestamp;
      span.duration = source.duration;
    } else {
      span.timestamp = begin.timestamp;
      if (end !== undefined) span.duration = positive(end.timestamp - begin.timestamp);
    }
  }

  /** Half an RPC: start from the begin annotation, keep the end one as an event. */
  #incompleteRpc(): void {
    for (const span of [this.#first, ...this.#forks]) {
      if (span.kind === 'CLIENT') {
        if (this.#cs !== undefined) span.timestamp = this.#cs.timestamp;
        if (this.#cr !== undefined) span.annotations.push({ timestamp: this.#cr.timestamp, value: this.#cr.value });
      } else if (span.kind === 'SERVER') {
        if (this.#sr !== undefined) span.timestamp = this.#sr.timestamp;
        if (this.#ss !== undefined) span.annotations.push({ timestamp: this.#ss.timestamp, value: this.#ss.value });
      }
    }
    const source = this.#source;
    if (source.timestamp !== 0n) {
      this.#first.timestamp = source.timestamp;
      this.#first.duration = positive(source.duration);
    }
  }

  #endMatchesSpanDuration(end: V1Annotation | undefined): boolean {
    const s = this.#source;
    return end !== undefined && s.timestamp !== 0n && s.duration !== 0n && s.timestamp + s.duration === end.timestamp;
  }

  #binaryAnnotations(): void {
    let ca: ZipkinEndpoint | undefined;
    let sa: ZipkinEndpoint | undefined;
    let ma: ZipkinEndpoint | undefined;
    for (const b of this.#source.binaryAnnotations) {
      if (b.stringValue === undefined) {
        if (b.key === 'ca') ca = b.endpoint;
        else if (b.key === 'sa') sa = b.endpoint;
        else if (b.key === 'ma') ma = b.endpoint;
        continue;
      }
      const span = this.#spanFor(b.endpoint);
      if (b.key === 'lc' && b.stringValue === '') continue; // a marker, not a value
      span.tags.set(b.key, b.stringValue);
    }

    const cs = this.#cs;
    const sr = this.#sr;
    const ss = this.#ss;
    const cr = this.#cr;
    if (cs === undefined && cr === undefined && ss === undefined && sr === undefined && (ca !== undefined || sa !== undefined)) {
      if (ca !== undefined && sa !== undefined) {
        this.#spanFor(ca).remoteEndpoint = sa;
      } else if (sa !== undefined) {
        // "sa" alone is a remote address, not proof of a client span.
        this.#spanFor(undefined).remoteEndpoint = sa;
      } else {
        const span = this.#spanFor(undefined);
        span.kind = 'SERVER';
        span.remoteEndpoint = ca;
      }
      return;
    }

    const server = sr ?? ss;
    if (ca !== undefined && server !== undefined && !sameEndpoint(ca, server.endpoint)) {
      const remote = sameServiceName(ca, server.endpoint) ? withoutServiceName(ca) : ca;
      this.#spanFor(server.endpoint).remoteEndpoint = remote;
    }
    if (sa !== undefined) {
      if (cs !== undefined) this.#spanFor(cs.endpoint).remoteEndpoint = sa;
      else if (cr !== undefined) this.#spanFor(cr.endpoint).remoteEndpoint = sa;
    }
    if (ma !== undefined) {
      // Both sides get the broker, in case a messaging span was shared by mistake.
      if (this.#ms !== undefined) this.#spanFor(this.#ms.endpoint).remoteEndpoint = ma;
      if (this.#mr !== undefined) this.#spanFor(this.#mr.endpoint).remoteEndpoint = ma;
    }
  }
}

/** Zipkin stores a duration below one microsecond as absent. */
function positive(micros: bigint): bigint | undefined {
  return micros > 0n ? micros : undefined;
}

function sameEndpoint(a: ZipkinEndpoint, b: ZipkinEndpoint | undefined): boolean {
  return b !== undefined && sameServiceName(a, b) && a.ipv4 === b.ipv4 && a.ipv6 === b.ipv6 && a.port === b.port;
}

function withoutServiceName(e: ZipkinEndpoint): ZipkinEndpoint | undefined {
  if (e.ipv4 === undefined && e.ipv6 === undefined && e.port === undefined) return undefined;
  return { ...e, serviceName: undefined };
}
