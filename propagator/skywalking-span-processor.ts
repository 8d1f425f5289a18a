/**
 * Numbers spans the way skybridge's assembler numbers them inside a SkyWalking segment, at the
 * moment they start, so the propagator can promise a SkyWalking agent downstream the segment id
 * and span id its ref will point at (core/propagation/skywalking-continuation.ts).
 *
 * The rule is core/segments/segment-builder.ts's: a span starts a new segment (it is a local root,
 * number 0) when it has no parent, its parent is remote, its parent is not a span of this
 * process that the SDK records (a non-recording or foreign parent is never exported, so the
 * assembler never holds it), its parent belongs to another service instance, or it starts after
 * its parent ended. Every other span takes the next number (1, 2, ...) of its parent's local root,
 * in start order. Each span gets its number in the attribute `skybridge.sw.span_id` at start, and
 * the assembler uses that number, so both sides agree whatever order spans are exported in.
 */
import type { Context, HrTime } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SW_SPAN_ID_ATTRIBUTE } from '../core/propagation/skywalking-continuation.ts';
import type { ServiceIdentity } from '../core/segments/service-identity.ts';
import { serviceIdentityOf } from './model-span.ts';

/** The local root of a segment as it is being built in this process. */
export interface LocalRoot {
  readonly traceId: string;
  readonly spanId: string;
  /** The root span itself, live: its name and attributes are read when a child injects. */
  readonly span: ReadableSpan;
  readonly identity: ServiceIdentity;
  /** The number the next span of this segment gets. */
  next: number;
}

/** Where a span sits in the segment skybridge will build. */
export interface SegmentPosition {
  readonly root: LocalRoot;
  /** 0 for the local root, then 1, 2, ... in start order. */
  readonly spanNumber: number;
}

export interface SkyWalkingSpanProcessorOptions {
  /**
   * How many ended spans to remember, so a child that starts with an explicit start time inside
   * its parent's lifetime still joins the parent's segment after the parent ended. Default 10000.
   */
  recentlyEndedSpans?: number;
}

interface Tracked {
  position: SegmentPosition;
  endTime?: HrTime;
}

// Shared by every processor instance: the propagator finds a span's position from the span
// object alone, whichever provider started it.
const positions = new WeakMap<object, SegmentPosition>();

/** The segment position the processor gave `span`; undefined for spans it never saw start. */
export function segmentPositionOf(span: object): SegmentPosition | undefined {
  return positions.get(span);
}

function after(a: HrTime, b: HrTime): boolean {
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

export class SkyWalkingSpanProcessor implements SpanProcessor {
  readonly #open = new Map<string, Tracked>();
  readonly #ended = new Map<string, Tracked>();
  readonly #maxEnded: number;

  constructor(options: SkyWalkingSpanProcessorOptions = {}) {
    this.#maxEnded = Math.max(0, options.recentlyEndedSpans ?? 10_000);
  }

  /** Called by the SDK when a recording span starts; sets `skybridge.sw.span_id` on it. */
  onStart(span: Span, _parentContext: Context): void {
    const ctx = span.spanContext();
    const identity = serviceIdentityOf(span.resource);
    const parent = span.parentSpanContext;
    let position: SegmentPosition | undefined;
    if (parent && !parent.isRemote && parent.traceId === ctx.traceId) {
      const key = parent.traceId + parent.spanId;
      const tracked = this.#open.get(key) ?? this.#ended.get(key);
      const parentRoot = tracked?.position.root;
      const startedInTime = tracked?.endTime === undefined || !after(span.startTime, tracked.endTime);
      if (parentRoot && startedInTime && parentRoot.identity.key === identity.key) {
        position = { root: parentRoot, spanNumber: parentRoot.next++ };
      }
    }
    position ??= { root: { traceId: ctx.traceId, spanId: ctx.spanId, span, identity, next: 1 }, spanNumber: 0 };
    span.setAttribute(SW_SPAN_ID_ATTRIBUTE, position.spanNumber);
    positions.set(span, position);
    this.#open.set(ctx.traceId + ctx.spanId, { position });
  }

  onEnd(span: ReadableSpan): void {
    const ctx = span.spanContext();
    const key = ctx.traceId + ctx.spanId;
    const tracked = this.#open.get(key);
    if (!tracked) return;
    this.#open.delete(key);
    if (this.#maxEnded === 0) return;
    tracked.endTime = span.endTime;
    this.#ended.set(key, tracked);
    // Map iteration is insertion order: the first key is the longest ended.
    if (this.#ended.size > this.#maxEnded) this.#ended.delete(this.#ended.keys().next().value!);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.#open.clear();
    this.#ended.clear();
    return Promise.resolve();
  }
}
