import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSw8Correlation, encodeSw8Correlation } from './sw8-correlation.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const item = (k: string, v: string) => `${b64(k)}:${b64(v)}`;

describe('encodeSw8Correlation', () => {
  it('writes base64(key):base64(value) items joined by commas', () => {
    assert.equal(encodeSw8Correlation([['tenant', 'acme'], ['region', 'eu-1']]), `${item('tenant', 'acme')},${item('region', 'eu-1')}`);
  });

  it('keeps at most 3 keys and values of at most 128 bytes by default', () => {
    const entries: [string, string][] = [['a', '1'], ['long', 'x'.repeat(129)], ['b', '2'], ['c', '3'], ['d', '4']];
    assert.deepEqual([...decodeSw8Correlation(encodeSw8Correlation(entries))], [['a', '1'], ['b', '2'], ['c', '3']]);
    assert.equal(encodeSw8Correlation([['k', 'x'.repeat(128)]]), item('k', 'x'.repeat(128)));
    assert.equal(encodeSw8Correlation([['k', 'é'.repeat(65)]]), '', '130 UTF-8 bytes');
  });

  it('honours configured limits', () => {
    const limits = { maxKeys: 1, maxValueBytes: 4 };
    assert.equal(encodeSw8Correlation([['a', 'toolong'], ['b', 'ok'], ['c', 'ok']], limits), item('b', 'ok'));
  });

  it('leaves out empty keys or values and repeated keys', () => {
    assert.equal(encodeSw8Correlation([['', 'x'], ['k', ''], ['k', 'v'], ['k', 'w']]), item('k', 'v'));
    assert.equal(encodeSw8Correlation([]), '');
  });
});

describe('decodeSw8Correlation', () => {
  it('reads what the Java agent writes', () => {
    assert.deepEqual([...decodeSw8Correlation(`${item('tenant', 'acme')},${item('city', 'Zürich')}`)], [['tenant', 'acme'], ['city', 'Zürich']]);
  });

  it('skips items that are not key:value and stops after 3 keys', () => {
    const header = ['garbage', `${b64('x')}:${b64('y')}:${b64('z')}`, item('a', '1'), item('b', '2'), item('c', '3'), item('d', '4')].join(',');
    assert.deepEqual([...decodeSw8Correlation(header).keys()], ['a', 'b', 'c']);
  });

  it('lets a later item overwrite an earlier one of the same key', () => {
    assert.deepEqual([...decodeSw8Correlation(`${item('a', '1')},${item('a', '2')}`)], [['a', '2']]);
  });

  it('drops values over the byte limit and joins several header fields', () => {
    assert.deepEqual([...decodeSw8Correlation([item('big', 'x'.repeat(200)), item('ok', 'y')])], [['ok', 'y']]);
    assert.equal(decodeSw8Correlation(undefined).size, 0);
    assert.equal(decodeSw8Correlation('').size, 0);
  });
});
