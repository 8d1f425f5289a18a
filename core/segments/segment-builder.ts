/**
 * Turns the spans of one trace into SkyWalking segments (docs/architecture.md "From spans to segments",
 * docs/translation.md). Pure: the same spans give
 * byte-identical segments whatever order or batches they arrived in, which is what lets a re-sent
 * trace be recognised downstream.
 *
 * - A segment is the spans of one trace in one service instance under one local root. A span is a
 *   local root when it has no parent, its parent is not held here, its parent is in another
 *   instance, its parent is remote (OTLP flags 0x300; without flags: a SERVER/CONSUMER span
 *   under a CLIENT/PRODUCER span, i.e. a process calling itself), or it starts after its parent
 *   ended (async work continued on another task: a CrossThread segment, as the agents make).
 * - Span 0 is the local root (parentSpanId -1). The others are numbered 1..n by (start, span id),
 *   except that a number the skybridge propagator already promised in an sw8 header (attribute
 *   `skybridge.sw.span_id`) is kept, so a SkyWalking agent's ref to it is right.
 * - A trace continued from a SkyWalking agent (tracestate entry `sw8`) keeps the agent's trace id,
 *   and its local root refs the agent's segment with the fields the agent sent.
 * - SERVER/CONSUMER → Entry only as span 0 (one Entry per segment, as the agents do; nested server
 *   spans become Local), and not when span 0's ref is CrossThread (a nested server that outlived
 *   its parent, or whose parent was flushed before: a Local head, so no Entry carries a
 *   CrossThread ref); CLIENT/PRODUCER → Exit; everything else Local. A CLIENT/PRODUCER span
 *   with no address of its own takes its peer from its server half in another process when the
 *   trace holds it (peerFromServerChild); only without either does it become Local.
 * - A segment holds at most `maxSegmentSpans` spans (the agents stop at 300 and lose the rest). A
 *   larger local tree is split (splitLocalTree): the spans that do not fit go to continuation
 *   segments, each headed by a Local span standing for their parent, with a CrossThread ref to it.
 *   Nothing is dropped, and no Entry span carries the ref, so the OAP draws no self-relation.
 * - The local root gets a ref to its parent span, found among this trace's spans or, for late
 *   spans, in the index of recently flushed spans, and one ref per span link whose target is known
 *   (batch consumers); links to the span itself or into its own segment are dropped (selfLinks).
 *   Cross-instance or remote parents give a CrossProcess ref whose
 *   networkAddressUsedAtPeer is byte-identical to the parent Exit's peer; same-process parents
 *   give CrossThread refs.
 */
import type { InstrumentationScope, Span } from '../model/span-batch.ts';
import { otelSpanIdFromSkyWalking, skyWalkingParentFromTracestate, SW_SPAN_ID_ATTRIBUTE, type SkyWalkingParent } from '../propagation/skywalking-continuation.ts';
import { SpanFlags, SpanKind } from '../model/span-batch.ts';
import { RefType, SpanLayer, SpanType, type AssembledSegment, type SegmentReference, type SpanObject } from './segment-object.ts';
import { translateSpan, type TranslatedSpan } from './semconv/translate-span.ts';
import { firstOf, hostPort } from './semconv/attribute-lookup.ts';
import type { ServiceIdentity } from './service-identity.ts';

export interface HeldSpan {
  span: Span;
  scope: InstrumentationScope;
  identity: ServiceIdentity;
  /** Date.now() when skybridge received it. */
  receivedAtMs: number;
  /**
   * The id the sender gave this span, when another span of the trace already had it and this one
   * was given a derived id (core/segments/reused-span-ids.ts).
   */
  reusedId?: string;
}

/** Where a span ended up: what a child in another segment needs to build its ref. */
export interface SpanPlacement {
  /** The SkyWalking trace id the span's segment was emitted with. */
  traceId: string;
  segmentId: string;
  spanId: number;
  service: string;
  serviceInstance: string;
  instanceKey: string;
  /** The segment's endpoint: span 0's operation name. */
  endpoint: string;
  /** The span's peer when it is an Exit span, else ''. */
  peer: string;
  isExit: boolean;
}

/** Finds where an already flushed span went; traceId differs from the trace built for span links. */
export type PlacementLookup = (traceId: string, otelSpanId: string) => SpanPlacement | undefined;

export interface BuildResult {
  segments: AssembledSegment[];
  /** OTel span id → placement, for every span built here. */
  placements: Map<string, SpanPlacement>;
  /** Local roots whose parent span was never seen: emitted without a ref. */
  orphanRefs: number;
  /** Span links dropped because they point at the span itself or at its own segment. */
  selfLinks: number;
}

/** Segment id: the local root's span id followed by the trace id (48 hex chars, deterministic). */
export function segmentIdFor(traceId: string, rootSpanId: string): string {
  return rootSpanId + traceId;
}

function isServerKind(kind: number): boolean {
  return kind === SpanKind.SERVER || kind === SpanKind.CONSUMER;
}
function isClientKind(kind: number): boolean {
  return kind === SpanKind.CLIENT || kind === SpanKind.PRODUCER;
}

/** The span's parent is in another process (flags when the SDK sets them, else span kinds). */
function isRemoteChild(h: HeldSpan, parentKind: number | undefined): boolean {
  if (h.span.flags & SpanFlags.CONTEXT_HAS_IS_REMOTE) return (h.span.flags & SpanFlags.CONTEXT_IS_REMOTE) !== 0;
  return isServerKind(h.span.kind) && (parentKind === undefined || isClientKind(parentKind));
}

/** Where a server span says it was reached: its own address attributes (current and pre-1.21 names). */
const SERVED_ADDRESS = ['server.address', 'net.host.name', 'http.host', 'host.name'] as const;
const SERVED_PORT = ['server.port', 'net.host.port'] as const;

/**
 * The peer of a CLIENT/PRODUCER span that names no address itself, read from its server half in
 * another process: that span's address attributes, else its service name (the OAP aliases the
 * name to the server through the child's ref, whose networkAddressUsedAtPeer is this same string).
 */
function peerFromServerChild(child: HeldSpan): string {
  const attrs = child.span.attributes;
  return hostPort(firstOf(attrs, SERVED_ADDRESS), firstOf(attrs, SERVED_PORT)) || child.identity.service;
}

/** The SkyWalking agent span this span's remote parent stands for, per the continuation contract. */
export function skyWalkingParentOf(h: HeldSpan): SkyWalkingParent | undefined {
  if (!h.span.parentSpanId || !h.span.traceState) return undefined;
  const sw = skyWalkingParentFromTracestate(h.span.traceState);
  if (!sw?.parentService) return undefined;
  return otelSpanIdFromSkyWalking(sw.parentSegmentId, sw.parentSpanId) === h.span.parentSpanId ? sw : undefined;
}

function refToSkyWalkingAgent(sw: SkyWalkingParent): SegmentReference {
  return {
    refType: RefType.CrossProcess,
    traceId: sw.traceId,
    parentTraceSegmentId: sw.parentSegmentId,
    parentSpanId: sw.parentSpanId,
    parentService: sw.parentService,
    parentServiceInstance: sw.parentServiceInstance,
    parentEndpoint: sw.parentEndpoint,
    networkAddressUsedAtPeer: sw.addressUsedAtClient,
  };
}

/**
 * Span numbers for one segment: the root is 0; numbers promised through sw8 (attribute
 * skybridge.sw.span_id) are kept when valid and unique; the rest take the smallest free numbers in
 * (start, span id) order.
 */
function numberSpans(root: HeldSpan, members: readonly HeldSpan[]): Map<string, number> {
  const ids = new Map<string, number>([[root.span.spanId, 0]]);
  let taken: Set<number> | undefined;
  for (const h of members) {
    const promised = h.span.attributes[SW_SPAN_ID_ATTRIBUTE];
    if (promised === undefined) continue;
    const n = typeof promised === 'bigint' ? Number(promised) : promised;
    taken ??= new Set<number>([0]);
    if (typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 2 ** 31 && !taken.has(n)) {
      ids.set(h.span.spanId, n);
      taken.add(n);
    }
  }
  let next = 1;
  if (taken === undefined) {
    // Nothing promised (spans not continued from the skybridge propagator): 1..n in member order.
    for (const h of members) ids.set(h.span.spanId, next++);
    return ids;
  }
  for (const h of members) {
    if (ids.has(h.span.spanId)) continue;
    while (taken.has(next)) next++;
    ids.set(h.span.spanId, next);
    taken.add(next);
  }
  return ids;
}

/** The segment's spans in span-number order; members come sorted, so only promised numbers reorder them. */
function inNumberOrder(root: HeldSpan, members: readonly HeldSpan[], intId: ReadonlyMap<string, number>): HeldSpan[] {
  const ordered = [root, ...members];
  for (let i = 1; i < ordered.length; i++) {
    if (intId.get(ordered[i]!.span.spanId) !== i) return ordered.sort((a, b) => intId.get(a.span.spanId)! - intId.get(b.span.spanId)!);
  }
  return ordered;
}

function byStartThenId(a: HeldSpan, b: HeldSpan): number {
  const d = a.span.startTimeUnixNano - b.span.startTimeUnixNano;
  if (d !== 0n) return d < 0n ? -1 : 1;
  return a.span.spanId < b.span.spanId ? -1 : a.span.spanId > b.span.spanId ? 1 : 0;
}

function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}

export interface BuildOptions {
  /** Most spans in one segment; a larger local tree is split (see the file comment). */
  maxSegmentSpans?: number;
}

interface Chunk {
  root: HeldSpan;
  members: HeldSpan[];
  /** For a continuation: the span id its synthetic root stands for, and which continuation of it this is. */
  standsFor?: string;
  n?: number;
}

/**
 * A Local span standing for `parent` at the head of a continuation segment: same name, a
 * CrossThread ref to `parent`, spanning the children it carries. Its id is derived from the
 * parent's, so the same spans always give the same segments.
 */
function continuationOf(parent: HeldSpan, n: number, members: readonly HeldSpan[]): HeldSpan {
  let start = members[0]!.span.startTimeUnixNano;
  let end = members[0]!.span.endTimeUnixNano;
  for (const m of members) {
    if (m.span.startTimeUnixNano < start) start = m.span.startTimeUnixNano;
    if (m.span.endTimeUnixNano > end) end = m.span.endTimeUnixNano;
  }
  return {
    ...parent,
    span: {
      ...parent.span,
      spanId: `${parent.span.spanId}-${n}`,
      parentSpanId: parent.span.spanId,
      kind: SpanKind.INTERNAL,
      flags: 0,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      attributes: {},
      droppedAttributesCount: 0,
      events: [],
      links: [],
      status: { code: 0, message: '' },
    },
  };
}

/**
 * Splits one local tree of more than `limit` spans into segments of at most `limit` spans. Walks
 * it depth first in (start, span id) order; a span joins the current segment while its parent is
 * there and there is room for its whole subtree (or, for a subtree larger than any segment, for the
 * span). Otherwise it opens a continuation segment headed by a Local span that stands for its
 * parent, and its later siblings join it there: a wide fan-out becomes a few full segments, not one
 * per child, and small subtrees are never cut.
 */
function splitLocalTree(root: HeldSpan, members: readonly HeldSpan[], limit: number, byId: Map<string, HeldSpan>): Chunk[] {
  const children = new Map<string, HeldSpan[]>();
  for (const h of [...members].sort(byStartThenId)) {
    let list = children.get(h.span.parentSpanId);
    if (!list) children.set(h.span.parentSpanId, (list = []));
    list.push(h);
  }
  // Subtree sizes, so a small subtree moves to the next segment whole instead of being cut.
  const subtree = new Map<string, number>();
  const order: HeldSpan[] = [];
  for (const pending = [root]; pending.length > 0; ) {
    const h = pending.pop()!;
    order.push(h);
    for (const kid of children.get(h.span.spanId) ?? []) pending.push(kid);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const h = order[i]!;
    let size = 1;
    for (const kid of children.get(h.span.spanId) ?? []) size += subtree.get(kid.span.spanId)!;
    subtree.set(h.span.spanId, size);
  }
  const first: Chunk = { root, members: [] };
  const chunks: Chunk[] = [first];
  const chunkOf = new Map<string, Chunk>([[root.span.spanId, first]]);
  const continuations = new Map<string, number>();
  let current = first;
  const stack = [...(children.get(root.span.spanId) ?? [])].reverse();
  while (stack.length > 0) {
    const h = stack.pop()!;
    const parentId = h.span.parentSpanId;
    const parentHere = chunkOf.get(parentId) === current || current.standsFor === parentId;
    const size = subtree.get(h.span.spanId)!;
    // Room for the whole subtree, or (a subtree too big for any segment) for the span itself.
    const fits = current.members.length + 1 + (size < limit ? size : 1) <= limit;
    if (parentHere && fits) {
      current.members.push(h);
    } else {
      const n = (continuations.get(parentId) ?? 0) + 1;
      continuations.set(parentId, n);
      // The head is filled in once the chunk is complete (its times span its members).
      current = { root: byId.get(parentId)!, members: [h], standsFor: parentId, n };
      chunks.push(current);
    }
    chunkOf.set(h.span.spanId, current);
    const kids = children.get(h.span.spanId);
    if (kids) for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  }
  for (const chunk of chunks) {
    if (chunk.standsFor === undefined) continue;
    chunk.root = continuationOf(byId.get(chunk.standsFor)!, chunk.n!, chunk.members);
    byId.set(chunk.root.span.spanId, chunk.root);
  }
  return chunks;
}

/**
 * Every span that is not a SERVER/CONSUMER runs in its parent's process. Two kinds of input break
 * that, and this pass repairs them before segments are cut (docs/translation.md, "Joined and
 * reused span ids"):
 *
 * - A span whose parent is in another process, while the trace holds a span of its own process
 *   that stands for that parent: the server half of a joined (B3 `shared`) span whose children
 *   kept the client's id (they arrived before it, or the Zipkin receiver could not tell they were
 *   its children), or a span given a derived id because it reused the parent's id. Its parent
 *   becomes that span; with several, the one whose time range holds the span's start.
 * - A span that names no service (`identity.anonymous`), or no instance of its parent's service
 *   (`identity.instanceUnknown`): it takes the process of its parent as placed by the first rule,
 *   so it joins that process's segment instead of forming a service called `unknown_service` or
 *   an instance called `unknown_instance`. A Zipkin server half's children recorded without a
 *   local endpoint land in the server's segment, not the client's.
 *
 * SERVER/CONSUMER spans, and spans whose parent is not held, stay as they are. Returns the spans
 * with replacements (new HeldSpan objects; the input is never modified).
 */
function placeInParentProcess(spans: readonly HeldSpan[], byId: Map<string, HeldSpan>, serverChildren: ReadonlyMap<string, HeldSpan[]>): HeldSpan[] {
  let reusers: Map<string, HeldSpan[]> | undefined;
  for (const h of spans) {
    if (h.reusedId === undefined) continue;
    reusers ??= new Map();
    const list = reusers.get(h.reusedId);
    if (list) list.push(h);
    else reusers.set(h.reusedId, [h]);
  }
  // Well-formed traces (every OTel SDK's) have nothing to repair: checked without allocating.
  if (reusers === undefined && !spans.some((h) => needsPlacing(h, byId))) return spans as HeldSpan[];

  const placed = new Map<string, HeldSpan>();
  const visiting = new Set<string>();
  const place = (h: HeldSpan): HeldSpan => {
    const id = h.span.spanId;
    const done = placed.get(id);
    if (done) return done;
    if (isServerKind(h.span.kind) || !h.span.parentSpanId || visiting.has(id)) return h;
    const parent = byId.get(h.span.parentSpanId);
    if (!parent) return h;
    visiting.add(id);
    let parentPlaced = place(parent);
    const reusedParent = reusers?.get(parent.span.spanId);
    // A retry to the same process: the span that reused the id, when it, not the first, was running.
    const outsideParent = reusedParent !== undefined && !holdsStartOf(parentPlaced, h);
    if (parentPlaced.identity.key !== h.identity.key || outsideParent) {
      const standIn = standInFor(h, [...(serverChildren.get(parent.span.spanId) ?? []), ...(reusedParent ?? [])]);
      if (standIn) parentPlaced = place(standIn);
    }
    visiting.delete(id);
    const parentId = parentPlaced.span.spanId;
    const identity = belongsWith(h, parentPlaced) && h.identity.key !== parentPlaced.identity.key && (h.identity.anonymous || h.identity.instanceUnknown) ? parentPlaced.identity : h.identity;
    const result = parentId === h.span.parentSpanId && identity === h.identity ? h : { ...h, identity, span: { ...h.span, parentSpanId: parentId } };
    placed.set(id, result);
    return result;
  };
  return spans.map(place);
}

/** `c` may be in `h`'s process: the same one, or `h` does not say which (no service, or no instance of the same service). */
function belongsWith(h: HeldSpan, c: HeldSpan): boolean {
  const a = h.identity;
  const b = c.identity;
  return a.key === b.key || a.anonymous || (a.instanceUnknown && a.service === b.service);
}

function needsPlacing(h: HeldSpan, byId: ReadonlyMap<string, HeldSpan>): boolean {
  if (h.identity.anonymous || h.identity.instanceUnknown) return true;
  if (isServerKind(h.span.kind) || !h.span.parentSpanId) return false;
  const parent = byId.get(h.span.parentSpanId);
  return parent !== undefined && parent.identity.key !== h.identity.key;
}

function holdsStartOf(parent: HeldSpan, h: HeldSpan): boolean {
  return parent.span.startTimeUnixNano <= h.span.startTimeUnixNano && h.span.startTimeUnixNano <= parent.span.endTimeUnixNano;
}

/** Of the spans that could stand for `h`'s parent, one in `h`'s process whose time range holds its start. */
function standInFor(h: HeldSpan, candidates: readonly HeldSpan[]): HeldSpan | undefined {
  let best: HeldSpan | undefined;
  for (const c of candidates) {
    if (c === h || !belongsWith(h, c)) continue;
    if (holdsStartOf(c, h)) return c;
    // Else the latest that started before it (clocks of two hosts may disagree a little).
    if (!best || (c.span.startTimeUnixNano <= h.span.startTimeUnixNano && c.span.startTimeUnixNano > best.span.startTimeUnixNano)) best = c;
  }
  return best;
}

export function buildSegments(traceId: string, heldSpans: readonly HeldSpan[], lookup: PlacementLookup, options: BuildOptions = {}): BuildResult {
  const byId = new Map<string, HeldSpan>();
  for (const h of heldSpans) byId.set(h.span.spanId, h);

  // Server halves of client spans: SERVER/CONSUMER children of a CLIENT/PRODUCER span in another process.
  const serverChildren = new Map<string, HeldSpan[]>();
  for (const h of heldSpans) {
    if (!isServerKind(h.span.kind) || !h.span.parentSpanId) continue;
    const parent = byId.get(h.span.parentSpanId);
    if (!parent || !isClientKind(parent.span.kind)) continue;
    if (parent.identity.key === h.identity.key && !isRemoteChild(h, parent.span.kind)) continue;
    const list = serverChildren.get(parent.span.spanId);
    if (list) list.push(h);
    else serverChildren.set(parent.span.spanId, [h]);
  }
  const spans = placeInParentProcess(heldSpans, byId, serverChildren);
  if (spans !== heldSpans) for (const h of spans) byId.set(h.span.spanId, h);

  // Client spans whose server half is in this trace: the child's address stands in when the
  // client span records none. The earliest child wins.
  const serverChildOf = new Map<string, HeldSpan>();
  for (const [clientId, children] of serverChildren) {
    let first = children[0]!;
    for (const c of children) if (byStartThenId(c, first) < 0) first = c;
    serverChildOf.set(clientId, first);
  }

  const isLocalRoot = (h: HeldSpan): boolean => {
    const parentId = h.span.parentSpanId;
    if (!parentId) return true;
    const parent = byId.get(parentId);
    if (!parent || parent.identity.key !== h.identity.key) return true;
    if (isRemoteChild(h, parent.span.kind)) return true;
    return h.span.startTimeUnixNano > parent.span.endTimeUnixNano;
  };

  // Nearest local-root ancestor of every span (memoised; a parent cycle in bad input ends at a root).
  const rootOf = new Map<string, string>();
  const resolveRoot = (start: HeldSpan): string => {
    const path: string[] = [];
    const seen = new Set<string>();
    let h = start;
    let root: string;
    for (;;) {
      const known = rootOf.get(h.span.spanId);
      if (known !== undefined) {
        root = known;
        break;
      }
      if (isLocalRoot(h) || seen.has(h.span.spanId)) {
        root = h.span.spanId;
        break;
      }
      seen.add(h.span.spanId);
      path.push(h.span.spanId);
      h = byId.get(h.span.parentSpanId)!;
    }
    rootOf.set(root, root);
    for (const id of path) rootOf.set(id, root);
    return root;
  };

  const groups = new Map<string, HeldSpan[]>();
  for (const h of spans) {
    const root = resolveRoot(h);
    let g = groups.get(root);
    if (!g) groups.set(root, (g = []));
    if (h.span.spanId !== root) g.push(h);
  }
  const maxSegmentSpans = options.maxSegmentSpans ?? Number.POSITIVE_INFINITY;
  /** Heads of continuation segments: not real spans, so never in the placement index. */
  const synthetic = new Set<string>();
  for (const [rootId, members] of [...groups]) {
    if (members.length + 1 <= maxSegmentSpans) continue;
    for (const chunk of splitLocalTree(byId.get(rootId)!, members, maxSegmentSpans, byId)) {
      groups.set(chunk.root.span.spanId, chunk.members);
      if (chunk.standsFor !== undefined) synthetic.add(chunk.root.span.spanId);
    }
  }

  // Continuation segments last, in the order they were cut, so each head's parent is built first.
  const roots = [...groups.keys()].filter((id) => !synthetic.has(id)).map((id) => byId.get(id)!).sort(byStartThenId);
  for (const id of synthetic) roots.push(byId.get(id)!);
  const placements = new Map<string, SpanPlacement>();
  const built: { root: HeldSpan; segment: AssembledSegment; rootTranslated: TranslatedSpan }[] = [];
  /** With continuation segments only: OTel span id → its SpanObject, to name the heads after their parents. */
  const realSpanObjects = new Map<string, SpanObject>();

  // One SkyWalking trace id for every segment of the trace: the agent's, when the trace continues one.
  let swTraceId = traceId;
  for (const h of spans) {
    const sw = h.span.traceState ? skyWalkingParentFromTracestate(h.span.traceState) : undefined;
    if (sw) {
      swTraceId = sw.traceId;
      break;
    }
  }

  for (const root of roots) {
    const members = groups.get(root.span.spanId)!.sort(byStartThenId);
    const segmentId = segmentIdFor(traceId, root.span.spanId);
    const intId = numberSpans(root, members);
    const ordered = inNumberOrder(root, members, intId);

    let receivedAtMs = root.receivedAtMs;
    let rootTranslated: TranslatedSpan | undefined;
    const spanObjects: SpanObject[] = ordered.map((h) => {
      if (h.receivedAtMs < receivedAtMs) receivedAtMs = h.receivedAtMs;
      const i = intId.get(h.span.spanId)!;
      const t = translateSpan(h.span, h.scope);
      if (i === 0) rootTranslated = t;
      let spanType: SpanType = SpanType.Local;
      let peer = t.peer;
      if (isClientKind(h.span.kind)) {
        spanType = SpanType.Exit;
        if (!peer) {
          const child = serverChildOf.get(h.span.spanId);
          if (child) peer = peerFromServerChild(child);
        }
      } else if (i === 0 && isServerKind(h.span.kind)) spanType = SpanType.Entry;
      // The OAP skips an Exit without a peer entirely; as Local it still shows in the trace.
      if (spanType === SpanType.Exit && !peer) spanType = SpanType.Local;
      const startTime = nsToMs(h.span.startTimeUnixNano);
      return {
        spanId: i,
        parentSpanId: i === 0 ? -1 : intId.get(h.span.parentSpanId) ?? 0,
        startTime,
        // Never before the start (a wall clock stepped back mid-span): the OAP would record a negative latency.
        endTime: Math.max(startTime, nsToMs(h.span.endTimeUnixNano)),
        refs: [],
        operationName: t.operationName,
        // Consumer Entry spans keep the broker as peer: the OAP names an MQ node after it when
        // the producer was not instrumented.
        peer: spanType === SpanType.Exit || (spanType === SpanType.Entry && t.layer === SpanLayer.MQ) ? peer : '',
        spanType,
        spanLayer: t.layer,
        componentId: t.componentId,
        isError: t.isError,
        tags: t.tags,
        logs: t.logs,
        skipAnalysis: false,
      };
    });

    if (synthetic.size > 0 && synthetic.has(root.span.spanId)) {
      // A continuation head reads as its parent does in the trace view.
      const parent = realSpanObjects.get(root.span.parentSpanId);
      if (parent) spanObjects[0]!.operationName = parent.operationName;
    }
    const endpoint = spanObjects[0]!.operationName;
    ordered.forEach((h, index) => {
      const so = spanObjects[index]!;
      if (synthetic.size > 0) {
        if (index === 0 && synthetic.has(h.span.spanId)) return;
        realSpanObjects.set(h.span.spanId, so);
      }
      placements.set(h.span.spanId, {
        traceId: swTraceId,
        segmentId,
        spanId: so.spanId,
        service: h.identity.service,
        serviceInstance: h.identity.serviceInstance,
        instanceKey: h.identity.key,
        endpoint,
        peer: so.peer,
        isExit: so.spanType === SpanType.Exit,
      });
    });

    built.push({
      root,
      rootTranslated: rootTranslated!,
      segment: {
        receivedAtMs,
        segment: {
          traceId: swTraceId,
          traceSegmentId: segmentId,
          spans: spanObjects,
          service: root.identity.service,
          serviceInstance: root.identity.serviceInstance,
          isSizeLimited: false,
        },
      },
    });
  }

  let orphanRefs = 0;
  let selfLinks = 0;
  for (const { root, segment, rootTranslated } of built) {
    const refs = segment.segment.spans[0]!.refs;
    const refTo = (parent: SpanPlacement, remote: boolean): SegmentReference => {
      const crossProcess = remote || parent.instanceKey !== root.identity.key;
      return {
        refType: crossProcess ? RefType.CrossProcess : RefType.CrossThread,
        traceId: parent.traceId,
        parentTraceSegmentId: parent.segmentId,
        parentSpanId: parent.spanId,
        parentService: parent.service,
        parentServiceInstance: parent.serviceInstance,
        parentEndpoint: parent.endpoint,
        networkAddressUsedAtPeer: parent.isExit ? parent.peer : crossProcess ? rootTranslated.calledAddress : '',
      };
    };
    const parentId = root.span.parentSpanId;
    if (parentId) {
      const parent = placements.get(parentId) ?? lookup(traceId, parentId);
      // Never send a ref with an empty parentService: the OAP would invent a service named `_blank`.
      const sw = parent ? undefined : skyWalkingParentOf(root);
      if (parent?.service) {
        // A parent flushed earlier is known by its placement only: an Exit stands for a CLIENT; a
        // non-Exit of this very instance is a span of this process (a nested server whose outer
        // server was already sent), so without flags the child is not remote: a CrossThread ref,
        // not a CrossProcess self-loop to an Entry.
        const parentKind = byId.get(parentId)?.span.kind
          ?? (parent.isExit ? SpanKind.CLIENT : parent.instanceKey === root.identity.key ? SpanKind.INTERNAL : undefined);
        refs.push(refTo(parent, isRemoteChild(root, parentKind)));
      } else if (sw) {
        refs.push(refToSkyWalkingAgent(sw));
      } else {
        orphanRefs++;
      }
    }
    // One Entry per segment, and never one carrying a CrossThread ref (the OAP reads Entry refs as
    // service relations: a self-loop). A SERVER/CONSUMER local root with a same-process parent
    // (a nested server or consumer that started after its parent ended, or whose parent was
    // already flushed) heads its segment as a Local span, as the agents' async segments do.
    const head = segment.segment.spans[0]!;
    if (head.spanType === SpanType.Entry && refs.some((r) => r.refType === RefType.CrossThread)) {
      head.spanType = SpanType.Local;
      head.peer = '';
      const placed = placements.get(root.span.spanId);
      if (placed) placed.peer = '';
    }
    // Span links (a batch consumer's messages, fan-in jobs) become further refs where the linked
    // span is known; SkyWalking agents do the same for batch MQ consumption.
    // A link to the span itself, or to another span of its own segment, would make the segment
    // ref itself: dropped and counted.
    for (const link of root.span.links) {
      if (link.spanId === parentId && link.traceId === traceId) continue;
      if (link.spanId === root.span.spanId && link.traceId === root.span.traceId) {
        selfLinks++;
        continue;
      }
      const target = link.traceId === traceId ? placements.get(link.spanId) ?? lookup(traceId, link.spanId) : lookup(link.traceId, link.spanId);
      if (!target?.service) continue;
      if (target.segmentId === segment.segment.traceSegmentId) {
        selfLinks++;
        continue;
      }
      if (refs.some((r) => r.parentTraceSegmentId === target.segmentId && r.parentSpanId === target.spanId)) continue;
      refs.push(refTo(target, target.isExit || isServerKind(root.span.kind)));
    }
  }

  return { segments: built.map((b) => b.segment), placements, orphanRefs, selfLinks };
}
