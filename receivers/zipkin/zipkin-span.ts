/**
 * The Zipkin v2 span, as every decoder of this receiver produces it (zipkin-api `zipkin2-api.yaml`
 * and `zipkin.proto`). v1 bodies (JSON and Thrift) are converted into it first, so the translation
 * into the internal model exists once. Nothing outside `receivers/zipkin/` sees this type.
 */

/** `Span.kind`; absent means a local span (or an incomplete one). */
export type ZipkinKind = 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';

/** The network context of a node: who recorded the span, or the other side of the call. */
export interface ZipkinEndpoint {
  /** As sent (Zipkin's server lower-cases it; we keep the sender's spelling). Absent when empty. */
  serviceName: string | undefined;
  /** Dotted text, e.g. "192.168.99.1". */
  ipv4: string | undefined;
  /** Text form, e.g. "2001:db8::c001". */
  ipv6: string | undefined;
  /** 1..65535; absent when 0 or unknown. */
  port: number | undefined;
}

export interface ZipkinAnnotation {
  /** Epoch microseconds. */
  timestamp: bigint;
  value: string;
}

export interface ZipkinSpan {
  /** 16 or 32 lower-case hex characters (a 32-character id whose high half is zero is cut to 16). */
  traceId: string;
  /** 16 lower-case hex characters. */
  id: string;
  /** 16 lower-case hex characters; undefined for a root. */
  parentId: string | undefined;
  kind: ZipkinKind | undefined;
  /** '' when absent. */
  name: string;
  /** Epoch microseconds of the start; undefined when absent (0 on the wire means absent). */
  timestamp: bigint | undefined;
  /** Microseconds; undefined when absent. */
  duration: bigint | undefined;
  localEndpoint: ZipkinEndpoint | undefined;
  remoteEndpoint: ZipkinEndpoint | undefined;
  annotations: ZipkinAnnotation[];
  /** A Map so that keys such as "__proto__" stay ordinary keys. */
  tags: Map<string, string>;
  debug: boolean;
  /** True when this span contributes to a span started by another tracer (B3 "joined" server spans). */
  shared: boolean;
}

/** A span with only its ids set; decoders fill in the rest. */
export function emptyZipkinSpan(traceId: string, id: string): ZipkinSpan {
  return {
    traceId,
    id,
    parentId: undefined,
    kind: undefined,
    name: '',
    timestamp: undefined,
    duration: undefined,
    localEndpoint: undefined,
    remoteEndpoint: undefined,
    annotations: [],
    tags: new Map(),
    debug: false,
    shared: false,
  };
}

/** Zipkin compares endpoints by service name, case-insensitively (its Endpoint lower-cases names). */
export function sameServiceName(a: ZipkinEndpoint | undefined, b: ZipkinEndpoint | undefined): boolean {
  const x = a?.serviceName?.toLowerCase();
  const y = b?.serviceName?.toLowerCase();
  return x === y;
}
