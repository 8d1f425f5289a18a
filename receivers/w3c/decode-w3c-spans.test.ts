import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../core/errors.ts';
import { SpanFlags, SpanKind, StatusCode } from '../../core/model/span-batch.ts';
import { decodeW3cSpans, derivedSpanId, parseTimestamp, readW3cHeaders } from './decode-w3c-spans.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER = '00f067aa0ba902b7';
const headers = { traceparent: `00-${TRACE}-${CALLER}-01` };
const ctx = readW3cHeaders(headers);
const body = (v: unknown) => Buffer.from(JSON.stringify(v));
const minimal = { name: 'GET /cart', service: 'edge-proxy', start: '2026-05-01T10:00:00.120Z', end: '2026-05-01T10:00:00.250Z' };
const only = (v: unknown, c = ctx) => decodeW3cSpans(c, body(v)).batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, String(err));
    return err.message;
  }
  assert.fail('expected an InvalidInputError');
};

describe('readW3cHeaders', () => {
  it('requires a valid traceparent and says what is wrong', () => {
    assert.match(refusal(() => readW3cHeaders({})), /traceparent header is required.*missing/);
    assert.match(refusal(() => readW3cHeaders({ traceparent: `00-${TRACE.toUpperCase()}-${CALLER}-01` })), /version 00 must be/);
    assert.match(refusal(() => readW3cHeaders({ traceparent: `00-${'0'.repeat(32)}-${CALLER}-01` })), /all zeros/);
  });

  it('keeps a valid tracestate and drops an invalid one', () => {
    assert.equal(readW3cHeaders({ ...headers, tracestate: 'rojo=1, congo=2' }).traceState, 'rojo=1,congo=2');
    assert.equal(readW3cHeaders({ ...headers, tracestate: 'rojo=1,BAD=2' }).traceState, '');
  });

  it('turns baggage into baggage.<key> attributes, first value of a repeated key', () => {
    assert.deepEqual(readW3cHeaders({ ...headers, baggage: 'user=alice, node=DF%2028;ttl=1,user=bob' }).baggageAttributes, { 'baggage.user': 'alice', 'baggage.node': 'DF 28' });
  });
});

describe('decodeW3cSpans', () => {
  it('gives the span the traceparent trace id, the caller as remote parent, and the body description', () => {
    const span = only({ ...minimal, kind: 'server', status: 'error', attributes: { 'http.request.method': 'GET', 'http.response.status_code': 503, retried: true, tags: ['a', null, 'b'] } });
    assert.equal(span.traceId, TRACE);
    assert.equal(span.parentSpanId, CALLER);
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.flags, 0x01 | SpanFlags.CONTEXT_HAS_IS_REMOTE | SpanFlags.CONTEXT_IS_REMOTE);
    assert.equal(span.startTimeUnixNano, 1_777_629_600_120_000_000n);
    assert.equal(span.endTimeUnixNano - span.startTimeUnixNano, 130_000_000n);
    assert.deepEqual(span.status, { code: StatusCode.ERROR, message: '' });
    assert.deepEqual(span.attributes, { 'http.request.method': 'GET', 'http.response.status_code': 503, retried: true, tags: ['a', 'b'] });
  });

  it('puts the service and instance on the resource, one ResourceSpans per pair', () => {
    const { batch } = decodeW3cSpans(ctx, body([{ ...minimal, instance: 'edge-1' }, { ...minimal, name: 'other', instance: 'edge-1' }, { ...minimal, name: 'b', service: 'script' }]));
    assert.deepEqual(
      batch.resourceSpans.map((rs) => [rs.resource.attributes, rs.scopeSpans[0]!.spans.length]),
      [
        [{ 'service.name': 'edge-proxy', 'service.instance.id': 'edge-1' }, 2],
        [{ 'service.name': 'script' }, 1],
      ],
    );
  });

  it('derives a stable span id when the body has none, so a retried POST is the same span', () => {
    const a = decodeW3cSpans(ctx, body(minimal)).ids[0]!;
    const b = decodeW3cSpans(ctx, body(minimal)).ids[0]!;
    assert.deepEqual(a, b);
    assert.equal(a.spanId, derivedSpanId(TRACE, CALLER, 'GET /cart', 1_777_629_600_120_000_000n));
    assert.notEqual(decodeW3cSpans(ctx, body({ ...minimal, name: 'other' })).ids[0]!.spanId, a.spanId);
  });

  it('takes the span id from the body, and a parent among the request`s spans as a local parent', () => {
    const { batch, ids } = decodeW3cSpans(
      ctx,
      body([
        { ...minimal, kind: 'server', spanId: 'AAAAAAAAAAAAAAAA' },
        { ...minimal, name: 'call backend', kind: 'client', spanId: 'bbbbbbbbbbbbbbbb', parentSpanId: 'aaaaaaaaaaaaaaaa' },
      ]),
    );
    assert.deepEqual(ids.map((i) => i.spanId), ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    const client = batch.resourceSpans[0]!.scopeSpans[0]!.spans[1]!;
    assert.equal(client.parentSpanId, 'aaaaaaaaaaaaaaaa');
    assert.equal(client.flags & SpanFlags.CONTEXT_IS_REMOTE, 0, 'a sibling span of the request is not remote');
  });

  it('lets body attributes win over baggage', () => {
    const withBaggage = readW3cHeaders({ ...headers, baggage: 'user=alice,tier=gold' });
    assert.deepEqual(only({ ...minimal, attributes: { 'baggage.user': 'explicit' } }, withBaggage).attributes, { 'baggage.user': 'explicit', 'baggage.tier': 'gold' });
  });

  it('keeps the tracestate and the traceparent flags byte on every span', () => {
    const span = only(minimal, readW3cHeaders({ traceparent: `00-${TRACE}-${CALLER}-03`, tracestate: 'sw8=x' }));
    assert.equal(span.traceState, 'sw8=x');
    assert.equal(span.flags & 0xff, 0x03);
  });

  it('refuses bad spans, naming the index and the field', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...minimal, name: '' }, /name must be a non-empty string/],
      [{ ...minimal, service: undefined }, /service must be a non-empty string/],
      [{ ...minimal, kind: 'entry' }, /kind must be one of internal, server, client, producer, consumer/],
      [{ ...minimal, start: 'yesterday' }, /start must be an RFC 3339 timestamp/],
      [{ ...minimal, end: '2026-05-01T09:00:00Z' }, /end is before start/],
      [{ ...minimal, spanId: 'xyz' }, /spanId must be 16 hex/],
      [{ ...minimal, spanId: '0000000000000000' }, /spanId must be 16 hex characters, not all zeros/],
      [{ ...minimal, spanId: CALLER }, /own parent/],
      [{ ...minimal, status: 'failed' }, /status must be/],
      [{ ...minimal, attributes: [1] }, /attributes must be an object/],
      [{ ...minimal, startTime: 1 }, /startTime is not a span field/],
      [[minimal, { ...minimal, kind: 7 }], /\[1\]\.kind/],
      [[minimal, minimal], /two spans of the request have the span id/],
      ['text', /the body must be a span object/],
    ];
    for (const [v, re] of cases) assert.match(refusal(() => decodeW3cSpans(ctx, body(v))), re, JSON.stringify(v));
    assert.match(refusal(() => decodeW3cSpans(ctx, Buffer.from('{"name":'))), /not JSON/);
  });

  it('accepts an empty array', () => {
    assert.deepEqual(decodeW3cSpans(ctx, body([])).ids, []);
  });
});

describe('parseTimestamp', () => {
  it('reads RFC 3339 with up to nanosecond fractions and offsets', () => {
    assert.equal(parseTimestamp('2026-05-01T10:00:00Z', 'start'), 1_777_629_600_000_000_000n);
    assert.equal(parseTimestamp('2026-05-01T10:00:00.123456789Z', 'start'), 1_777_629_600_123_456_789n);
    assert.equal(parseTimestamp('2026-05-01T12:00:00.5+02:00', 'start'), 1_777_629_600_500_000_000n);
    assert.equal(parseTimestamp('2026-05-01 10:00:00z', 'start'), 1_777_629_600_000_000_000n);
  });

  it('reads epoch milliseconds (numbers below 1e15, fractions kept) and nanoseconds', () => {
    assert.equal(parseTimestamp(1_777_629_600_123, 'start'), 1_777_629_600_123_000_000n);
    assert.equal(parseTimestamp(1_777_629_600_123.5, 'start'), 1_777_629_600_123_500_000n);
    assert.equal(parseTimestamp('1777629600123', 'start'), 1_777_629_600_123_000_000n);
    assert.equal(parseTimestamp('1777629600123456789', 'start'), 1_777_629_600_123_456_789n, 'a digit string keeps nanoseconds exact');
  });

  it('refuses anything else', () => {
    for (const v of [0, -5, Number.NaN, '', '2026-05-01', '2026-05-01T10:00:00', '0', true, null]) {
      assert.throws(() => parseTimestamp(v, 'start'), /start must be/, JSON.stringify(v));
    }
  });
});
