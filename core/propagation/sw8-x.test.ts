import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSw8X, encodeSw8X } from './sw8-x.ts';

describe('sw8-x', () => {
  it('writes the Java agent form, with a space placeholder when there is no timestamp', () => {
    assert.equal(encodeSw8X({ skipAnalysis: false }), '0- ');
    assert.equal(encodeSw8X({ skipAnalysis: true, sendingTimestamp: 1700000000123 }), '1-1700000000123');
  });

  it('reads tracing mode and sending timestamp', () => {
    assert.deepEqual(decodeSw8X('1-1700000000123'), { skipAnalysis: true, sendingTimestamp: 1700000000123 });
    assert.deepEqual(decodeSw8X('0-1700000000123'), { skipAnalysis: false, sendingTimestamp: 1700000000123 });
  });

  it('accepts the placeholder, with or without its space, and missing fields', () => {
    assert.deepEqual(decodeSw8X('0- '), { skipAnalysis: false });
    assert.deepEqual(decodeSw8X('0-'), { skipAnalysis: false });
    assert.deepEqual(decodeSw8X('1'), { skipAnalysis: true });
    assert.deepEqual(decodeSw8X('-1700000000123'), { skipAnalysis: false, sendingTimestamp: 1700000000123 });
  });

  it('ignores an unreadable timestamp and an empty header', () => {
    assert.deepEqual(decodeSw8X('1-soon'), { skipAnalysis: true });
    assert.equal(decodeSw8X(''), undefined);
    assert.equal(decodeSw8X(undefined), undefined);
  });

  it('round-trips', () => {
    for (const ext of [{ skipAnalysis: false }, { skipAnalysis: true }, { skipAnalysis: false, sendingTimestamp: 42 }]) assert.deepEqual(decodeSw8X(encodeSw8X(ext)), ext);
  });
});
