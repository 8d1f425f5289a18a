/**
 * The benchmark's requests, encoded before any timing starts. A run may need more requests than it
 * is worth generating (a 20 s run at full speed is over a million spans), but it must never resend
 * a trace: skybridge would rightly treat the copy as a duplicate and the span counts would not add
 * up. So a pool of distinct encoded templates is made once, and request `i` is template
 * `i % size` with every trace and span id XORed with a mask derived from `floor(i / size)`. The
 * mask is applied to the ids' first four bytes (their first eight hex digits in JSON) in place of a
 * re-encode, and parent ids get the same mask as span ids, so every parent/child relation survives
 * and the wire size is identical.
 *
 * The same generated traces can be encoded three ways (`PoolFormat`):
 * - `otlp`: one ExportTraceServiceRequest per generated request (core/model/otlp-protobuf-encoder.ts);
 * - `zipkin_json`: one Zipkin v2 JSON list per generated request (zipkin-json-encoder.ts);
 * - `jaeger_thrift`: one Thrift `jaeger.Batch` per process of each generated request
 *   (jaeger-thrift-encoder.ts), since a Jaeger batch carries one process; a trace then spans
 *   several requests, each listing the spans it carries of it.
 */
import protobuf from 'protobufjs/minimal.js';
import { encodeExportTraceServiceRequest } from '../core/model/otlp-protobuf-encoder.ts';
import { encodeJaegerBatch } from './jaeger-thrift-encoder.ts';
import { TraceGenerator, type GeneratedRequest, type TraceGeneratorOptions } from './trace-generator.ts';
import { encodeZipkinJsonV2 } from './zipkin-json-encoder.ts';

export type PoolFormat = 'otlp' | 'zipkin_json' | 'jaeger_thrift';

/** One request as the load client sends it. */
export interface LoadRequest {
  /** The request body; shared with the pool, never to be modified. */
  bytes: Uint8Array;
  /** Trace ids with spans in this request... */
  traceIds: string[];
  /** ...and how many spans of each it carries (all of them, except for `jaeger_thrift`). */
  spansPerTrace: number[];
  spanCount: number;
}

interface Template extends LoadRequest {
  /**
   * Where every trace id and every span, parent and link span id starts: binary formats XOR the
   * four bytes there, `hex` ones the eight hex digits.
   */
  traceIdOffsets: number[];
  spanIdOffsets: number[];
  ids: 'binary' | 'hex';
  /** The last request made from its generated request (always, except inside a Jaeger group). */
  endsGroup: boolean;
}

export interface RequestPoolOptions extends TraceGeneratorOptions {
  /** Distinct requests generated and encoded up front. */
  templates: number;
  format?: PoolFormat;
}

export class RequestPool {
  readonly #templates: Template[];
  /** Spans and bytes over all templates, for the report. */
  readonly templateSpans: number;
  readonly templateBytes: number;

  private constructor(templates: Template[]) {
    this.#templates = templates;
    this.templateSpans = templates.reduce((n, t) => n + t.spanCount, 0);
    this.templateBytes = templates.reduce((n, t) => n + t.bytes.length, 0);
  }

  /** Generates `options.templates` requests and encodes them in `options.format` (OTLP by default). */
  static generate(options: RequestPoolOptions): RequestPool {
    return RequestPool.encode(RequestPool.generateBatches(options), options.format ?? 'otlp');
  }

  /** The generated requests, not yet encoded: one set serves every format of a run. */
  static generateBatches(options: RequestPoolOptions): GeneratedRequest[] {
    const generator = new TraceGenerator(options);
    return Array.from({ length: options.templates }, () => generator.nextRequest());
  }

  /** Encodes generated requests in one format. */
  static encode(generated: readonly GeneratedRequest[], format: PoolFormat): RequestPool {
    const templates: Template[] = [];
    for (const { batch, traceIds, spansPerTrace, spanCount } of generated) {
      if (format === 'otlp') {
        const bytes = encodeExportTraceServiceRequest(batch);
        templates.push({ bytes, traceIds, spansPerTrace, spanCount, ids: 'binary', endsGroup: true, ...findIdOffsets(bytes) });
      } else if (format === 'zipkin_json') {
        templates.push({ traceIds, spansPerTrace, spanCount, ids: 'hex', endsGroup: true, ...encodeZipkinJsonV2(batch) });
      } else {
        batch.resourceSpans.forEach((rs, i) => templates.push({ ids: 'binary', endsGroup: i === batch.resourceSpans.length - 1, ...encodeJaegerBatch(rs) }));
      }
    }
    return new RequestPool(templates);
  }

  get size(): number {
    return this.#templates.length;
  }

  /**
   * Whether request `index` is the last of the requests made from one generated request. A load
   * stops only after such a request, so no trace is sent in part (which would leave skybridge
   * waiting `max_wait` for its missing spans).
   */
  endsGroup(index: number): boolean {
    return this.#templates[index % this.#templates.length]!.endsGroup;
  }

  /** Request number `index` (0-based); the same index always gives the same bytes and ids. */
  request(index: number): LoadRequest {
    const template = this.#templates[index % this.#templates.length]!;
    const round = Math.floor(index / this.#templates.length);
    if (round === 0) return template;
    const mask = roundMask(round);
    const bytes = Buffer.from(template.bytes);
    const xor = template.ids === 'binary' ? xor32 : xorHexAt;
    for (const at of template.traceIdOffsets) xor(bytes, at, mask);
    for (const at of template.spanIdOffsets) xor(bytes, at, mask);
    return {
      bytes,
      traceIds: template.traceIds.map((id) => xorHex(id, mask)),
      spansPerTrace: template.spansPerTrace,
      spanCount: template.spanCount,
    };
  }
}

/** A well-spread 32-bit mask per round, never 0 (round 0 is the template itself). */
function roundMask(round: number): number {
  return (Math.imul(round, 0x9e3779b1) >>> 0) || 1;
}

function xor32(bytes: Buffer, at: number, mask: number): void {
  bytes.writeUInt32BE((bytes.readUInt32BE(at) ^ mask) >>> 0, at);
}

/** XORs the eight lower-case hex digits (ASCII) at `at`. */
function xorHexAt(bytes: Buffer, at: number, mask: number): void {
  const v = (parseInt(bytes.toString('latin1', at, at + 8), 16) ^ mask) >>> 0;
  bytes.write(v.toString(16).padStart(8, '0'), at, 8, 'latin1');
}

function xorHex(id: string, mask: number): string {
  return ((parseInt(id.slice(0, 8), 16) ^ mask) >>> 0).toString(16).padStart(8, '0') + id.slice(8);
}

/**
 * Walks ExportTraceServiceRequest → ResourceSpans(2) → ScopeSpans(2) → Span(2) and records where
 * each id's bytes start: Span 1 trace_id, 2 span_id, 4 parent_span_id; Link 1 trace_id, 2 span_id.
 */
function findIdOffsets(bytes: Uint8Array): { traceIdOffsets: number[]; spanIdOffsets: number[] } {
  const traceIdOffsets: number[] = [];
  const spanIdOffsets: number[] = [];
  const r = protobuf.Reader.create(bytes);

  const within = (end: number, onField: (field: number, wireType: number) => boolean): void => {
    while (r.pos < end) {
      const tag = r.uint32();
      if (!onField(tag >>> 3, tag & 7)) r.skipType(tag & 7);
    }
  };
  const nested = (onField: (field: number, wireType: number) => boolean): void => {
    const length = r.uint32();
    within(r.pos + length, onField);
  };
  const idAt = (into: number[], size: number): void => {
    const length = r.uint32();
    if (length === size) into.push(r.pos);
    else if (length !== 0) throw new Error(`An id of ${length} bytes in a generated request; expected ${size}.`);
    r.pos += length;
  };
  const ids = (traceField: number, spanFields: readonly number[]) => (field: number, wireType: number): boolean => {
    if (wireType !== 2) return false;
    if (field === traceField) idAt(traceIdOffsets, 16);
    else if (spanFields.includes(field)) idAt(spanIdOffsets, 8);
    else return false;
    return true;
  };
  const linkIds = ids(1, [2]);
  const spanIds = ids(1, [2, 4]);
  const span = (field: number, wireType: number): boolean => {
    if (field === 13 && wireType === 2) {
      nested(linkIds);
      return true;
    }
    return spanIds(field, wireType);
  };
  const scopeSpans = (field: number, wireType: number): boolean => field === 2 && wireType === 2 && (nested(span), true);
  const resourceSpans = (field: number, wireType: number): boolean => field === 2 && wireType === 2 && (nested(scopeSpans), true);
  within(r.len, (field, wireType) => field === 1 && wireType === 2 && (nested(resourceSpans), true));
  return { traceIdOffsets, spanIdOffsets };
}
