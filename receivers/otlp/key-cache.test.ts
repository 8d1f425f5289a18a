import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyCache } from './key-cache.ts';

describe('KeyCache', () => {
  it('returns the right string for every key, including keys that share a slot', () => {
    const cache = new KeyCache();
    // Far more keys than slots, read twice in different orders: every read must be exact.
    const keys = Array.from({ length: 5000 }, (_, i) => `attr.${i}.${'é'.repeat(i % 3)}`);
    const buf = Buffer.from(keys.join(''));
    const spans: Array<[number, number]> = [];
    let at = 0;
    for (const k of keys) {
      const n = Buffer.byteLength(k);
      spans.push([at, at + n]);
      at += n;
    }
    for (let i = 0; i < keys.length; i++) assert.equal(cache.read(buf, spans[i]![0], spans[i]![1]), keys[i]);
    for (let i = keys.length - 1; i >= 0; i--) assert.equal(cache.read(buf, spans[i]![0], spans[i]![1]), keys[i]);
  });

  it('does not keep a view of the caller buffer', () => {
    const cache = new KeyCache();
    const buf = Buffer.from('service.name');
    assert.equal(cache.read(buf, 0, buf.length), 'service.name');
    buf.write('servicX.name');
    assert.equal(cache.read(buf, 0, buf.length), 'servicX.name');
    assert.equal(cache.read(Buffer.from('service.name'), 0, 12), 'service.name');
  });

  it('decodes empty and long keys without caching them', () => {
    const cache = new KeyCache();
    const long = 'k'.repeat(200);
    assert.equal(cache.read(Buffer.from(long), 0, 200), long);
    assert.equal(cache.read(Buffer.alloc(0), 0, 0), '');
  });
});
