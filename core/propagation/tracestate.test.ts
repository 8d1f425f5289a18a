import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deleteTracestateEntry,
  getTracestateEntry,
  isValidTracestateKey,
  parseTracestate,
  serializeTracestate,
  setTracestateEntry,
  tracestateEntries,
  truncateTracestate,
  type TracestateEntry,
} from './tracestate.ts';

const keys = (header: string | string[], options?: Parameters<typeof parseTracestate>[1]) => tracestateEntries(header, options).map((e) => e.key);

describe('parseTracestate', () => {
  it('reads list members in order', () => {
    assert.deepEqual(parseTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'), {
      ok: true,
      entries: [
        { key: 'rojo', value: '00f067aa0ba902b7' },
        { key: 'congo', value: 't61rcWkgMzE' },
      ],
    });
  });

  it('joins several header fields in the order received', () => {
    assert.deepEqual(keys(['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3']), ['foo', 'bar', 'rojo', 'congo', 'baz']);
  });

  it('ignores empty members and whitespace around members, keeping leading spaces inside a value', () => {
    assert.deepEqual(keys('foo=1 \t , \t bar=2, \t baz=3'), ['foo', 'bar', 'baz']);
    assert.deepEqual(keys(['', 'foo=1', '']), ['foo']);
    assert.deepEqual(keys(',,foo=1,, ,'), ['foo']);
    assert.equal(getTracestateEntry(tracestateEntries('foo= 1 '), 'foo'), ' 1');
    assert.deepEqual(parseTracestate(''), { ok: true, entries: [] });
    assert.deepEqual(parseTracestate(undefined), { ok: true, entries: [] });
  });

  it('discards the whole header for one malformed member', () => {
    for (const h of ['foo =1', 'FOO=1', 'foo.bar=1', 'foo=bar=baz', 'foo=,bar=3', '@foo=1,bar=2', 'bar=2,=1', 'bar=2,noequals', 'foo=a,b\u00e9=1', 'foo=caf\u00e9']) {
      const result = parseTracestate(h);
      assert.equal(result.ok, false, h);
    }
  });

  it('takes keys with @ anywhere after the first character (Level 2 grammar)', () => {
    assert.deepEqual(keys('foo@=1,bar=2'), ['foo@', 'bar']);
    assert.deepEqual(keys('foo@@bar=1,bar=2'), ['foo@@bar', 'bar']);
    assert.deepEqual(keys('foo@bar@baz=1,bar=2'), ['foo@bar@baz', 'bar']);
    assert.deepEqual(keys('tenant1@vendor=1'), ['tenant1@vendor']);
    assert.deepEqual(keys('1vendor=1'), ['1vendor']);
  });

  it('limits keys to 256 characters', () => {
    assert.deepEqual(keys(['foo=1', 'z'.repeat(256) + '=1']), ['foo', 'z'.repeat(256)]);
    assert.equal(parseTracestate(['foo=1', 'z'.repeat(257) + '=1']).ok, false);
    assert.deepEqual(keys(`${'t'.repeat(241)}@${'v'.repeat(14)}=1`), [`${'t'.repeat(241)}@${'v'.repeat(14)}`]);
  });

  it('enforces the Level 1 multi-tenant grammar when asked', () => {
    const level1 = { keyGrammar: 'level1' } as const;
    assert.ok(isValidTracestateKey(`${'t'.repeat(241)}@${'v'.repeat(14)}`, 'level1'));
    assert.ok(!isValidTracestateKey(`${'t'.repeat(242)}@v`, 'level1'));
    assert.ok(!isValidTracestateKey(`t@${'v'.repeat(15)}`, 'level1'));
    assert.ok(!isValidTracestateKey('foo@', 'level1'));
    assert.ok(!isValidTracestateKey('foo@bar@baz', 'level1'));
    assert.ok(!isValidTracestateKey('t@1system', 'level1'));
    assert.ok(!isValidTracestateKey('1vendor', 'level1'));
    assert.ok(isValidTracestateKey('1tenant@vendor', 'level1'));
    assert.equal(parseTracestate('foo@=1,bar=2', level1).ok, false);
    assert.deepEqual(keys('rojo=1,1t@congo=2', level1), ['rojo', '1t@congo']);
  });

  it('accepts every allowed value character and 256-character values', () => {
    let value = '';
    for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) value += String.fromCharCode(c);
    assert.equal(getTracestateEntry(tracestateEntries(`foo=${value}`), 'foo'), value);
    assert.equal(getTracestateEntry(tracestateEntries(`foo=${'v'.repeat(256)}`), 'foo'), 'v'.repeat(256));
    assert.equal(parseTracestate(`foo=${'v'.repeat(257)}`).ok, false);
  });

  it('allows 32 members and discards a header with 33', () => {
    const members = Array.from({ length: 33 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${i}`);
    assert.equal(tracestateEntries(members.slice(0, 32).join(',')).length, 32);
    assert.equal(parseTracestate(members.join(',')).ok, false);
    // Empty members do not count.
    assert.equal(tracestateEntries(members.slice(0, 32).join(',,')).length, 32);
  });

  it('keeps the first entry of a repeated key, or discards the header when asked', () => {
    assert.deepEqual(tracestateEntries('foo=1,foo=2'), [{ key: 'foo', value: '1' }]);
    assert.deepEqual(tracestateEntries(['foo=1', 'foo=2', 'bar=3']), [{ key: 'foo', value: '1' }, { key: 'bar', value: '3' }]);
    assert.equal(parseTracestate('foo=1,foo=2', { duplicates: 'invalid' }).ok, false);
  });
});

describe('setTracestateEntry / deleteTracestateEntry', () => {
  const entries = tracestateEntries('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');

  it('puts an added or updated entry at the front, keeping the others in order', () => {
    assert.deepEqual(setTracestateEntry(entries, 'sw8', 'x').map((e) => e.key), ['sw8', 'rojo', 'congo']);
    assert.deepEqual(setTracestateEntry(entries, 'congo', 'ucfJifl5GOE'), [{ key: 'congo', value: 'ucfJifl5GOE' }, { key: 'rojo', value: '00f067aa0ba902b7' }]);
  });

  it('refuses invalid keys and values', () => {
    assert.throws(() => setTracestateEntry(entries, 'Bad', 'x'), TypeError);
    assert.throws(() => setTracestateEntry(entries, 'ok', 'a,b'), TypeError);
  });

  it('deletes by key', () => {
    assert.deepEqual(deleteTracestateEntry(entries, 'rojo').map((e) => e.key), ['congo']);
  });
});

describe('serializeTracestate / truncateTracestate', () => {
  it('joins entries with commas and no whitespace', () => {
    assert.equal(serializeTracestate([{ key: 'a', value: '1' }, { key: 'b', value: '2' }]), 'a=1,b=2');
    assert.equal(serializeTracestate([]), '');
  });

  it('drops entries longer than 128 characters first, then from the right, never part of one', () => {
    const long: TracestateEntry = { key: 'long', value: 'x'.repeat(200) };
    const small = (i: number): TracestateEntry => ({ key: `k${i}`, value: 'v'.repeat(40) });
    const entries = [small(1), long, small(2), small(3), small(4), small(5), small(6), small(7), small(8), small(9), small(10), small(11), small(12)];
    const header = serializeTracestate(entries);
    assert.ok(header.length <= 512);
    assert.ok(!header.includes('long='), 'the long entry went first');
    // 12 small entries are 12 × 43 + 11 = 527 > 512: the right-most small one goes too.
    assert.deepEqual(tracestateEntries(header).map((e) => e.key), ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9', 'k10', 'k11']);
    for (const e of tracestateEntries(header)) assert.equal(e.value, 'v'.repeat(40), 'whole values only');
  });

  it('keeps a long entry when the header fits anyway', () => {
    const entries = [{ key: 'long', value: 'x'.repeat(200) }, { key: 'b', value: '2' }];
    assert.deepEqual(truncateTracestate(entries), entries);
  });

  it('drops from the right to respect a member limit', () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: '1' }));
    const kept = truncateTracestate(entries);
    assert.equal(kept.length, 32);
    assert.equal(kept.at(-1)!.key, 'k31');
    assert.deepEqual(truncateTracestate(entries, { maxLength: 10, maxMembers: 32 }).map((e) => e.key), ['k0', 'k1']);
  });
});
