/**
 * Where the spans of recently built traces went, so that a span arriving after its trace was built
 * (a slow SDK batch, a retry) is recognised as a duplicate, its parent is not reported missing, and
 * its segment gets a ref to the right parent segment.
 *
 * Every span passes through here and stays a while (`flushed_index_size` spans, the oldest traces
 * leaving first), so this is the largest long-lived structure after the held spans themselves. A
 * trace is kept compact: its span ids in one array, one record per segment, and per span a segment
 * index, a span number and a peer; a placement object is made only when a late span asks for one,
 * which is rare. Against a Map entry and a placement object per span this costs no more CPU and
 * keeps 25–40 MiB less heap at the benchmark's rate (bench/README.md, "Stage costs").
 */
import type { KnownSpans } from '../traces/trace-buffer.ts';
import type { SpanPlacement } from './segment-builder.ts';

/** What the spans of one segment share. */
interface SegmentRecord {
  traceId: string;
  segmentId: string;
  service: string;
  serviceInstance: string;
  instanceKey: string;
  endpoint: string;
}

/** Past this many spans a trace gets a Map for its lookups instead of a linear scan. */
const SCAN_LIMIT = 32;

/** The spans of one trace that were built, and where each one went. */
export class FlushedTrace implements KnownSpans {
  readonly #spanIds: string[] = [];
  /** Per span: the index of its segment in #segments. */
  readonly #segmentOf: number[] = [];
  /** Per span: its SkyWalking span number n, stored as -n - 1 for an Exit span. */
  readonly #numberOf: number[] = [];
  /** Per span: its peer, '' for most spans (only Exit spans and MQ Entry spans have one). */
  readonly #peers: string[] = [];
  readonly #segments: SegmentRecord[] = [];
  /** span id → position, built on the first lookup once the trace is larger than SCAN_LIMIT. */
  #positions: Map<string, number> | undefined;

  get size(): number {
    return this.#spanIds.length;
  }

  has(spanId: string): boolean {
    return this.#position(spanId) >= 0;
  }

  get(spanId: string): SpanPlacement | undefined {
    const i = this.#position(spanId);
    if (i < 0) return undefined;
    const s = this.#segments[this.#segmentOf[i]!]!;
    const n = this.#numberOf[i]!;
    return {
      traceId: s.traceId,
      segmentId: s.segmentId,
      spanId: n < 0 ? -n - 1 : n,
      service: s.service,
      serviceInstance: s.serviceInstance,
      instanceKey: s.instanceKey,
      endpoint: s.endpoint,
      peer: this.#peers[i]!,
      isExit: n < 0,
    };
  }

  /** Adds the placements of one build; a span id already here takes its new placement. Returns the spans added. */
  add(placements: ReadonlyMap<string, SpanPlacement>): number {
    let added = 0;
    // A trace's first build (nearly every trace has only one) cannot repeat an id: the placements
    // are a Map's entries. Only a later build needs each id looked up.
    const merging = this.size > 0;
    let last: SpanPlacement | undefined;
    let segment = -1;
    for (const [spanId, p] of placements) {
      // The builder lists a segment's placements together, and they share every segment field.
      if (last === undefined || !sameSegment(p, last)) {
        segment = this.#segments.length;
        this.#segments.push({
          traceId: p.traceId,
          segmentId: p.segmentId,
          service: p.service,
          serviceInstance: p.serviceInstance,
          instanceKey: p.instanceKey,
          endpoint: p.endpoint,
        });
        last = p;
      }
      const number = p.isExit ? -p.spanId - 1 : p.spanId;
      const at = merging ? this.#position(spanId) : -1;
      if (at >= 0) {
        this.#segmentOf[at] = segment;
        this.#numberOf[at] = number;
        this.#peers[at] = p.peer;
        continue;
      }
      this.#positions?.set(spanId, this.#spanIds.length);
      this.#spanIds.push(spanId);
      this.#segmentOf.push(segment);
      this.#numberOf.push(number);
      this.#peers.push(p.peer);
      added++;
    }
    return added;
  }

  #position(spanId: string): number {
    if (this.#positions === undefined) {
      if (this.#spanIds.length <= SCAN_LIMIT) return this.#spanIds.indexOf(spanId);
      this.#positions = new Map();
      this.#spanIds.forEach((id, i) => this.#positions!.set(id, i));
    }
    return this.#positions.get(spanId) ?? -1;
  }
}

function sameSegment(a: SpanPlacement, b: SpanPlacement): boolean {
  return (
    a.segmentId === b.segmentId &&
    a.traceId === b.traceId &&
    a.endpoint === b.endpoint &&
    a.instanceKey === b.instanceKey &&
    a.service === b.service &&
    a.serviceInstance === b.serviceInstance
  );
}

/** The flushed traces, bounded in spans; whole traces leave oldest first (a Map iterates in insertion order). */
export class FlushedSpanIndex {
  readonly #traces = new Map<string, FlushedTrace>();
  readonly #capacity: number;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Spans remembered. */
  get size(): number {
    return this.#size;
  }

  /** The spans of one trace, if any of them were built and are still remembered. */
  trace(traceId: string): FlushedTrace | undefined {
    return this.#traces.get(traceId);
  }

  get(traceId: string, spanId: string): SpanPlacement | undefined {
    return this.#traces.get(traceId)?.get(spanId);
  }

  has(traceId: string, spanId: string): boolean {
    return this.#traces.get(traceId)?.has(spanId) ?? false;
  }

  /** Remembers where the spans of one build of `traceId` went. */
  add(traceId: string, placements: ReadonlyMap<string, SpanPlacement>): void {
    if (this.#capacity === 0 || placements.size === 0) return;
    let known = this.#traces.get(traceId);
    if (known) this.#traces.delete(traceId); // late spans of a trace already here: it moves to the young end
    else known = new FlushedTrace();
    this.#size += known.add(placements);
    this.#traces.set(traceId, known);
    for (const [oldest, old] of this.#traces) {
      if (this.#size <= this.#capacity || oldest === traceId) break;
      this.#traces.delete(oldest);
      this.#size -= old.size;
    }
  }
}
