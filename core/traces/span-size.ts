/**
 * A cheap estimate of the heap a decoded span keeps alive, for byte budgets on buffers. It is not
 * the wire size: V8 objects, bigint times and two-byte string headers make a decoded span several
 * times larger than its OTLP encoding. The constants were fitted to the heap growth measured while
 * a TraceBuffer held 127k OTLP-decoded spans of the benchmark's traces (~0.9 KiB each, ~9.5
 * attributes); other shapes will be off by more. Read budgets as "about", not exact accounting.
 * Since the OTLP decoder shares repeated strings (core/model/string-cache.ts), the same spans
 * measure ~0.55 KiB each: the estimate now errs high, so byte budgets refuse early, never late.
 */
import type { AttributeValue, Attributes, Span } from '../model/span-batch.ts';

/** Span object, ids, status, empty arrays, bigint times, the buffer's entry and Map slot. */
const SPAN_BASE = 420;
/** Property slot of one attribute; V8 interns property keys, so key text is shared, not counted. */
const ATTRIBUTE_BASE = 24;
const EVENT_BASE = 120;
const LINK_BASE = 160;

function valueBytes(value: AttributeValue): number {
  switch (typeof value) {
    case 'string':
      return 16 + value.length;
    case 'number':
    case 'boolean':
      return 8;
    case 'bigint':
      return 24;
    default:
      if (value instanceof Uint8Array) return 64 + value.byteLength;
      if (Array.isArray(value)) {
        let n = 32;
        for (const v of value) n += valueBytes(v);
        return n;
      }
      return 32 + attributesBytes(value as Attributes);
  }
}

function attributesBytes(attributes: Attributes): number {
  let n = 0;
  for (const key in attributes) n += ATTRIBUTE_BASE + valueBytes(attributes[key]!);
  return n;
}

export function estimateSpanBytes(span: Span): number {
  let n = SPAN_BASE + span.name.length + span.traceState.length + span.status.message.length + attributesBytes(span.attributes);
  for (const event of span.events) n += EVENT_BASE + event.name.length + attributesBytes(event.attributes);
  for (const link of span.links) n += LINK_BASE + link.traceState.length + attributesBytes(link.attributes);
  return n;
}
