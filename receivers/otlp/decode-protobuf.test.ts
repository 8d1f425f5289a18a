import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import protobuf from 'protobufjs/minimal.js';
import { InvalidInputError } from '../../core/errors.ts';
import { decodeProtobufTraces } from './decode-protobuf.ts';
import { assertSampleSpans } from './testdata/assert-sample-spans.ts';
import { emitSampleSpans } from './testdata/sample-spans.ts';
import { startTestReceiver, type TestReceiver } from './testdata/test-receiver.ts';

type GrpcOptions = NonNullable<ConstructorParameters<typeof GrpcExporter>[0]>;
type ProtoOptions = NonNullable<ConstructorParameters<typeof ProtoExporter>[0]>;

// --- a few builders for hand-made OTLP protobuf (field numbers from docs/wire-formats.md) ---

type Build = (w: protobuf.Writer) => void;
const LEN = 2;
function message(...parts: Build[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const p of parts) p(w);
  return w.finish();
}
const bytesField = (field: number, bytes: Uint8Array): Build => (w) => void w.uint32((field << 3) | LEN).bytes(bytes);
const stringField = (field: number, s: string): Build => (w) => void w.uint32((field << 3) | LEN).string(s);
const varintField = (field: number, v: number): Build => (w) => void w.uint32(field << 3).uint32(v);
const fixed64Field = (field: number, v: bigint): Build => (w) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  w.uint32((field << 3) | 1).fixed32(b.readUInt32LE(0)).fixed32(b.readUInt32LE(4));
};
const hex = (s: string): Uint8Array => Buffer.from(s, 'hex');

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN_A = 'eee19b7ec3c1b174';
const SPAN_B = 'eee19b7ec3c1b175';

/** KeyValue { 1 key, 2 value: AnyValue } with `value` already encoded as AnyValue fields. */
const kv = (key: string, ...value: Build[]): Uint8Array => message(stringField(1, key), bytesField(2, message(...value)));
const span = (...fields: Build[]): Uint8Array => message(...fields);
const idSpan = (traceId: string, spanId: string, name: string, ...more: Build[]): Uint8Array =>
  span(bytesField(1, hex(traceId)), bytesField(2, hex(spanId)), stringField(5, name), ...more);
/** ExportTraceServiceRequest { resource_spans { resource { attributes }, scope_spans { scope, spans } } }. */
function request(spans: Uint8Array[], resourceAttrs: Uint8Array[] = [kv('service.name', stringField(1, 'svc'))]): Uint8Array {
  const scopeSpans = message(bytesField(1, message(stringField(1, 'scope'))), ...spans.map((s) => bytesField(2, s)));
  const resource = message(...resourceAttrs.map((a) => bytesField(1, a)));
  return message(bytesField(1, message(bytesField(1, resource), bytesField(2, scopeSpans))));
}

describe('decodeProtobufTraces', () => {
  describe('with bytes from the OTel JS exporters', () => {
    let rx: TestReceiver;
    before(async () => {
      rx = await startTestReceiver();
    });
    after(() => rx.stop());

    const cases: Array<[string, () => SpanExporter]> = [
      ['exporter-trace-otlp-grpc', () => new GrpcExporter({ url: rx.grpcUrl })],
      // Sends `grpc-encoding: gzip`; grpc-js inflates it before the receiver sees the bytes.
      ['exporter-trace-otlp-grpc with gzip', () => new GrpcExporter({ url: rx.grpcUrl, compression: 'gzip' as GrpcOptions['compression'] })],
      ['exporter-trace-otlp-proto', () => new ProtoExporter({ url: rx.httpUrl })],
      // Sends `Content-Encoding: gzip` with a chunked body.
      ['exporter-trace-otlp-proto with gzip', () => new ProtoExporter({ url: rx.httpUrl, compression: 'gzip' as ProtoOptions['compression'] })],
    ];
    for (const [name, makeExporter] of cases) {
      it(`round-trips every field from ${name}`, async () => {
        rx.batches.length = 0;
        const ids = await emitSampleSpans(makeExporter());
        assertSampleSpans(rx.batches, ids);
      });
    }
  });

  it('decodes an empty request as an empty batch', () => {
    const out = decodeProtobufTraces(new Uint8Array(0));
    assert.deepEqual(out, { batch: { resourceSpans: [] }, spanCount: 0, rejectedSpans: 0, rejectMessage: '' });
  });

  it('reads int64 values as numbers while they are safe integers and as bigints beyond', () => {
    const int = (key: string, v: string): Uint8Array => kv(key, (w) => void w.uint32(24).int64(v));
    const out = decodeProtobufTraces(
      request([
        idSpan(TRACE, SPAN_A, 's', ...[
          int('zero', '0'),
          int('minus_one', '-1'),
          int('max_safe', '9007199254740991'),
          int('min_safe', '-9007199254740991'),
          int('two_pow_53', '9007199254740992'),
          int('min_safe_minus_one', '-9007199254740992'),
          int('max', '9223372036854775807'),
          int('min', '-9223372036854775808'),
          int('two_pow_32', '4294967296'),
        ].map((a) => bytesField(9, a))),
      ]),
    );
    assert.deepEqual(out.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes, {
      zero: 0,
      minus_one: -1,
      max_safe: 9007199254740991,
      min_safe: -9007199254740991,
      two_pow_53: 9007199254740992n,
      min_safe_minus_one: -9007199254740992n,
      max: 9223372036854775807n,
      min: -9223372036854775808n,
      two_pow_32: 4294967296,
    });
  });

  it('decodes bytes, kvlist and nested array values, and leaves out values with no variant set', () => {
    const attrs = [
      kv('bytes', bytesField(7, Uint8Array.of(0, 1, 255))),
      kv('kv', bytesField(6, message(bytesField(1, kv('inner', stringField(1, 'x'))), bytesField(1, kv('n', varintField(3, 5)))))),
      kv('nested', bytesField(5, message(bytesField(1, message(bytesField(5, message(bytesField(1, message(varintField(2, 1))))))), bytesField(1, message())))),
      kv('empty'),
      kv('__proto__', stringField(1, 'own property')),
      kv('double', (w) => void w.uint32(33).double(-2.5)),
    ];
    const out = decodeProtobufTraces(request([idSpan(TRACE, SPAN_A, 's', ...attrs.map((a) => bytesField(9, a)))]));
    const got = out.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
    assert.deepEqual(got.bytes, Uint8Array.of(0, 1, 255));
    assert.deepEqual(got.kv, { inner: 'x', n: 5 });
    assert.deepEqual(got.nested, [[true]]);
    assert.equal(Object.hasOwn(got, 'empty'), false);
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(got, '__proto__')?.value, 'own property');
    assert.equal(got.double, -2.5);
  });

  it('skips unknown fields of every wire type, and known fields sent with the wrong wire type', () => {
    const unknown: Build[] = [
      varintField(99, 7),
      stringField(100, 'future'),
      (w) => void w.uint32((101 << 3) | 5).fixed32(1),
      fixed64Field(102, 1n),
      // A group (wire types 3/4), long deprecated but still legal protobuf.
      (w) => void w.uint32((103 << 3) | 3).uint32(8).uint32(1).uint32((103 << 3) | 4),
      // `name` (5) as a varint instead of a string: not the field, so it is skipped.
      varintField(5, 1),
    ];
    const out = decodeProtobufTraces(request([idSpan(TRACE, SPAN_A, 'kept', ...unknown)], [kv('k', stringField(1, 'v'), varintField(42, 1))]));
    assert.equal(out.spanCount, 1);
    const rs = out.batch.resourceSpans[0]!;
    assert.deepEqual(rs.resource.attributes, { k: 'v' });
    assert.equal(rs.scopeSpans[0]!.spans[0]!.name, 'kept');
  });

  it('reads unknown enum values as UNSPECIFIED/UNSET', () => {
    const out = decodeProtobufTraces(request([idSpan(TRACE, SPAN_A, 's', varintField(6, 42), bytesField(15, message(varintField(3, 9))))]));
    const s = out.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(s.kind, 0);
    assert.equal(s.status.code, 0);
  });

  it('leaves out spans with unusable ids, counts them, and keeps the others', () => {
    const out = decodeProtobufTraces(
      request([
        idSpan(TRACE, SPAN_A, 'good root'),
        span(bytesField(1, hex(TRACE.slice(2))), bytesField(2, hex(SPAN_A)), stringField(5, 'short trace id')),
        idSpan(TRACE, '0000000000000000', 'zero span id'),
        span(bytesField(2, hex(SPAN_A)), stringField(5, 'no trace id')),
        idSpan('00000000000000000000000000000000', SPAN_A, 'zero trace id'),
        idSpan(TRACE, SPAN_B, 'bad parent', bytesField(4, hex('abcd'))),
        idSpan(TRACE, SPAN_B, 'zero parent', bytesField(4, hex('0000000000000000'))),
      ]),
    );
    assert.equal(out.rejectedSpans, 5);
    assert.equal(out.spanCount, 2);
    const spans = out.batch.resourceSpans[0]!.scopeSpans[0]!.spans;
    assert.deepEqual(spans.map((s) => s.name), ['good root', 'zero parent']);
    // An all-zero parent is read as "no parent".
    assert.equal(spans[1]!.parentSpanId, '');
    assert.match(out.rejectMessage, /^5 spans were rejected .*resource_spans\[0\]\.scope_spans\[0\]\.spans\[1\]: trace_id must be 16 bytes/);
  });

  it('leaves out spans whose times cannot be clock readings (after 2100-01-01), counts them, and keeps the others', () => {
    const out = decodeProtobufTraces(
      request([
        idSpan(TRACE, SPAN_A, 'now', fixed64Field(7, 1_700_000_000_000_000_000n), fixed64Field(8, 1_700_000_000_050_000_000n)),
        idSpan(TRACE, SPAN_B, 'top bit set', fixed64Field(7, 2n ** 63n), fixed64Field(8, 2n ** 63n + 5n)),
      ]),
    );
    assert.equal(out.spanCount, 1);
    assert.equal(out.rejectedSpans, 1);
    assert.match(out.rejectMessage, /spans\[1\]: its start time is after 2100-01-01/);
  });

  it('omits resources whose spans were all rejected', () => {
    const out = decodeProtobufTraces(request([idSpan(TRACE, '0000000000000000', 'zero span id')]));
    assert.deepEqual(out.batch.resourceSpans, []);
    assert.equal(out.rejectedSpans, 1);
    assert.equal(out.spanCount, 0);
  });

  it('drops a link with unusable ids and counts it on its span', () => {
    const goodLink = message(bytesField(1, hex(TRACE)), bytesField(2, hex(SPAN_B)));
    const badLink = message(bytesField(1, hex(TRACE)), bytesField(2, hex('00')));
    const out = decodeProtobufTraces(request([idSpan(TRACE, SPAN_A, 's', bytesField(13, badLink), bytesField(13, goodLink), varintField(14, 2))]));
    const s = out.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.deepEqual(s.links.map((l) => l.spanId), [SPAN_B]);
    // dropped_links_count (14) came after the bad link here; it is the sender's count and wins.
    assert.equal(s.droppedLinksCount, 2);
    assert.equal(out.rejectedSpans, 0);
  });

  it('throws InvalidInputError at every truncation point', () => {
    const bytes = request([idSpan(TRACE, SPAN_A, 'a'), idSpan(TRACE, SPAN_B, 'b', fixed64Field(7, 1_700_000_000_000_000_000n))]);
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.throws(() => decodeProtobufTraces(bytes.subarray(0, cut)), InvalidInputError, `cut at ${cut}`);
    }
    // Every length prefix is checked on entry, so a truncated body is caught at the outermost one.
    assert.throws(
      () => decodeProtobufTraces(bytes.subarray(0, bytes.length - 3)),
      (err: Error) => err instanceof InvalidInputError && /length \d+ runs past the end of the enclosing message \(\d+ bytes left\) \(in ExportTraceServiceRequest at byte 2 of \d+/.test(err.message),
    );
  });

  it('names the message, byte offset and span where a malformed field sits', () => {
    // The second span's start_time_unix_nano (fixed64) has only 3 of its 8 bytes, inside well-formed lengths.
    const broken = Buffer.concat([idSpan(TRACE, SPAN_B, 'b'), Buffer.from([57, 1, 2, 3])]);
    const bytes = request([idSpan(TRACE, SPAN_A, 'a'), broken]);
    assert.throws(
      () => decodeProtobufTraces(bytes),
      (err: Error) =>
        err instanceof InvalidInputError &&
        /^Cannot decode OTLP protobuf ExportTraceServiceRequest: fixed64 needs 8 bytes, 3 left \(in Span at byte \d+ of \d+, resource_spans\[0\]\.scope_spans\[0\]\.spans\[1\]\)\.$/.test(err.message),
    );
  });

  it('throws InvalidInputError for a length that runs past its enclosing message', () => {
    // A span whose declared length (50) is longer than the ScopeSpans holding it.
    const bytes = message(bytesField(1, message(bytesField(2, message((w) => void w.uint32(18).uint32(50).string('x'.repeat(10)))))));
    assert.throws(() => decodeProtobufTraces(bytes), (err: Error) => err instanceof InvalidInputError && /runs past the end of the enclosing message/.test(err.message));
  });

  it('throws InvalidInputError for attribute values nested too deeply', () => {
    let value = message(stringField(1, 'leaf'));
    for (let i = 0; i < 40; i++) value = message(bytesField(5, message(bytesField(1, value))));
    const bytes = request([idSpan(TRACE, SPAN_A, 's', bytesField(9, message(stringField(1, 'deep'), bytesField(2, value))))]);
    assert.throws(() => decodeProtobufTraces(bytes), (err: Error) => err instanceof InvalidInputError && /nested deeper than 32 levels/.test(err.message));
  });

  it('throws only InvalidInputError on random bytes', () => {
    // A fixed-seed generator keeps the case reproducible.
    let seed = 0x2545f491;
    const next = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const valid = request([idSpan(TRACE, SPAN_A, 'a', bytesField(9, kv('k', stringField(1, 'v'))))]);
    for (let i = 0; i < 2000; i++) {
      // Half pure noise, half a valid request with a few bytes flipped (reaches deeper code paths).
      const bytes = i % 2 === 0 ? Buffer.alloc(next() % 64) : Buffer.from(valid);
      if (i % 2 === 0) for (let j = 0; j < bytes.length; j++) bytes[j] = next() & 0xff;
      else for (let j = 0; j < 3; j++) bytes[next() % bytes.length] = next() & 0xff;
      try {
        decodeProtobufTraces(bytes);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `input ${bytes.toString('hex')} threw ${String(err)}`);
      }
    }
  });
});
