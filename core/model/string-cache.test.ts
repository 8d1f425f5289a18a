import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex, KEY_CACHE, StringCache, VALUE_CACHE } from './string-cache.ts';

/** `strings` laid out back to back in one buffer, with each one's byte range. */
function layout(strings: string[]): { buf: Buffer; ranges: Array<[number, number]> } {
  const ranges: Array<[number, number]> = [];
  let at = 0;
  for (const s of strings) {
    const n = Buffer.byteLength(s);
    ranges.push([at, at + n]);
    at += n;
  }
  return { buf: Buffer.from(strings.join('')), ranges };
}

describe('StringCache', () => {
  it('returns the right string for every read, including strings that share a slot', () => {
    for (const size of [KEY_CACHE, VALUE_CACHE]) {
      const cache = new StringCache(size);
      // Far more strings than slots, each read several times in different orders (first sight,
      // second sight when it is stored, hits, and evictions by colliding strings): every read exact.
      const strings = Array.from({ length: 5 * size.slots }, (_, i) => `attr.${i}.${'é'.repeat(i % 3)}`);
      const { buf, ranges } = layout(strings);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < strings.length; i++) assert.equal(cache.read(buf, ranges[i]![0], ranges[i]![1]), strings[i]);
        for (let i = strings.length - 1; i >= 0; i--) assert.equal(cache.read(buf, ranges[i]![0], ranges[i]![1]), strings[i]);
      }
    }
  });

  it('does not keep a view of the caller buffer', () => {
    const cache = new StringCache(KEY_CACHE);
    const buf = Buffer.from('service.name');
    for (let i = 0; i < 3; i++) assert.equal(cache.read(buf, 0, buf.length), 'service.name');
    buf.write('servicX.name');
    assert.equal(cache.read(buf, 0, buf.length), 'servicX.name');
    assert.equal(cache.read(Buffer.from('service.name'), 0, 12), 'service.name');
  });

  it('decodes empty and long strings without caching them', () => {
    const cache = new StringCache(VALUE_CACHE);
    const long = 'k'.repeat(VALUE_CACHE.maxBytes + 1);
    for (let i = 0; i < 3; i++) assert.equal(cache.read(Buffer.from(long), 0, long.length), long);
    assert.equal(cache.read(Buffer.alloc(0), 0, 0), '');
  });

  it('decodes invalid UTF-8 exactly as Buffer#toString does, cached or not', () => {
    const cache = new StringCache(VALUE_CACHE);
    const bad = Buffer.from([0x61, 0xff, 0x62, 0xc3]);
    for (let i = 0; i < 3; i++) assert.equal(cache.read(bad, 0, bad.length), bad.toString('utf8'));
  });

  it('decodes with the given function (trace ids as hex)', () => {
    const cache = new StringCache({ slots: 16, maxBytes: 16, decode: hex });
    const ids = Array.from({ length: 64 }, (_, i) => Buffer.from(`${i}`.padStart(32, 'a').slice(0, 32), 'hex'));
    const buf = Buffer.concat(ids);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < ids.length; i++) assert.equal(cache.read(buf, i * 16, i * 16 + 16), ids[i]!.toString('hex'));
    }
  });

  it('refuses a slot count that is not a power of two', () => {
    assert.throws(() => new StringCache({ slots: 1000, maxBytes: 8 }), /power of two/);
  });
});
