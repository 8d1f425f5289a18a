/**
 * What the policies say about one trace, from its spans alone (so every replica holding the same
 * spans says the same): drop (a drop policy matched: it wins over everything), keep (must-keep: an
 * error, latency or keep policy matched, or an upstream sampled flag the user honours), or
 * candidate (only the budget decides).
 */
import type { AttributeValue, InstrumentationScope, Resource, Span } from '../../core/model/span-batch.ts';
import { SpanFlags, SpanKind, StatusCode } from '../../core/model/span-batch.ts';
import { skyWalkingParentFromTracestate, SW_TRACESTATE_KEY } from '../../core/propagation/skywalking-continuation.ts';
import { translateSpan } from '../../core/segments/semconv/translate-span.ts';
import { attributeText } from '../../core/segments/service-identity.ts';
import type { BufferedSpan, HeldTrace } from '../../core/traces/trace-buffer.ts';
import { FLAG_POLICY, type MatchConfig, type PolicyConfig, type TailSamplingConfig } from './config.ts';
import { compilePattern, type TextMatcher } from './pattern.ts';

/** A span as tail_sampling holds it: enough to evaluate policies and to pass it on unchanged. */
export interface SampledSpan extends BufferedSpan {
  readonly span: Span;
  readonly scope: InstrumentationScope;
  readonly resource: Resource;
  readonly resourceSchemaUrl: string;
  readonly scopeSchemaUrl: string;
}

export type Verdict = 'drop' | 'keep' | 'candidate';

export interface Classification {
  verdict: Verdict;
  /** The policy that decided a drop or keep (first in list order). */
  policy: string | undefined;
  /** Every policy that matched, for the per-policy metric. */
  matched: string[];
  /** Earliest span start, ms since the epoch: picks the trace's budget window. */
  startMs: number;
}

interface CompiledMatch {
  service: TextMatcher | undefined;
  endpoint: TextMatcher | undefined;
  attributes: [key: string, test: (value: AttributeValue) => boolean][];
}

type TraceTest = (spans: Iterable<SampledSpan>, facts: TraceFacts) => boolean;

interface CompiledPolicy {
  name: string;
  test: TraceTest;
}

interface TraceFacts {
  hasError: boolean;
  durationMs: number;
}

function compileMatch(m: MatchConfig): CompiledMatch {
  return {
    service: m.service === undefined ? undefined : compilePattern(m.service),
    endpoint: m.endpoint === undefined ? undefined : compilePattern(m.endpoint),
    attributes: Object.entries(m.attributes ?? {}).map(([key, want]) => {
      if (typeof want !== 'string') {
        const text = String(want);
        return [key, (value: AttributeValue) => attributeText(value) === text];
      }
      const test = compilePattern(want);
      return [key, (value: AttributeValue) => test(attributeText(value))];
    }),
  };
}

function serviceMatches(test: TextMatcher, resource: Resource): boolean {
  const name = attributeText(resource.attributes['service.name']);
  if (test(name)) return true;
  const namespace = attributeText(resource.attributes['service.namespace']);
  return namespace !== '' && test(`${namespace}::${name}`);
}

/** One span meets every condition; the endpoint (the costly one) is checked last. */
function spanMatches(m: CompiledMatch, s: SampledSpan): boolean {
  const span = s.span;
  if (m.endpoint && span.kind !== SpanKind.SERVER && span.kind !== SpanKind.CONSUMER) return false;
  if (m.service && !serviceMatches(m.service, s.resource)) return false;
  for (const [key, test] of m.attributes) {
    const value = span.attributes[key] ?? s.resource.attributes[key];
    if (value === undefined || !test(value)) return false;
  }
  if (m.endpoint && !m.endpoint(span.name) && !m.endpoint(translateSpan(span, s.scope).operationName)) return false;
  return true;
}

function compilePolicy(p: PolicyConfig): CompiledPolicy {
  switch (p.type) {
    case 'error':
      return { name: p.name, test: (_spans, facts) => facts.hasError };
    case 'latency': {
      const threshold = p.latency.threshold;
      return { name: p.name, test: (_spans, facts) => facts.durationMs >= threshold };
    }
    case 'keep':
    case 'drop': {
      const m = compileMatch(p.type === 'keep' ? p.keep : p.drop);
      return {
        name: p.name,
        test: (spans) => {
          for (const s of spans) if (spanMatches(m, s)) return true;
          return false;
        },
      };
    }
  }
}

export class PolicySet {
  readonly #drop: CompiledPolicy[];
  readonly #keep: CompiledPolicy[];
  readonly #honourW3c: boolean;
  readonly #honourSw8: boolean;

  constructor(config: Pick<TailSamplingConfig, 'policies' | 'honour_sampled_flag'>) {
    this.#drop = config.policies.filter((p) => p.type === 'drop').map(compilePolicy);
    this.#keep = config.policies.filter((p) => p.type !== 'drop').map(compilePolicy);
    this.#honourW3c = config.honour_sampled_flag === 'w3c' || config.honour_sampled_flag === 'both';
    this.#honourSw8 = config.honour_sampled_flag === 'sw8' || config.honour_sampled_flag === 'both';
  }

  classify(trace: HeldTrace<SampledSpan>): Classification {
    let minStart: bigint | undefined;
    let maxEnd: bigint | undefined;
    let hasError = false;
    let upstreamSampled = false;
    for (const { span } of trace.spans.values()) {
      if (minStart === undefined || span.startTimeUnixNano < minStart) minStart = span.startTimeUnixNano;
      if (maxEnd === undefined || span.endTimeUnixNano > maxEnd) maxEnd = span.endTimeUnixNano;
      if (span.status.code === StatusCode.ERROR) hasError = true;
      if (!upstreamSampled && (this.#honourW3c || this.#honourSw8)) upstreamSampled = this.#upstreamSampled(span, trace);
    }
    const startMs = minStart === undefined ? 0 : Number(minStart / 1_000_000n);
    const facts: TraceFacts = { hasError, durationMs: maxEnd === undefined || minStart === undefined ? 0 : Number(maxEnd - minStart) / 1e6 };

    const matched: string[] = [];
    let decider: string | undefined;
    for (const p of this.#drop) {
      if (p.test(trace.spans.values(), facts)) {
        matched.push(p.name);
        decider ??= p.name;
      }
    }
    if (decider !== undefined) return { verdict: 'drop', policy: decider, matched, startMs };
    for (const p of this.#keep) {
      if (p.test(trace.spans.values(), facts)) {
        matched.push(p.name);
        decider ??= p.name;
      }
    }
    if (upstreamSampled) {
      matched.push(FLAG_POLICY);
      decider ??= FLAG_POLICY;
    }
    return { verdict: decider === undefined ? 'candidate' : 'keep', policy: decider, matched, startMs };
  }

  /**
   * The span entered the trace from outside it and its caller had sampled: W3C (its parent is not
   * among the trace's spans and its flags carry the sampled bit) or sw8 (it continues a SkyWalking
   * trace whose sample flag is 1).
   */
  #upstreamSampled(span: Span, trace: HeldTrace<SampledSpan>): boolean {
    if (this.#honourW3c && span.parentSpanId !== '' && (span.flags & SpanFlags.SAMPLED) !== 0 && !trace.spans.has(span.parentSpanId)) return true;
    if (this.#honourSw8 && span.traceState.includes(`${SW_TRACESTATE_KEY}=`)) return skyWalkingParentFromTracestate(span.traceState)?.sampled === true;
    return false;
  }
}
