import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TRACE_FLAG_RANDOM, formatTraceparent, isValidSpanId, isValidTraceId, parseTraceparent, parseTraceparentDetailed } from './traceparent.ts';

const TRACE = '12345678901234567890123456789012';
const PARENT = '1234567890123456';

describe('parseTraceparent', () => {
  it('reads a version 00 header field by field', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`), { version: 0, traceId: TRACE, parentId: PARENT, traceFlags: 1 });
  });

  it('keeps the flags byte as received, the Level 2 random-trace-id bit included', () => {
    assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-02`)!.traceFlags, TRACE_FLAG_RANDOM);
    assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-03`)!.traceFlags, 3);
    assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-ff`)!.traceFlags, 0xff);
  });

  it('ignores spaces and tabs around the value (optional whitespace)', () => {
    for (const v of [` 00-${TRACE}-${PARENT}-01`, `\t00-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01 `, `\t 00-${TRACE}-${PARENT}-01 \t`]) {
      assert.equal(parseTraceparent(v)?.traceId, TRACE, JSON.stringify(v));
    }
  });

  it('rejects upper-case hex anywhere', () => {
    assert.equal(parseTraceparent(`00-${TRACE.replace('1', 'A').replace('2', 'B')}-${PARENT}-01`), undefined);
    assert.equal(parseTraceparent(`00-ABCDEF78901234567890123456789012-${PARENT}-01`), undefined);
    assert.equal(parseTraceparent(`00-${TRACE}-ABCDEF7890123456-01`), undefined);
    assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-0A`), undefined);
    assert.equal(parseTraceparent(`0A-${TRACE}-${PARENT}-01`), undefined);
  });

  it('rejects all-zero trace and parent ids', () => {
    assert.deepEqual(parseTraceparentDetailed(`00-${'0'.repeat(32)}-${PARENT}-01`), { ok: false, reason: 'the trace-id is all zeros' });
    assert.equal(parseTraceparent(`00-${TRACE}-${'0'.repeat(16)}-01`), undefined);
  });

  it('rejects version ff and malformed versions', () => {
    for (const v of [`ff-${TRACE}-${PARENT}-01`, `.0-${TRACE}-${PARENT}-01`, `0.-${TRACE}-${PARENT}-01`, `000-${TRACE}-${PARENT}-01`, `0000-${TRACE}-${PARENT}-01`, `0-${TRACE}-${PARENT}-01`]) {
      assert.equal(parseTraceparent(v), undefined, v);
    }
  });

  it('holds version 00 to the exact format: no trailing characters or extra fields', () => {
    for (const v of [`00-${TRACE}-${PARENT}-01.`, `00-${TRACE}-${PARENT}-01-what-the-future-will-be-like`, `00-${TRACE}3-${PARENT}-01`, `00-${TRACE.slice(1)}-${PARENT}-01`, `00-${TRACE}-${PARENT}7-01`, `00-${TRACE}-${PARENT.slice(1)}-01`, `00-${TRACE}-${PARENT}-001`, `00-${TRACE}-${PARENT}-1`, `00-${TRACE}-${PARENT}-.0`]) {
      assert.equal(parseTraceparent(v), undefined, v);
    }
  });

  it('reads a higher version by position and ignores fields after a dash', () => {
    assert.deepEqual(parseTraceparent(`cc-${TRACE}-${PARENT}-01`), { version: 0xcc, traceId: TRACE, parentId: PARENT, traceFlags: 1 });
    assert.equal(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`)?.traceId, TRACE);
    assert.equal(parseTraceparent(`01-${TRACE}-${PARENT}-01-`)?.parentId, PARENT);
  });

  it('rejects a higher version whose flags are not followed by a dash or the end, or that is too short', () => {
    assert.equal(parseTraceparent(`cc-${TRACE}-${PARENT}-01.what-the-future-will-be-like`), undefined);
    assert.equal(parseTraceparent(`cc-${TRACE}-${PARENT}-1`), undefined);
    assert.equal(parseTraceparent(`cc-${TRACE}x${PARENT}-01`), undefined);
    assert.equal(parseTraceparent(`cc-${TRACE}-${PARENT}x01`), undefined);
    assert.equal(parseTraceparent(`cc-${'0'.repeat(32)}-${PARENT}-01`), undefined);
  });

  it('treats a header sent twice as invalid, whether as an array or joined by a comma', () => {
    const a = `00-${TRACE}-${PARENT}-01`;
    assert.equal(parseTraceparent([a, a]), undefined);
    assert.equal(parseTraceparent(`${a}, ${a}`), undefined);
    assert.equal(parseTraceparent([a])?.traceId, TRACE);
    assert.deepEqual(parseTraceparentDetailed([a, a]), { ok: false, reason: 'the header was sent more than once' });
  });

  it('says the header is missing', () => {
    assert.deepEqual(parseTraceparentDetailed(undefined), { ok: false, reason: 'the header is missing' });
  });
});

describe('formatTraceparent', () => {
  it('writes version 00 and keeps the sampled and random bits only', () => {
    assert.equal(formatTraceparent({ traceId: TRACE, parentId: PARENT, traceFlags: 0x03 }), `00-${TRACE}-${PARENT}-03`);
    assert.equal(formatTraceparent({ traceId: TRACE, parentId: PARENT, traceFlags: 0xff }), `00-${TRACE}-${PARENT}-03`);
    assert.equal(formatTraceparent({ traceId: TRACE, parentId: PARENT, traceFlags: 0 }), `00-${TRACE}-${PARENT}-00`);
  });

  it('round-trips what it parsed, downgrading a later version to 00', () => {
    const parsed = parseTraceparent(`cc-${TRACE}-${PARENT}-01-extra`)!;
    assert.equal(formatTraceparent(parsed), `00-${TRACE}-${PARENT}-01`);
  });

  it('refuses invalid ids', () => {
    assert.throws(() => formatTraceparent({ traceId: '0'.repeat(32), parentId: PARENT, traceFlags: 1 }), TypeError);
    assert.throws(() => formatTraceparent({ traceId: TRACE, parentId: 'XYZ', traceFlags: 1 }), TypeError);
  });
});

describe('id validity', () => {
  it('needs lower-case hex of the right length, not all zeros', () => {
    assert.ok(isValidTraceId(TRACE));
    assert.ok(!isValidTraceId(TRACE.toUpperCase().replace(/\d/, 'A')));
    assert.ok(!isValidTraceId('0'.repeat(32)));
    assert.ok(isValidSpanId(PARENT));
    assert.ok(!isValidSpanId(PARENT + '0'));
    assert.ok(!isValidSpanId('0'.repeat(16)));
  });
});
