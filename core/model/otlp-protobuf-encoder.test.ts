import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HrTime } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import protobuf from 'protobufjs';
import { decodeProtobufTraces } from '../../receivers/otlp/decode-protobuf.ts';
import { encodeExportTraceServiceRequest } from './otlp-protobuf-encoder.ts';
import type { AttributeValue, Attributes, Span, SpanBatch } from './span-batch.ts';

/**
 * A generic reader for the bytes under test: protobufjs's reflection decoder over the OTLP field
 * numbers and types (docs/wire-formats.md). It shares no code with the encoder, and the first test
 * checks it against the bytes the OpenTelemetry JS SDK's own serializer emits.
 */
const otlp = protobuf.Root.fromJSON({
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: {
      fields: {
        resource: { type: 'Resource', id: 1 },
        scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 },
        schemaUrl: { type: 'string', id: 3 },
      },
    },
    Resource: {
      fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 }, droppedAttributesCount: { type: 'uint32', id: 2 } },
    },
    ScopeSpans: {
      fields: {
        scope: { type: 'InstrumentationScope', id: 1 },
        spans: { rule: 'repeated', type: 'Span', id: 2 },
        schemaUrl: { type: 'string', id: 3 },
      },
    },
    InstrumentationScope: {
      fields: {
        name: { type: 'string', id: 1 },
        version: { type: 'string', id: 2 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
        droppedAttributesCount: { type: 'uint32', id: 4 },
      },
    },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        traceState: { type: 'string', id: 3 },
        parentSpanId: { type: 'bytes', id: 4 },
        flags: { type: 'fixed32', id: 16 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        droppedAttributesCount: { type: 'uint32', id: 10 },
        events: { rule: 'repeated', type: 'Event', id: 11 },
        droppedEventsCount: { type: 'uint32', id: 12 },
        links: { rule: 'repeated', type: 'Link', id: 13 },
        droppedLinksCount: { type: 'uint32', id: 14 },
        status: { type: 'Status', id: 15 },
      },
    },
    Event: {
      fields: {
        timeUnixNano: { type: 'fixed64', id: 1 },
        name: { type: 'string', id: 2 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
        droppedAttributesCount: { type: 'uint32', id: 4 },
      },
    },
    Link: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        traceState: { type: 'string', id: 3 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 4 },
        droppedAttributesCount: { type: 'uint32', id: 5 },
        flags: { type: 'fixed32', id: 6 },
      },
    },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
        arrayValue: { type: 'ArrayValue', id: 5 },
        kvlistValue: { type: 'KeyValueList', id: 6 },
        bytesValue: { type: 'bytes', id: 7 },
      },
    },
    ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
    KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
  },
});
const ExportTraceServiceRequest = otlp.lookupType('ExportTraceServiceRequest');

// Plain-object view of decoded bytes. `defaults: false` keeps only the fields present on the wire,
// so an omitted field (a root's parent id) is visible as a missing key.
// Decoded shapes are checked by value against expectations, so their static type adds nothing.
type Decoded = Record<string, any>;
function decode(bytes: Uint8Array, defaults = false): Decoded {
  const message = ExportTraceServiceRequest.decode(bytes);
  return ExportTraceServiceRequest.toObject(message, { longs: String, bytes: String, defaults, arrays: true });
}

/** An absent Span.status reads as the default Status (proto3 message fields). */
function withDefaultStatus(request: Decoded): Decoded {
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) s.status ??= { message: '', code: 0 };
  return request;
}

const hex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');

/** What an attribute value must decode to: the encoding rules the encoder promises. */
function expectedAnyValue(v: AttributeValue): Decoded {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'bigint') return { intValue: String(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(expectedAnyValue) } };
  return { kvlistValue: { values: expectedKeyValues(v as Attributes) } };
}

function expectedKeyValues(attrs: Attributes): Decoded[] {
  return Object.entries(attrs).map(([key, value]) => ({ key, value: expectedAnyValue(value) }));
}

const T0 = 1_767_225_600_123_456_789n; // 2026-01-01T00:00:00.123456789Z: needs more than 53 bits

function span(overrides: Partial<Span> & Pick<Span, 'spanId' | 'name'>): Span {
  return {
    traceId: '5b8efff798038103d269b633813fc60c',
    parentSpanId: '',
    traceState: '',
    flags: 0x101,
    kind: 2,
    startTimeUnixNano: T0,
    endTimeUnixNano: T0 + 2_500_000n,
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    ...overrides,
  };
}

/** Two services' spans in the shapes OTel JS sends: HTTP server/client, remote parent, events, links. */
function sdkShapedBatch(): SpanBatch {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: {
            'service.name': 'frontend',
            'service.instance.id': 'frontend-7d9f',
            'process.pid': 4242,
            'process.command_args': ['node', 'server.js'],
            'telemetry.sdk.language': 'nodejs',
          },
          droppedAttributesCount: 0,
        },
        schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
        scopeSpans: [
          {
            scope: { name: '@opentelemetry/instrumentation-http', version: '0.223.0', attributes: {}, droppedAttributesCount: 0 },
            schemaUrl: '',
            spans: [
              span({
                spanId: 'eee19b7ec3c1b174',
                name: 'GET /api/checkout',
                kind: 2,
                traceState: 'vendor=a1,other=b2',
                attributes: {
                  'http.request.method': 'GET',
                  'http.response.status_code': 200,
                  'url.full': 'http://shop.local/api/checkout?id=7',
                  'http.server.request.duration': 0.0025,
                  'http.request.header.accept': ['application/json', 'text/html'],
                  'feature.enabled': false,
                },
                droppedAttributesCount: 3,
                events: [
                  { timeUnixNano: T0 + 1_000n, name: 'request.read', attributes: { 'bytes.read': 512 }, droppedAttributesCount: 0 },
                  {
                    timeUnixNano: T0 + 2_000_000n,
                    name: 'exception',
                    attributes: { 'exception.type': 'TypeError', 'exception.message': 'x is undefined' },
                    droppedAttributesCount: 1,
                  },
                ],
                droppedEventsCount: 2,
                links: [
                  {
                    traceId: '0af7651916cd43dd8448eb211c80319c',
                    spanId: 'b7ad6b7169203331',
                    traceState: 'congo=t61rcWkgMzE',
                    attributes: { 'link.reason': 'batch' },
                    droppedAttributesCount: 0,
                    flags: 0x301,
                  },
                ],
                droppedLinksCount: 1,
                status: { code: 2, message: 'upstream failed' },
              }),
              span({
                spanId: '00f067aa0ba902b7',
                parentSpanId: 'eee19b7ec3c1b174',
                name: 'POST',
                kind: 3,
                startTimeUnixNano: T0 + 100_000n,
                endTimeUnixNano: T0 + 2_000_000n,
                attributes: { 'server.address': 'orders', 'server.port': 8080, 'http.request.method': 'POST' },
                status: { code: 1, message: '' },
              }),
            ],
          },
        ],
      },
      {
        resource: { attributes: { 'service.name': 'orders', 'host.name': 'node-2' }, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeSpans: [
          {
            scope: { name: 'orders-app', version: '', attributes: { 'scope.kind': 'manual' }, droppedAttributesCount: 0 },
            schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
            spans: [
              span({
                spanId: '53995c3f42cd8ad8',
                parentSpanId: '00f067aa0ba902b7',
                flags: 0x301,
                name: 'POST /orders',
                kind: 2,
                startTimeUnixNano: T0 + 300_000n,
                endTimeUnixNano: T0 + 1_900_000n,
                attributes: { 'http.route': '/orders', 'thread.id': 1 },
              }),
              span({
                spanId: 'a3ce929d0e0e4736',
                parentSpanId: '53995c3f42cd8ad8',
                flags: 0x100, // not sampled: W3C flags 0, "has is-remote" set
                name: 'validate',
                kind: 1,
                startTimeUnixNano: T0 + 400_000n,
                endTimeUnixNano: T0 + 500_000n,
              }),
            ],
          },
        ],
      },
    ],
  };
}

const hrTime = (ns: bigint): HrTime => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
const traceStateOf = (s: string) => (s === '' ? undefined : { serialize: () => s });

/**
 * The same spans as the SDK's ReadableSpan, for OTel JS's own serializer. Only the members that
 * serializer reads are filled; one resource and one scope object per group, because it groups by
 * object identity.
 */
function toReadableSpans(batch: SpanBatch): ReadableSpan[] {
  const out: ReadableSpan[] = [];
  for (const rs of batch.resourceSpans) {
    const resource = { attributes: rs.resource.attributes, schemaUrl: rs.schemaUrl || undefined };
    for (const ss of rs.scopeSpans) {
      const instrumentationScope = { name: ss.scope.name, version: ss.scope.version || undefined, schemaUrl: ss.schemaUrl || undefined, attributes: ss.scope.attributes };
      for (const s of ss.spans) {
        const context = (traceId: string, spanId: string, flags: number, traceState: string) => ({
          traceId,
          spanId,
          traceFlags: flags & 0xff,
          isRemote: (flags & 0x200) !== 0,
          traceState: traceStateOf(traceState),
        });
        out.push({
          name: s.name,
          kind: s.kind - 1, // the API's SpanKind has no UNSPECIFIED
          spanContext: () => context(s.traceId, s.spanId, s.flags, s.traceState),
          parentSpanContext: s.parentSpanId === '' ? undefined : { ...context(s.traceId, s.parentSpanId, s.flags, ''), isRemote: (s.flags & 0x200) !== 0 },
          startTime: hrTime(s.startTimeUnixNano),
          endTime: hrTime(s.endTimeUnixNano),
          attributes: s.attributes,
          droppedAttributesCount: s.droppedAttributesCount,
          events: s.events.map((e) => ({ time: hrTime(e.timeUnixNano), name: e.name, attributes: e.attributes, droppedAttributesCount: e.droppedAttributesCount })),
          droppedEventsCount: s.droppedEventsCount,
          links: s.links.map((l) => ({ context: context(l.traceId, l.spanId, l.flags, l.traceState), attributes: l.attributes, droppedAttributesCount: l.droppedAttributesCount })),
          droppedLinksCount: s.droppedLinksCount,
          status: s.status,
          resource,
          instrumentationScope,
          duration: [0, 0],
          ended: true,
        } as unknown as ReadableSpan);
      }
    }
  }
  return out;
}

describe('encodeExportTraceServiceRequest', () => {
  it('encodes the same message as the OpenTelemetry JS serializer for the same spans', () => {
    const batch = sdkShapedBatch();
    const ours = encodeExportTraceServiceRequest(batch);
    const theirs = ProtobufTraceSerializer.serializeRequest(toReadableSpans(batch));
    assert.ok(theirs, 'the SDK serializer produced bytes');
    // Compared with defaults filled in: the SDK writes some zero-valued fields that we leave out,
    // and an UNSET status with no message, which reads the same as no status at all.
    assert.deepEqual(withDefaultStatus(decode(ours, true)), withDefaultStatus(decode(theirs, true)));
  });

  it('writes every span field to its OTLP field number and wire type', () => {
    const batch = sdkShapedBatch();
    const got = decode(encodeExportTraceServiceRequest(batch));
    assert.equal(got.resourceSpans.length, batch.resourceSpans.length);
    batch.resourceSpans.forEach((rs, i) => {
      const grs = got.resourceSpans[i];
      assert.deepEqual(grs.resource.attributes, expectedKeyValues(rs.resource.attributes));
      assert.equal(grs.schemaUrl, rs.schemaUrl || undefined);
      rs.scopeSpans.forEach((ss, j) => {
        const gss = grs.scopeSpans[j];
        assert.equal(gss.scope.name, ss.scope.name);
        assert.equal(gss.scope.version, ss.scope.version || undefined);
        assert.deepEqual(gss.scope.attributes, expectedKeyValues(ss.scope.attributes));
        assert.equal(gss.schemaUrl, ss.schemaUrl || undefined);
        assert.equal(gss.spans.length, ss.spans.length);
        ss.spans.forEach((s, k) => {
          const g = gss.spans[k];
          const where = `span ${s.name}`;
          assert.equal(hex(g.traceId), s.traceId, where);
          assert.equal(hex(g.spanId), s.spanId, where);
          assert.equal(g.traceState, s.traceState || undefined, where);
          assert.equal(g.name, s.name, where);
          assert.equal(g.kind, s.kind, where);
          assert.equal(g.flags, s.flags, where);
          assert.equal(g.startTimeUnixNano, String(s.startTimeUnixNano), where);
          assert.equal(g.endTimeUnixNano, String(s.endTimeUnixNano), where);
          assert.deepEqual(g.attributes, expectedKeyValues(s.attributes), where);
          assert.equal(g.droppedAttributesCount, s.droppedAttributesCount || undefined, where);
          assert.equal(g.droppedEventsCount, s.droppedEventsCount || undefined, where);
          assert.equal(g.droppedLinksCount, s.droppedLinksCount || undefined, where);
          assert.deepEqual(
            g.events,
            s.events.map((e) => ({
              timeUnixNano: String(e.timeUnixNano),
              name: e.name,
              attributes: expectedKeyValues(e.attributes),
              ...(e.droppedAttributesCount ? { droppedAttributesCount: e.droppedAttributesCount } : {}),
            })),
            where,
          );
          assert.deepEqual(
            g.links,
            s.links.map((l) => ({
              traceId: Buffer.from(l.traceId, 'hex').toString('base64'),
              spanId: Buffer.from(l.spanId, 'hex').toString('base64'),
              traceState: l.traceState,
              attributes: expectedKeyValues(l.attributes),
              flags: l.flags,
            })),
            where,
          );
          const status: Decoded = {};
          if (s.status.message) status.message = s.status.message;
          if (s.status.code) status.code = s.status.code;
          assert.deepEqual(g.status, s.status.code || s.status.message ? status : undefined, where);
          if (s.parentSpanId === '') assert.equal('parentSpanId' in g, false, `${where}: a root span carries no parent_span_id`);
          else assert.equal(hex(g.parentSpanId), s.parentSpanId, where);
        });
      });
    });
  });

  it('writes integers as int_value, other numbers as double_value, objects as kvlist and arrays as array_value', () => {
    const attributes: Attributes = {
      zero: 0,
      negative: -42,
      'max.safe': Number.MAX_SAFE_INTEGER,
      'beyond.safe': 2 ** 60, // an exact double above 2^53 is still an integer
      'int64.max': 2n ** 63n - 1n,
      'int64.min': -(2n ** 63n),
      'uint64.huge': 2n ** 64n, // outside int64: kept as a double, not wrapped
      half: 0.5,
      nan: Number.NaN,
      'too.big.for.int64': 1e20,
      'empty.string': '',
      bytes: new Uint8Array([0, 1, 254, 255]),
      buffer: Buffer.from('ab', 'utf8'),
      nested: { level: 1, deeper: { list: [1, 'two', { three: 3.5 }] }, flag: true },
      empty: [],
      mixed: ['a', 2, 2.5, false, [3n]],
    };
    const s = span({ spanId: '1111111111111111', name: 'values', attributes });
    const bytes = encodeExportTraceServiceRequest({
      resourceSpans: [{ resource: { attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [{ scope: { name: '', version: '', attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', spans: [s] }] }],
    });
    const got = decode(bytes).resourceSpans[0].scopeSpans[0].spans[0].attributes as Decoded[];
    const byKey = Object.fromEntries(got.map((kv) => [kv.key, kv.value]));
    assert.deepEqual(byKey.zero, { intValue: '0' });
    assert.deepEqual(byKey.negative, { intValue: '-42' });
    assert.deepEqual(byKey['max.safe'], { intValue: String(Number.MAX_SAFE_INTEGER) });
    assert.deepEqual(byKey['beyond.safe'], { intValue: String(2n ** 60n) });
    assert.deepEqual(byKey['int64.max'], { intValue: '9223372036854775807' });
    assert.deepEqual(byKey['int64.min'], { intValue: '-9223372036854775808' });
    assert.deepEqual(byKey['uint64.huge'], { doubleValue: 2 ** 64 });
    assert.deepEqual(byKey.half, { doubleValue: 0.5 });
    assert.ok(Number.isNaN(byKey.nan.doubleValue));
    assert.deepEqual(byKey['too.big.for.int64'], { doubleValue: 1e20 });
    assert.deepEqual(byKey['empty.string'], { stringValue: '' }, 'an empty string is still a set variant');
    assert.deepEqual(byKey.bytes, { bytesValue: Buffer.from([0, 1, 254, 255]).toString('base64') });
    assert.deepEqual(byKey.buffer, { bytesValue: Buffer.from('ab').toString('base64') }, 'a Buffer is bytes, not a kvlist');
    assert.deepEqual(byKey.nested, expectedAnyValue(attributes.nested!));
    assert.deepEqual(byKey.empty, { arrayValue: { values: [] } });
    assert.deepEqual(byKey.mixed, expectedAnyValue(attributes.mixed!));
  });

  it('encodes an empty batch as an empty message', () => {
    assert.equal(encodeExportTraceServiceRequest({ resourceSpans: [] }).length, 0);
  });

  it('round-trips unchanged through the OTLP receiver protobuf decoder', () => {
    const batch = sdkShapedBatch();
    // Integers the decoder reads back as bigint (beyond 2^53), and values only our model carries.
    batch.resourceSpans[1]!.scopeSpans[0]!.spans[0]!.attributes = {
      'big.int': 2n ** 60n + 1n,
      'negative.big': -(2n ** 62n),
      bytes: new Uint8Array([1, 2, 3]),
      nested: { a: [1, { b: 'c' }], d: 1.25 },
    };
    // As the decoder stores it: an own property, not the object's prototype.
    Object.defineProperty(batch.resourceSpans[1]!.scopeSpans[0]!.spans[0]!.attributes, '__proto__', {
      value: 'a key a sender controls',
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const decoded = decodeProtobufTraces(encodeExportTraceServiceRequest(batch));
    assert.equal(decoded.rejectedSpans, 0);
    assert.deepEqual(decoded.batch, batch);
  });
});
