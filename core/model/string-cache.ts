/**
 * Decodes short strings through a small cache keyed by their bytes, so that a string seen over and
 * over becomes one shared JS string instead of a fresh one per occurrence.
 *
 * Why: attribute keys (`http.request.method`, `service.name`, ...) repeat on every span; most short
 * attribute values and span names repeat too (`GET`, `postgresql`, `/api/checkout`); every span of
 * a trace carries its trace id, and every child its parent's span id. Decoding each occurrence
 * allocates a string that the trace assembler then holds through a quiet period: it is copied by
 * the young-generation GC, promoted, and marked again by the old generation's. A hit costs one hash
 * and one byte comparison and allocates nothing. Figures: bench/README.md, "Stage costs".
 *
 * The cached bytes live in one flat array, so storing a string allocates nothing either.
 */

/** Turns `buf[start, end)` into its string. */
export type BytesToString = (buf: Buffer, start: number, end: number) => string;

export const utf8: BytesToString = (buf, start, end) => buf.toString('utf8', start, end);

/**
 * Lower-case hex, for ids. `Buffer#hexSlice` is what `toString('hex', start, end)` calls after
 * checking its arguments; ids are on every span and link, and skipping the checks saved about a
 * tenth of the OTLP decode time.
 */
type HexSlice = (this: Buffer, start: number, end: number) => string;
const hexSlice: HexSlice =
  (Buffer.prototype as unknown as { hexSlice?: HexSlice }).hexSlice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('hex', start, end);
  };
export const hex: BytesToString = (buf, start, end) => hexSlice.call(buf, start, end);

export interface StringCacheOptions {
  /** A power of two. */
  slots: number;
  /** Longer strings are decoded and never cached. */
  maxBytes: number;
  /** UTF-8 unless said (ids are cached as lower-case hex). */
  decode?: BytesToString;
  /**
   * 'second_sight' (the default): a string is stored only the second time its slot sees it (the
   * slot remembers the hash of its last miss), so values that never repeat (ids in URLs,
   * timestamps) do not push out the ones that do. 'always': every miss is stored, for span ids,
   * whose first sight is usually the one the next reads share.
   */
  admit?: 'second_sight' | 'always';
}

/** Attribute keys: a few hundred distinct ones at most in any real fleet. */
export const KEY_CACHE: StringCacheOptions = { slots: 1024, maxBytes: 64 };
/** Short attribute values and span names: many more distinct ones, most of them repeating. */
export const VALUE_CACHE: StringCacheOptions = { slots: 4096, maxBytes: 48 };

/** A direct-mapped cache of byte strings to JS strings. A collision only costs a decode, never a wrong string. */
export class StringCache {
  readonly #mask: number;
  readonly #maxBytes: number;
  readonly #decode: BytesToString;
  readonly #admitAlways: boolean;
  /** Slot i's bytes at [i * maxBytes, i * maxBytes + length[i]). */
  readonly #bytes: Uint8Array;
  /** 0: the slot is empty (empty strings are never cached). */
  readonly #lengths: Int32Array;
  readonly #strings: string[];
  /** Per slot, the hash of the last string that missed there. */
  readonly #lastMiss: Int32Array;

  constructor(options: StringCacheOptions) {
    if (!Number.isInteger(Math.log2(options.slots))) throw new RangeError(`slots must be a power of two, got ${options.slots}`);
    this.#mask = options.slots - 1;
    this.#maxBytes = options.maxBytes;
    this.#decode = options.decode ?? utf8;
    this.#admitAlways = options.admit === 'always';
    this.#bytes = new Uint8Array(options.slots * options.maxBytes);
    this.#lengths = new Int32Array(options.slots);
    this.#strings = new Array<string>(options.slots).fill('');
    this.#lastMiss = new Int32Array(options.slots);
  }

  /** The string for `buf[start, end)` (UTF-8: invalid sequences become U+FFFD, as Buffer#toString does). */
  read(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > this.#maxBytes || length === 0) return this.#decode(buf, start, end);
    // FNV-1a over the bytes.
    let h = 0x811c9dc5 ^ length;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = h & this.#mask;
    const bytes = this.#bytes;
    const at = slot * this.#maxBytes;
    if (this.#lengths[slot] === length) {
      let i = 0;
      while (i < length && bytes[at + i] === buf[start + i]) i++;
      if (i === length) return this.#strings[slot]!;
    }
    const s = this.#decode(buf, start, end);
    if (!this.#admitAlways && this.#lastMiss[slot] !== h) {
      this.#lastMiss[slot] = h;
      return s;
    }
    for (let i = 0; i < length; i++) bytes[at + i] = buf[start + i]!;
    this.#lengths[slot] = length;
    this.#strings[slot] = s;
    return s;
  }
}
