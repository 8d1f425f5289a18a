/**
 * One span id, several different spans: a client retried or fanned out under one span id and each
 * server joined it (B3 `shared`), a proxy and its app reported the same id, or a buggy tracer reused
 * ids. Only a span that really is the same (same ids, kind, name, times and process) is a duplicate
 * and dropped; any other span with a held span's id is kept under a derived id of its own, and
 * remembers the id it was sent with (`HeldSpan.reusedId`) so its children find it when segments
 * are built (segment-builder.ts, placeInParentProcess). docs/translation.md, "Joined and reused
 * span ids".
 */
import { createHash } from 'node:crypto';
import type { HeldSpan } from './segment-builder.ts';

/** True when `b` is a re-send of `a`, not another span that happens to have its id. */
export function sameSpan(a: HeldSpan, b: HeldSpan): boolean {
  const x = a.span;
  const y = b.span;
  return (
    x.parentSpanId === y.parentSpanId &&
    x.kind === y.kind &&
    x.name === y.name &&
    x.startTimeUnixNano === y.startTimeUnixNano &&
    x.endTimeUnixNano === y.endTimeUnixNano &&
    a.identity.key === b.identity.key
  );
}

/**
 * The id a span gets when its own was taken: the first 8 bytes of sha256(trace id ‖ span id ‖
 * "reused" ‖ process ‖ start time), as hex. Derived, never random, so a re-send of the same span
 * gets the same id again and is then recognised as a duplicate.
 */
export function derivedSpanId(h: HeldSpan): string {
  const s = h.span;
  const digest = createHash('sha256').update(`${s.traceId}${s.spanId}reused${h.identity.key}${s.startTimeUnixNano}`).digest();
  if (digest.readBigUInt64BE(0) === 0n) digest[7] = 1;
  return digest.toString('hex', 0, 8);
}

/** `h` under its derived id, remembering the id it came with. */
export function withDerivedId(h: HeldSpan): HeldSpan {
  return { ...h, reusedId: h.span.spanId, span: { ...h.span, spanId: derivedSpanId(h) } };
}
