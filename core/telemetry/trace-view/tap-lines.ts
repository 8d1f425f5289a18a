/** What `skybridge tap` prints of one build: its segments, or with `spans` its source spans, as JSON lines. */
import { sourceSpanJson, toJson } from './trace-json.ts';
import type { RecordedFlush } from './trace-recorder.ts';

export interface TapOptions {
  /** Source spans instead of segments. */
  spans: boolean;
  service?: string;
}

export function tapLines(flush: RecordedFlush, options: TapOptions): string[] {
  const { service } = options;
  if (options.spans) {
    return flush.held
      .filter((h) => service === undefined || h.identity.service === service)
      .map((h) => toJson(sourceSpanJson(h, flush.placements.get(h.span.spanId))));
  }
  return flush.segments.filter((s) => service === undefined || s.segment.service === service).map((s) => toJson(s.segment));
}
