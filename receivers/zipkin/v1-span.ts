/**
 * The Zipkin v1 span (zipkin-api `thrift/zipkinCore.thrift`, and the v1 JSON that mirrors it), as the
 * v1 JSON and Thrift decoders produce it before `convertV1Span` turns it into v2 spans. A v1 span has
 * no kind and no endpoints of its own: core annotations (`cs`, `sr`, `ss`, `cr`, `ms`, `mr`) carry
 * the kind and timing, each annotation's host is who recorded it, and the address binary annotations
 * (`ca`, `sa`, `ma`) name the other side.
 */
import type { ZipkinEndpoint } from './zipkin-span.ts';

export interface V1Annotation {
  /** Epoch microseconds. */
  timestamp: bigint;
  value: string;
  endpoint: ZipkinEndpoint | undefined;
}

/**
 * A binary annotation. With `stringValue` it is a tag; without, it is an address annotation (`ca`,
 * `sa`, `ma` with the boolean value true) whose endpoint is the remote side.
 */
export interface V1BinaryAnnotation {
  key: string;
  stringValue: string | undefined;
  endpoint: ZipkinEndpoint | undefined;
}

export interface V1Span {
  /** 16 or 32 lower-hex characters, normalised as for v2. */
  traceId: string;
  id: string;
  parentId: string | undefined;
  name: string;
  /** Epoch microseconds; 0n when absent (v1 marks a span shared by leaving it out). */
  timestamp: bigint;
  /** Microseconds; 0n when absent. */
  duration: bigint;
  debug: boolean;
  annotations: V1Annotation[];
  binaryAnnotations: V1BinaryAnnotation[];
}

/** The address binary annotation keys: client, server and message-broker address. */
export const ADDRESS_KEYS: ReadonlySet<string> = new Set(['ca', 'sa', 'ma']);
