import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../../core/errors.ts';
import { BinaryProtocolReader } from '../../core/thrift/binary-protocol-reader.ts';
import { CompactProtocolReader } from '../../core/thrift/compact-protocol-reader.ts';
import { CT, CompactWriter } from '../../core/thrift/testdata/compact-writer.ts';
import { decodeEmitBatch, decodeThriftBatch } from './decode-thrift-batch.ts';
import type { JaegerBatch } from './jaeger-batch.ts';
import { createUdpSender, i64, initTracer, opentracing, quietLogger, type ThriftSpanInput, type ThriftTagInput } from './testdata/jaeger-client.ts';
import { encodeEmitBatchCompact, type BatchSpec, type SpanSpec } from './testdata/thrift-compact-writer.ts';

/** A loopback UDP socket that hands out the datagrams it receives, in order. */
class PacketCatcher {
  readonly #socket = dgram.createSocket('udp4');
  readonly #packets: Buffer[] = [];
  readonly #waiters: ((b: Buffer) => void)[] = [];
  port = 0;

  async start(): Promise<void> {
    this.#socket.on('message', (m) => {
      const w = this.#waiters.shift();
      if (w) w(m);
      else this.#packets.push(m);
    });
    await new Promise<void>((resolve) => this.#socket.bind(0, '127.0.0.1', () => resolve()));
    this.port = this.#socket.address().port;
  }

  next(): Promise<Buffer> {
    const p = this.#packets.shift();
    return p ? Promise.resolve(p) : new Promise((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.#socket.close();
  }
}

const TRACE_HIGH = 0x8000000000000001n; // high bit set: a negative i64 on the wire
const TRACE_LOW = 0x0123456789abcdefn;
const START_US = 1_700_000_000_123_456n;

/** One logical batch, in the test compact writer's shape; `asUdpSenderSpan` gives jaeger-client's shape. */
const SPEC: BatchSpec = {
  process: {
    serviceName: 'orders',
    tags: [
      { key: 'hostname', vType: 0, vStr: 'host-a' },
      { key: 'jaeger.version', vType: 0, vStr: 'Go-2.30.0' },
    ],
  },
  spans: [
    {
      traceIdLow: TRACE_LOW,
      traceIdHigh: TRACE_HIGH,
      spanId: 0xfedcba9876543210n,
      parentSpanId: 0n,
      operationName: 'GET /orders',
      references: [
        { refType: 0, traceIdLow: TRACE_LOW, traceIdHigh: TRACE_HIGH, spanId: 0x1111n },
        { refType: 1, traceIdLow: 0x2222n, traceIdHigh: 0n, spanId: 0x3333n },
      ],
      flags: 1,
      startTime: START_US,
      duration: 1500n,
      tags: [
        { key: 's', vType: 0, vStr: 'text' },
        { key: 'd', vType: 1, vDouble: 2.5 },
        { key: 'b', vType: 2, vBool: true },
        { key: 'l', vType: 3, vLong: -9_007_199_254_740_993n },
        { key: 'small', vType: 3, vLong: 42n },
        { key: 'bin', vType: 4, vBinary: Uint8Array.from([0, 1, 255]) },
      ],
      logs: [{ timestamp: START_US + 10n, fields: [{ key: 'event', vType: 0, vStr: 'retry' }, { key: 'attempt', vType: 3, vLong: 2n }] }],
    },
  ],
};

const EXPECTED: JaegerBatch = {
  process: { serviceName: 'orders', tags: { hostname: 'host-a', 'jaeger.version': 'Go-2.30.0' } },
  spans: [
    {
      traceId: '80000000000000010123456789abcdef',
      spanId: 'fedcba9876543210',
      parentSpanId: '',
      operationName: 'GET /orders',
      references: [
        { refType: 0, traceId: '80000000000000010123456789abcdef', spanId: '0000000000001111' },
        { refType: 1, traceId: '00000000000000000000000000002222', spanId: '0000000000003333' },
      ],
      flags: 1,
      startTimeUnixNano: START_US * 1000n,
      durationNano: 1_500_000n,
      tags: { s: 'text', d: 2.5, b: true, l: -9_007_199_254_740_993n, small: 42, bin: Uint8Array.from([0, 1, 255]) },
      logs: [{ timeUnixNano: (START_US + 10n) * 1000n, fields: { event: 'retry', attempt: 2 } }],
      process: undefined,
    },
  ],
};

const TAG_TYPE_NAMES = ['STRING', 'DOUBLE', 'BOOL', 'LONG', 'BINARY'] as const;

function asUdpSenderSpan(s: SpanSpec): ThriftSpanInput {
  const tag = (t: NonNullable<SpanSpec['tags']>[number]): ThriftTagInput => ({
    key: t.key,
    vType: TAG_TYPE_NAMES[t.vType]!,
    vStr: t.vStr,
    vDouble: t.vDouble,
    vBool: t.vBool,
    vLong: t.vLong === undefined ? undefined : i64(t.vLong),
    vBinary: t.vBinary === undefined ? undefined : Buffer.from(t.vBinary),
  });
  return {
    traceIdLow: i64(s.traceIdLow),
    traceIdHigh: i64(s.traceIdHigh),
    spanId: i64(s.spanId),
    parentSpanId: i64(s.parentSpanId),
    operationName: s.operationName,
    references: (s.references ?? []).map((r) => ({ refType: r.refType === 0 ? 'CHILD_OF' : 'FOLLOWS_FROM', traceIdLow: i64(r.traceIdLow), traceIdHigh: i64(r.traceIdHigh), spanId: i64(r.spanId) })),
    flags: s.flags,
    startTime: i64(s.startTime),
    duration: i64(s.duration),
    tags: (s.tags ?? []).map(tag),
    logs: (s.logs ?? []).map((l) => ({ timestamp: i64(l.timestamp), fields: l.fields.map(tag) })),
  };
}

describe('decodeEmitBatch', () => {
  const catcher = new PacketCatcher();
  before(() => catcher.start());
  after(() => catcher.close());

  it('decodes what a jaeger-client tracer sends over UDP (Thrift binary): 128-bit ids, tags, logs, references', async () => {
    const tracer = initTracer(
      { serviceName: 'frontend', sampler: { type: 'const', param: 1 }, reporter: { agentHost: '127.0.0.1', agentPort: catcher.port, flushIntervalMs: 60_000 } },
      { logger: quietLogger, traceId128bit: true, tags: { 'deployment.env': 'test' } },
    );
    const root = tracer.startSpan('root');
    const before = tracer.startSpan('before', { childOf: root });
    before.finish();
    const child = tracer.startSpan('child', {
      references: [opentracing.childOf(root.context()), opentracing.followsFrom(before.context())],
    });
    child.finish();
    const op = tracer.startSpan('op', { childOf: root, tags: { 'span.kind': 'client', 'peer.port': 8080, ok: false, payload: Buffer.from('hi') } });
    op.log({ event: 'cache miss', key: 'k1' });
    op.finish();
    root.finish();
    await new Promise<void>((resolve) => tracer.close(resolve));
    const batch = decodeEmitBatch(new BinaryProtocolReader(await catcher.next()));

    assert.equal(batch.process?.serviceName, 'frontend');
    assert.equal(batch.process?.tags['deployment.env'], 'test');
    assert.match(String(batch.process?.tags['jaeger.version']), /^Node-3\./);
    assert.equal(typeof batch.process?.tags.hostname, 'string');
    assert.deepEqual(batch.spans.map((s) => s.operationName), ['before', 'child', 'op', 'root']);
    const [bef, ch, o, r] = batch.spans as [JaegerBatch['spans'][0], JaegerBatch['spans'][0], JaegerBatch['spans'][0], JaegerBatch['spans'][0]];
    const ctx = root.context() as unknown as { toTraceId(): string; toSpanId(): string };
    assert.equal(r.traceId, ctx.toTraceId().padStart(32, '0'));
    assert.match(r.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(r.traceId.slice(0, 16), '0000000000000000', '128-bit trace id: traceIdHigh is set');
    assert.equal(r.spanId, ctx.toSpanId().padStart(16, '0'));
    assert.equal(r.parentSpanId, '');
    assert.equal(o.parentSpanId, r.spanId);
    assert.equal(bef.parentSpanId, r.spanId);
    assert.equal(o.traceId, r.traceId);
    assert.equal(ch.parentSpanId, r.spanId);
    assert.deepEqual(ch.references, [
      { refType: 0, traceId: r.traceId, spanId: r.spanId },
      { refType: 1, traceId: r.traceId, spanId: bef.spanId },
    ]);
    assert.deepEqual(o.tags, { 'span.kind': 'client', 'peer.port': 8080, ok: false, payload: Uint8Array.from(Buffer.from('hi')) });
    assert.deepEqual(r.tags, { 'sampler.type': 'const', 'sampler.param': true });
    assert.equal(o.logs.length, 1);
    assert.deepEqual(o.logs[0]!.fields, { event: 'cache miss', key: 'k1' });
    assert.equal(o.flags & 1, 1);
    assert.ok(o.startTimeUnixNano > 1_600_000_000_000_000_000n && o.startTimeUnixNano % 1000n === 0n, 'microseconds became nanoseconds');
    assert.ok(o.logs[0]!.timeUnixNano >= o.startTimeUnixNano);
  });

  it('decodes every tag type, negative i64 ids and both reference types from jaeger-client\'s UDPSender', async () => {
    const sender = createUdpSender('127.0.0.1', catcher.port);
    sender.setProcess({ serviceName: 'orders', tags: [{ key: 'hostname', vType: 'STRING', vStr: 'host-a' }, { key: 'jaeger.version', vType: 'STRING', vStr: 'Go-2.30.0' }] });
    sender.append(asUdpSenderSpan(SPEC.spans[0]!));
    sender.flush();
    const batch = decodeEmitBatch(new BinaryProtocolReader(await catcher.next()));
    sender.close();
    assert.deepEqual(batch, EXPECTED);
  });

  it('decodes the same batch in Thrift compact to the same result', () => {
    assert.deepEqual(decodeEmitBatch(new CompactProtocolReader(encodeEmitBatchCompact(SPEC))), EXPECTED);
  });

  it('decodes golden compact bytes written out by hand from the compact spec', () => {
    // prettier-ignore
    const golden = Buffer.from([
      0x82, 0x81, 0x00, 0x09, ...Buffer.from('emitBatch'), // protocol id, ONEWAY<<5 | version 1, seqid 0, name
      0x1c, //   args field 1, struct
      0x1c, //     Batch.process (field 1, struct)
      0x18, 0x01, 0x61, //   serviceName (1, binary) "a"
      0x00, //     end Process
      0x19, 0x1c, // Batch.spans (2, list) of 1 struct
      0x16, 0x04, // traceIdLow = zigzag(2) → 2
      0x16, 0x00, // traceIdHigh = 0
      0x16, 0x06, // spanId = 3
      0x16, 0x01, // parentSpanId = zigzag(1) → -1
      0x18, 0x02, 0x6f, 0x70, // operationName "op"
      0x25, 0x02, // flags (7, i32; delta 2) = 1
      0x16, 0xe8, 0x07, // startTime = zigzag(1000) → 500
      0x16, 0x14, // duration = 10
      0x00, //       end Span
      0x00, //     end Batch
      0x00, //   end args
    ]);
    const batch = decodeEmitBatch(new CompactProtocolReader(golden));
    assert.deepEqual(batch.spans[0], {
      traceId: '00000000000000000000000000000002',
      spanId: '0000000000000003',
      parentSpanId: 'ffffffffffffffff',
      operationName: 'op',
      references: [],
      flags: 1,
      startTimeUnixNano: 500_000n,
      durationNano: 10_000n,
      tags: {},
      logs: [],
      process: undefined,
    });
    assert.deepEqual(batch.process, { serviceName: 'a', tags: {} });
  });

  it('skips fields it does not know (newer IDLs add Batch.seqNo and stats)', () => {
    const batch = decodeEmitBatch(new CompactProtocolReader(encodeEmitBatchCompact({ ...SPEC, seqNo: 77n })));
    assert.deepEqual(batch, EXPECTED);
  });

  it('refuses emitZipkinBatch, replies and exceptions', () => {
    assert.throws(() => decodeEmitBatch(new CompactProtocolReader(encodeEmitBatchCompact(SPEC, { name: 'emitZipkinBatch' }))), /emitZipkinBatch is not supported/);
    assert.throws(() => decodeEmitBatch(new CompactProtocolReader(encodeEmitBatchCompact(SPEC, { type: 2 }))), /message of type 2/);
    assert.throws(() => decodeEmitBatch(new CompactProtocolReader(encodeEmitBatchCompact(SPEC, { type: 3 }))), /message of type 3/);
  });

  it('refuses a span missing a required field, and a list of the wrong element type', () => {
    const w = new CompactWriter().messageBegin('emitBatch', 4, 0).structBegin().field(CT.STRUCT, 1).structBegin();
    w.field(CT.STRUCT, 1).structBegin().field(CT.BINARY, 1).string('svc').structEnd();
    w.field(CT.LIST, 2).listBegin(CT.STRUCT, 1).structBegin().field(CT.I64, 1).zigzag64(1n).structEnd();
    w.structEnd().structEnd();
    assert.throws(() => decodeEmitBatch(new CompactProtocolReader(w.bytes())), /Span is missing its required field traceIdHigh/);

    const wrongList = new CompactWriter().messageBegin('emitBatch', 4, 0).structBegin().field(CT.STRUCT, 1).structBegin();
    wrongList.field(CT.STRUCT, 1).structBegin().field(CT.BINARY, 1).string('svc').structEnd();
    wrongList.field(CT.LIST, 2).listBegin(CT.I32, 1).zigzag32(5).structEnd().structEnd();
    assert.throws(() => decodeEmitBatch(new CompactProtocolReader(wrongList.bytes())), /Batch.spans should be a list of struct, got a list of i32/);
  });

  it('refuses every truncation of a valid packet with InvalidInputError, in both protocols', async () => {
    const compact = encodeEmitBatchCompact(SPEC);
    const sender = createUdpSender('127.0.0.1', catcher.port);
    sender.setProcess({ serviceName: 'orders', tags: [] });
    sender.append(asUdpSenderSpan(SPEC.spans[0]!));
    sender.flush();
    const binary = await catcher.next();
    sender.close();
    for (const [full, make] of [
      [compact, (b: Buffer) => new CompactProtocolReader(b)],
      [binary, (b: Buffer) => new BinaryProtocolReader(b)],
    ] as const) {
      for (let n = 0; n < full.length; n++) {
        assert.throws(() => decodeEmitBatch(make(full.subarray(0, n))), InvalidInputError, `prefix of ${n} bytes`);
      }
    }
  });
});

describe('decodeThriftBatch', () => {
  it('reads a bare Batch struct (the HTTP body form) and refuses one without spans', () => {
    const w = new CompactWriter().structBegin().field(CT.STRUCT, 1).structBegin().field(CT.BINARY, 1).string('svc').structEnd().structEnd();
    assert.throws(() => decodeThriftBatch(new CompactProtocolReader(w.bytes())), /Batch is missing its required field spans/);
  });
});
