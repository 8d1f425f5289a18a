/**
 * Decodes attribute keys through a small cache keyed by their bytes. The same few dozen keys
 * (`http.request.method`, `service.name`, ...) repeat on every span, and decoding plus internalising
 * each occurrence was the largest single cost of protobuf decoding; a hit costs one hash and one
 * byte comparison and returns a string V8 has already internalised.
 */

/** Slots in the cache; a power of two. A collision only costs a re-decode, never a wrong key. */
const SLOTS = 1024;
/** Longer keys are rare and decoded directly, which keeps the cache's memory bounded. */
const MAX_KEY_BYTES = 64;

/** A direct-mapped cache of UTF-8 byte strings to JS strings. */
export class KeyCache {
  readonly #bytes: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(SLOTS).fill(undefined);
  readonly #strings: string[] = new Array<string>(SLOTS).fill('');

  /** The string for `buf[start, end)`, decoded as UTF-8. */
  read(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > MAX_KEY_BYTES || length === 0) return buf.toString('utf8', start, end);
    // FNV-1a over the bytes.
    let h = 0x811c9dc5 ^ length;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h >>> 0) & (SLOTS - 1);
    const cached = this.#bytes[slot];
    if (cached !== undefined && cached.length === length) {
      let i = 0;
      while (i < length && cached[i] === buf[start + i]) i++;
      if (i === length) return this.#strings[slot]!;
    }
    const s = buf.toString('utf8', start, end);
    this.#bytes[slot] = new Uint8Array(buf.subarray(start, end)); // a copy: the request buffer must not be pinned
    this.#strings[slot] = s;
    return s;
  }
}
