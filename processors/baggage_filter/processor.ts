import type { ComponentSettings, Processor } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { setAttribute } from '../../core/model/attributes.ts';
import { SpanFlags, SpanKind, type ScopeSpans, type Span, type SpanBatch } from '../../core/model/span-batch.ts';
import { identifyService } from '../../core/segments/service-identity.ts';
import { takeEntries, type BaggageEntry, type EntrySources } from './baggage-entries.ts';
import type { BaggageFilterConfig } from './config.ts';
import { compileKeyPatterns, type KeyMatcher } from './key-pattern.ts';
import { compileValuePattern, type ValuePattern } from './redaction.ts';

export const MASK = '***';

/** Why an entry did not become a tag as it was. A closed set keeps the metric's labels bounded. */
export type BaggageDropReason = 'denied' | 'not_allowed' | 'too_long' | 'too_many' | 'key_conflict' | 'no_entry_span';

/** One span of the batch with what the filter needs to know about it. */
interface Node {
  span: Span;
  /** Where the span sits, so a copy can replace it. */
  ss: ScopeSpans;
  index: number;
  /** Service instance key: spans of one process share it. */
  process: string;
  entries: BaggageEntry[] | undefined;
  /** True once `span` is this filter's own copy, attributes included, safe to write to. */
  copied: boolean;
}

function isServerKind(kind: number): boolean {
  return kind === SpanKind.SERVER || kind === SpanKind.CONSUMER;
}
function isClientKind(kind: number): boolean {
  return kind === SpanKind.CLIENT || kind === SpanKind.PRODUCER;
}

/**
 * Moves baggage from wherever it sits on spans to tags on the entry span of each process: the
 * local root, whose parent is absent or remote (OTLP flags 0x300; without flags, a SERVER/CONSUMER
 * span whose parent is missing, a CLIENT/PRODUCER span, or in another process). That span becomes
 * span 0, the Entry span, of its SkyWalking segment. Raw entries leave every span, so what is
 * denied, too long, surplus or redacted by dropping is absent everywhere. Entries stay whole.
 * Ack point: it holds nothing; `consume` resolves when the next stage accepted the batch.
 */
export class BaggageFilterProcessor implements Processor {
  readonly mutatesData = true;
  readonly #settings: ComponentSettings;
  readonly #config: BaggageFilterConfig;
  readonly #next: TraceConsumer;
  readonly #sources: EntrySources;
  readonly #allowed: KeyMatcher | undefined;
  readonly #denied: KeyMatcher;
  readonly #secrets: readonly ValuePattern[];

  constructor(settings: ComponentSettings, config: BaggageFilterConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#config = config;
    this.#next = next;
    this.#sources = { prefixes: config.attribute_prefixes, asIsKeys: compileKeyPatterns(config.attribute_keys) };
    this.#allowed = config.allow_keys === undefined ? undefined : compileKeyPatterns(config.allow_keys);
    this.#denied = compileKeyPatterns(config.deny_keys);
    this.#secrets = config.redact_values.map(compileValuePattern);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  abandon(traceIds: ReadonlySet<string>): void {
    this.#next.abandon?.(traceIds);
  }
  holds(traceId: string): boolean {
    return this.#next.holds?.(traceId) === true;
  }


  consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    this.filter(batch);
    return this.#next.consume(batch, ctx);
  }

  /** Rewrites the batch in place: spans that change are replaced by copies. */
  filter(batch: SpanBatch): void {
    // Fast path: most batches carry no baggage; only they pay for the trace index below.
    const found: Node[] = [];
    for (const rs of batch.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (let i = 0; i < ss.spans.length; i++) {
          const taken = takeEntries(ss.spans[i]!, this.#sources);
          if (taken === undefined) continue;
          ss.spans[i] = taken.span;
          found.push({ span: taken.span, ss, index: i, process: '', entries: taken.entries, copied: true });
        }
      }
    }
    if (found.length === 0) return;
    const traces = this.#index(batch, found);

    // Entries per entry span: the root's own first, then its descendants' in batch order; the
    // first value seen for a key wins.
    const perRoot = new Map<Node, Map<string, BaggageEntry>>();
    const orphans = new Map<string, Set<string>>();
    for (const node of found) {
      const nodes = traces.get(node.span.traceId)!;
      const root = localRoot(node, nodes);
      if (root === undefined) {
        const seen = orphans.get(node.span.traceId) ?? new Set<string>();
        for (const e of node.entries!) seen.add(`${node.process}\0${e.key}`);
        orphans.set(node.span.traceId, seen);
        continue;
      }
      let entries = perRoot.get(root);
      if (entries === undefined) {
        entries = new Map();
        for (const e of root.entries ?? []) if (!entries.has(e.key)) entries.set(e.key, e);
        perRoot.set(root, entries);
      }
      for (const e of node.entries!) if (!entries.has(e.key)) entries.set(e.key, e);
    }
    for (const [root, entries] of perRoot) this.#tag(root, entries.values());
    let orphaned = 0;
    for (const keys of orphans.values()) orphaned += keys.size;
    this.#count('dropped', 'no_entry_span', orphaned);
  }

  /** Every span of the traces that carry baggage, by trace id then span id. */
  #index(batch: SpanBatch, found: Node[]): Map<string, Map<string, Node>> {
    const traces = new Map<string, Map<string, Node>>();
    for (const node of found) traces.set(node.span.traceId, new Map());
    const foundBySpan = new Map<Span, Node>(found.map((n) => [n.span, n]));
    for (const rs of batch.resourceSpans) {
      const process = identifyService(rs.resource.attributes).key;
      for (const ss of rs.scopeSpans) {
        for (let i = 0; i < ss.spans.length; i++) {
          const span = ss.spans[i]!;
          const nodes = traces.get(span.traceId);
          if (nodes === undefined) continue;
          const node = foundBySpan.get(span) ?? { span, ss, index: i, process, entries: undefined, copied: false };
          node.process = process;
          nodes.set(span.spanId, node);
        }
      }
    }
    return traces;
  }

  /** Decides each entry and writes the survivors onto the entry span. */
  #tag(root: Node, entries: Iterable<BaggageEntry>): void {
    const { max_entries: maxEntries, max_value_length: maxBytes, tag_prefix: prefix, redaction } = this.#config;
    let tags = 0;
    for (const entry of entries) {
      if (this.#denied(entry.key)) {
        this.#count('dropped', 'denied');
        continue;
      }
      if (this.#allowed !== undefined && !this.#allowed(entry.key)) {
        this.#count('dropped', 'not_allowed');
        continue;
      }
      // A value jaeger-client already cut is not a whole entry either.
      if (entry.truncated || Buffer.byteLength(entry.value, 'utf8') > maxBytes) {
        this.#count('dropped', 'too_long');
        continue;
      }
      let value = entry.value;
      const secret = this.#secrets.find((p) => p.test(value));
      if (secret !== undefined) {
        this.#count('redacted', secret.name);
        if (redaction === 'drop') continue;
        value = MASK;
      }
      if (tags >= maxEntries) {
        this.#count('dropped', 'too_many');
        continue;
      }
      const tagKey = prefix + entry.key;
      if (Object.hasOwn(root.span.attributes, tagKey)) {
        // The span's own attribute of that name is kept; baggage never overwrites span data.
        this.#count('dropped', 'key_conflict');
        continue;
      }
      setAttribute(writable(root).attributes, tagKey, value);
      tags++;
      if (secret === undefined) this.#count('kept', 'allowed');
    }
  }

  #count(outcome: 'kept' | 'redacted' | 'dropped', reason: string, n = 1): void {
    if (n > 0) this.#settings.metrics.baggageEntries.inc({ component: this.#settings.id, outcome, reason }, n);
  }
}

/** The node's span, copied on first write so spans shared with other branches stay untouched. */
function writable(node: Node): Span {
  if (!node.copied) {
    node.span = { ...node.span, attributes: { ...node.span.attributes } };
    node.ss.spans[node.index] = node.span;
    node.copied = true;
  }
  return node.span;
}

/** The span's local root within the batch, or undefined when its chain leaves the batch first. */
function localRoot(start: Node, nodes: Map<string, Node>): Node | undefined {
  let node = start;
  for (let hops = 0; hops < 10_000; hops++) {
    const { span } = node;
    if (span.parentSpanId === '') return node;
    if (span.flags & SpanFlags.CONTEXT_HAS_IS_REMOTE) {
      if (span.flags & SpanFlags.CONTEXT_IS_REMOTE) return node;
      const parent = nodes.get(span.parentSpanId);
      if (parent === undefined) return undefined;
      node = parent;
      continue;
    }
    const parent = nodes.get(span.parentSpanId);
    // Without flags, span kinds and processes tell where a process was entered.
    if (parent === undefined) return isServerKind(span.kind) ? node : undefined;
    if (parent.process !== node.process) return node;
    if (isServerKind(span.kind) && isClientKind(parent.span.kind)) return node;
    node = parent;
  }
  return undefined;
}
