/**
 * Which worker owns a trace: the same answer from a trace id's bytes (the OTLP split, which never
 * decodes) and from its hex form (batches other receivers decoded), so every span of a trace meets
 * in one worker whatever protocol it came in on.
 *
 * The key is the id's last four bytes: the random part of every id scheme in use (W3C Level 2 puts
 * its 56 random bits on the right; 64-bit Zipkin and Jaeger ids are zero-padded on the left; X-Ray
 * ids start with a timestamp). An id that is not 16 bytes goes to worker 0, whose decoder rejects it.
 */

/** Owner of a trace id given as 32 hex characters. */
export function ownerOfHexTraceId(traceId: string, workers: number): number {
  if (workers === 1 || traceId.length !== 32) return 0;
  return (Number.parseInt(traceId.slice(24, 32), 16) >>> 0) % workers;
}

/** Owner of the 16-byte trace id at `bytes[at .. at + 16)`. */
export function ownerOfTraceIdBytes(bytes: Uint8Array, at: number, workers: number): number {
  if (workers === 1) return 0;
  const key = ((bytes[at + 12]! << 24) | (bytes[at + 13]! << 16) | (bytes[at + 14]! << 8) | bytes[at + 15]!) >>> 0;
  return key % workers;
}
