/**
 * Decodes short UTF-8 strings through a small cache keyed by their bytes, so that a string seen
 * over and over becomes one shared JS string instead of a fresh one per occurrence.
 *
 * Why: attribute keys (`http.request.method`, `service.name`, ...) repeat on every span, and most
 * short attribute values and span names repeat too (`GET`, `postgresql`, `/api/checkout`,
 * `GET /api/checkout`). Decoding each occurrence allocates a string that the trace assembler then
 * holds through a quiet period: it is copied by the young-generation GC, promoted, and marked
 * again by the old generation's. A hit costs one hash and one byte comparison and allocates
 * nothing. Measured in `npm run bench:stages` (bench/README.md, "Stage costs"): held heap per span
 * 925 → 766 bytes and 9% less CPU per span with values and names cached, not only keys.
 *
 * A string is stored only the second time its slot sees it (the slot remembers the hash of the
 * last miss). Values that never repeat (ids in URLs, timestamps) then cost a hash and no copy, and
 * do not push out the strings that do repeat.
 */

/** Turns `buf[start, end)` into its string. */
export type BytesToString = (buf: Buffer, start: number, end: number) => string;

export const utf8: BytesToString = (buf, start, end) => buf.toString('utf8', start, end);

/** One cache's shape: slots (a power of two), the longest string it keeps, and how bytes become the string. */
export interface StringCacheSize {
  slots: number;
  maxBytes: number;
  /** UTF-8 unless said (trace ids are cached as lower-case hex). */
  decode?: BytesToString;
}

/** Attribute keys: a few hundred distinct ones at most in any real fleet. */
export const KEY_CACHE_SIZE: StringCacheSize = { slots: 1024, maxBytes: 64 };
/** Short attribute values and span names: many more distinct ones, most of them repeating. */
export const VALUE_CACHE_SIZE: StringCacheSize = { slots: 4096, maxBytes: 48 };

/** A direct-mapped cache of UTF-8 byte strings to JS strings. A collision only costs a decode, never a wrong string. */
export class StringCache {
  readonly #mask: number;
  readonly #maxBytes: number;
  readonly #decode: BytesToString;
  readonly #bytes: Array<Uint8Array | undefined>;
  readonly #strings: string[];
  /** Per slot, the hash of the last string that missed there: the second miss of the same hash stores it. */
  readonly #lastMiss: Int32Array;

  constructor(size: StringCacheSize) {
    if (!Number.isInteger(Math.log2(size.slots))) throw new RangeError(`slots must be a power of two, got ${size.slots}`);
    this.#mask = size.slots - 1;
    this.#maxBytes = size.maxBytes;
    this.#decode = size.decode ?? utf8;
    this.#bytes = new Array<Uint8Array | undefined>(size.slots).fill(undefined);
    this.#strings = new Array<string>(size.slots).fill('');
    this.#lastMiss = new Int32Array(size.slots);
  }

  /** The string for `buf[start, end)` (UTF-8: invalid sequences become U+FFFD, as Buffer#toString does). */
  read(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > this.#maxBytes || length === 0) return this.#decode(buf, start, end);
    // FNV-1a over the bytes.
    let h = 0x811c9dc5 ^ length;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = h & this.#mask;
    const cached = this.#bytes[slot];
    if (cached !== undefined && cached.length === length) {
      let i = 0;
      while (i < length && cached[i] === buf[start + i]) i++;
      if (i === length) return this.#strings[slot]!;
    }
    const s = this.#decode(buf, start, end);
    if (this.#lastMiss[slot] !== h) {
      this.#lastMiss[slot] = h;
      return s;
    }
    this.#bytes[slot] = new Uint8Array(buf.subarray(start, end)); // a copy: the request buffer must not be pinned
    this.#strings[slot] = s;
    return s;
  }
}
