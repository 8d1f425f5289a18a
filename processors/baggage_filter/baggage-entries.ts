/**
 * Finds the baggage entries a span carries and returns the span without them. Entries reach spans
 * in three shapes:
 * - attributes under a prefix: `baggage.<key>`, `sw8.correlation.<key>` (attribute_prefixes);
 * - attributes under the baggage key itself, as OpenTelemetry's BaggageSpanProcessor copies them
 *   (attribute_keys names them, since nothing else tells them from ordinary attributes);
 * - span events named `baggage` with `key` and `value`: jaeger-client logs every setBaggageItem
 *   this way (baggage_setter.js: fields event=baggage, key, value, and override / truncated /
 *   invalid flags). Zipkin has no standard form.
 */
import { attributeText } from '../../core/segments/service-identity.ts';
import type { Attributes, Span, SpanEvent } from '../../core/model/span-batch.ts';
import type { KeyMatcher } from './key-pattern.ts';

export interface BaggageEntry {
  key: string;
  value: string;
  /** jaeger-client cut the value (`truncated: "true"`): not a whole entry. */
  truncated: boolean;
}

export interface EntrySources {
  prefixes: readonly string[];
  asIsKeys: KeyMatcher;
}

const JAEGER_BAGGAGE_EVENT = 'baggage';

/**
 * The span's entries, and a copy of the span without them, with its own attribute map (the
 * original is left untouched, since other branches of a fan-out may hold it). Undefined when the
 * span carries none.
 */
export function takeEntries(span: Span, sources: EntrySources): { entries: BaggageEntry[]; span: Span } | undefined {
  let entries: BaggageEntry[] | undefined;
  let attributes: Attributes | undefined;
  for (const attr of Object.keys(span.attributes)) {
    const key = baggageKeyOf(attr, sources);
    if (key === undefined) continue;
    entries ??= [];
    entries.push({ key, value: attributeText(span.attributes[attr]), truncated: false });
    attributes ??= { ...span.attributes };
    delete attributes[attr];
  }
  let events: SpanEvent[] | undefined;
  if (span.events.some((e) => e.name === JAEGER_BAGGAGE_EVENT)) {
    events = [];
    for (const e of span.events) {
      if (e.name !== JAEGER_BAGGAGE_EVENT) {
        events.push(e);
        continue;
      }
      const key = e.attributes.key;
      // invalid=true: jaeger's restriction manager refused the key, so it never joined the baggage.
      if (typeof key !== 'string' || key === '' || e.attributes.invalid === 'true') continue;
      entries ??= [];
      entries.push({ key, value: attributeText(e.attributes.value), truncated: e.attributes.truncated === 'true' });
    }
  }
  if (attributes === undefined && events === undefined) return undefined;
  // The copy always gets its own attribute map, so the caller may add tags to it.
  return { entries: entries ?? [], span: { ...span, attributes: attributes ?? { ...span.attributes }, events: events ?? span.events } };
}

function baggageKeyOf(attr: string, sources: EntrySources): string | undefined {
  for (const prefix of sources.prefixes) {
    if (attr.length > prefix.length && attr.startsWith(prefix)) return attr.slice(prefix.length);
  }
  return sources.asIsKeys(attr) ? attr : undefined;
}
