import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { InvalidInputError } from '../../core/errors.ts';
import { decodeJsonTraces } from './decode-json.ts';
import { assertSampleSpans } from './testdata/assert-sample-spans.ts';
import { emitSampleSpans } from './testdata/sample-spans.ts';
import { startTestReceiver, type TestReceiver } from './testdata/test-receiver.ts';

type HttpOptions = NonNullable<ConstructorParameters<typeof HttpJsonExporter>[0]>;

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN_A = 'eee19b7ec3c1b174';
const SPAN_B = 'eee19b7ec3c1b175';

/** A request with one resource and one scope around `spans`. */
const request = (spans: unknown[], resource: unknown = { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }) =>
  JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'scope' }, spans }] }] });
const decode = (json: string) => decodeJsonTraces(Buffer.from(json));
const firstSpan = (json: string) => decode(json).batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;

describe('decodeJsonTraces', () => {
  describe('with bodies from the OTel JS exporter', () => {
    let rx: TestReceiver;
    before(async () => {
      rx = await startTestReceiver();
    });
    after(() => rx.stop());

    it('round-trips every field from exporter-trace-otlp-http (JSON)', async () => {
      rx.batches.length = 0;
      const ids = await emitSampleSpans(new HttpJsonExporter({ url: rx.httpUrl }));
      assertSampleSpans(rx.batches, ids);
    });

    it('round-trips every field from exporter-trace-otlp-http (JSON) with gzip', async () => {
      rx.batches.length = 0;
      // Sends `Content-Encoding: gzip` with a chunked body.
      const ids = await emitSampleSpans(new HttpJsonExporter({ url: rx.httpUrl, compression: 'gzip' as HttpOptions['compression'] }));
      assertSampleSpans(rx.batches, ids);
    });
  });

  it('accepts snake_case keys, enum names, 64-bit integers as strings or numbers and upper-case hex', () => {
    const s = firstSpan(
      request([
        {
          trace_id: TRACE.toUpperCase(),
          span_id: SPAN_A,
          parent_span_id: SPAN_B.toUpperCase(),
          trace_state: 'a=b',
          name: 'snake',
          kind: 'SPAN_KIND_PRODUCER',
          start_time_unix_nano: '1700000000123456789',
          end_time_unix_nano: 1_700_000_001_000_000_000,
          dropped_attributes_count: '3',
          dropped_events_count: 4,
          flags: 769,
          status: { code: 'STATUS_CODE_ERROR', message: 'bad' },
          events: [{ time_unix_nano: '1700000000500000001', name: 'e', dropped_attributes_count: 1 }],
        },
      ]),
    );
    assert.equal(s.traceId, TRACE);
    assert.equal(s.parentSpanId, SPAN_B);
    assert.equal(s.traceState, 'a=b');
    assert.equal(s.kind, 4);
    assert.equal(s.startTimeUnixNano, 1_700_000_000_123_456_789n);
    assert.equal(s.endTimeUnixNano, 1_700_000_001_000_000_000n);
    assert.equal(s.droppedAttributesCount, 3);
    assert.equal(s.droppedEventsCount, 4);
    assert.equal(s.flags, 769);
    assert.deepEqual(s.status, { code: 2, message: 'bad' });
    assert.deepEqual(s.events, [{ timeUnixNano: 1_700_000_000_500_000_001n, name: 'e', attributes: {}, droppedAttributesCount: 1 }]);
  });

  it('decodes every AnyValue variant', () => {
    const s = firstSpan(
      request([
        {
          traceId: TRACE,
          spanId: SPAN_A,
          attributes: [
            { key: 's', value: { stringValue: 'x' } },
            { key: 'b', value: { boolValue: false } },
            { key: 'i_number', value: { intValue: 42 } },
            { key: 'i_string', value: { intValue: '-42' } },
            { key: 'i_big', value: { intValue: '9223372036854775807' } },
            { key: 'd', value: { doubleValue: 1.5 } },
            { key: 'd_nan', value: { doubleValue: 'NaN' } },
            { key: 'd_inf', value: { double_value: '-Infinity' } },
            { key: 'bytes', value: { bytesValue: 'AAH/' } },
            { key: 'bytes_urlsafe', value: { bytesValue: '-_8' } },
            { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }, {}, { arrayValue: { values: [] } }] } } },
            { key: 'kv', value: { kvlistValue: { values: [{ key: 'inner', value: { boolValue: true } }, { key: 'novalue' }] } } },
            { key: 'empty', value: {} },
            { key: 'null', value: null },
            { key: '__proto__', value: { stringValue: 'own property' } },
          ],
        },
      ]),
    );
    const a = s.attributes;
    assert.equal(a.s, 'x');
    assert.equal(a.b, false);
    assert.equal(a.i_number, 42);
    assert.equal(a.i_string, -42);
    assert.equal(a.i_big, 9223372036854775807n);
    assert.equal(a.d, 1.5);
    assert.ok(Number.isNaN(a.d_nan));
    assert.equal(a.d_inf, -Infinity);
    assert.deepEqual(a.bytes, Uint8Array.of(0, 1, 255));
    assert.deepEqual(a.bytes_urlsafe, Uint8Array.of(0xfb, 0xff));
    assert.deepEqual(a.arr, ['a', 1, []]);
    assert.deepEqual(a.kv, { inner: true });
    assert.equal(Object.hasOwn(a, 'empty'), false);
    assert.equal(Object.hasOwn(a, 'null'), false);
    assert.equal(Object.getPrototypeOf(a), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(a, '__proto__')?.value, 'own property');
  });

  it('ignores unknown keys and reads null or absent fields as their defaults', () => {
    const out = decode(
      JSON.stringify({
        futureField: { x: 1 },
        resourceSpans: [
          {
            resource: null,
            schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
            scopeSpans: [{ scope: null, spans: [{ traceId: TRACE, spanId: SPAN_A, name: null, status: null, events: null, unknown: [1, 2], kind: 99 }] }],
          },
        ],
      }),
    );
    assert.deepEqual(out.batch.resourceSpans[0]!.resource, { attributes: {}, droppedAttributesCount: 0 });
    assert.equal(out.batch.resourceSpans[0]!.schemaUrl, 'https://opentelemetry.io/schemas/1.21.0');
    const s = out.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(s.name, '');
    assert.equal(s.kind, 0);
    assert.equal(s.startTimeUnixNano, 0n);
    assert.deepEqual(s.status, { code: 0, message: '' });
    assert.deepEqual(s.events, []);
  });

  it('decodes a request without resourceSpans as an empty batch', () => {
    assert.deepEqual(decode('{}'), { batch: { resourceSpans: [] }, spanCount: 0, rejectedSpans: 0, rejectMessage: '' });
  });

  it('leaves out spans with unusable ids (including base64 ids), counts them, and keeps the others', () => {
    const out = decode(
      request([
        { traceId: TRACE, spanId: SPAN_A, name: 'good' },
        // protobuf's canonical JSON would write bytes as base64; OTLP/JSON requires hex.
        { traceId: Buffer.from(TRACE, 'hex').toString('base64'), spanId: SPAN_A, name: 'base64 trace id' },
        { traceId: TRACE, spanId: 'zzzzzzzzzzzzzzzz', name: 'not hex' },
        { traceId: TRACE, name: 'no span id' },
        { traceId: '00000000000000000000000000000000', spanId: SPAN_A, name: 'zero trace id' },
        { traceId: TRACE, spanId: SPAN_B, parentSpanId: 'abc', name: 'bad parent' },
        { traceId: TRACE, spanId: SPAN_B, parentSpanId: '0000000000000000', name: 'zero parent' },
        { traceId: TRACE, spanId: SPAN_B, parentSpanId: '', name: 'empty parent' },
      ]),
    );
    assert.equal(out.rejectedSpans, 5);
    assert.equal(out.spanCount, 3);
    assert.deepEqual(
      out.batch.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => [s.name, s.parentSpanId]),
      [['good', ''], ['zero parent', ''], ['empty parent', '']],
    );
    assert.match(out.rejectMessage, /^5 spans were rejected .*resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[1\]: trace_id must be 16 bytes/);
  });

  it('drops a link with unusable ids and counts it on its span', () => {
    const s = firstSpan(
      request([{ traceId: TRACE, spanId: SPAN_A, links: [{ traceId: TRACE, spanId: 'ab' }, { traceId: TRACE, spanId: SPAN_B, flags: 257 }] }]),
    );
    assert.deepEqual(s.links, [{ traceId: TRACE, spanId: SPAN_B, traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 257 }]);
    assert.equal(s.droppedLinksCount, 1);
  });

  it('throws InvalidInputError for a body that is not JSON', () => {
    assert.throws(() => decode('{"resourceSpans": ['), (err: Error) => err instanceof InvalidInputError && /^Cannot decode OTLP\/JSON ExportTraceServiceRequest: /.test(err.message));
  });

  it('throws InvalidInputError naming the path of a field with the wrong type', () => {
    const cases: Array<[string, RegExp]> = [
      ['[]', /at the top level: expected an object, got an array/],
      ['null', /at the top level: expected an object, got null/],
      [JSON.stringify({ resourceSpans: {} }), /at resourceSpans: expected an array, got an object/],
      [request([{ traceId: TRACE, spanId: SPAN_A, startTimeUnixNano: 'soon' }]), /at resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.startTimeUnixNano: expected unix nanoseconds/],
      [request([{ traceId: TRACE, spanId: SPAN_A, startTimeUnixNano: -1 }]), /spans\[0\]\.startTimeUnixNano: expected unix nanoseconds/],
      [request([{ traceId: TRACE, spanId: SPAN_A, name: 7 }]), /spans\[0\]\.name: expected a string, got number 7/],
      [request([{ traceId: TRACE, spanId: SPAN_A, attributes: [{ key: 'k', value: { intValue: 1.5 } }] }]), /spans\[0\]\.attributes\["k"\]: value \{"intValue":1\.5\} does not match its type/],
      [request([{ traceId: TRACE, spanId: SPAN_A, attributes: [{ key: 'k', value: { intValue: '99999999999999999999' } }] }]), /attributes\["k"\]: value/],
      [request([{ traceId: TRACE, spanId: SPAN_A, attributes: [{ key: 'k', value: { bytesValue: 'not base64!' } }] }]), /attributes\["k"\]: value/],
      [request([{ traceId: TRACE, spanId: SPAN_A, events: [{}, { timeUnixNano: true }] }]), /spans\[0\]\.events\[1\]\.timeUnixNano: expected unix nanoseconds/],
      [request([{ traceId: TRACE, spanId: SPAN_A, links: [{ traceId: TRACE, spanId: SPAN_B, flags: -1 }] }]), /spans\[0\]\.links\[0\]\.flags: expected an unsigned 32-bit integer/],
      [request([{ traceId: TRACE, spanId: SPAN_A, kind: true }]), /spans\[0\]\.kind: expected an enum number or name/],
      [request([], { attributes: 'service.name=x' }), /at resourceSpans\[0\]\.resource\.attributes: expected an array, got string/],
    ];
    for (const [json, expected] of cases) {
      assert.throws(() => decode(json), (err: Error) => err instanceof InvalidInputError && expected.test(err.message), json);
    }
  });

  it('throws InvalidInputError for attribute values nested too deeply', () => {
    let value: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < 40; i++) value = { arrayValue: { values: [value] } };
    assert.throws(
      () => decode(request([{ traceId: TRACE, spanId: SPAN_A, attributes: [{ key: 'deep', value }] }])),
      (err: Error) => err instanceof InvalidInputError && /attributes\["deep"\]: values nested deeper than 32 levels/.test(err.message),
    );
  });
});
