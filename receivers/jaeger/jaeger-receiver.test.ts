import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { Client, credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Counter } from 'prom-client';
import type { ComponentSettings } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { OverloadedError, type SkybridgeError } from '../../core/errors.ts';
import { countSpans, type SpanBatch } from '../../core/model/span-batch.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { CT, CompactWriter } from '../../core/thrift/testdata/compact-writer.ts';
import { postHeadersOnly } from '../../test/support/post-headers-only.ts';
import { jaegerConfigSchema } from './config.ts';
import { jaegerReceiverFactory } from './factory.ts';
import { POST_SPANS_PATH } from './grpc-collector-server.ts';
import type { JaegerReceiver } from './receiver.ts';
import { encodeBatchBinary, initTracer, quietLogger, thriftSpan } from './testdata/jaeger-client.ts';
import { encodePostSpansRequest } from './testdata/post-spans-writer.ts';
import { encodeEmitBatchCompact, type BatchSpec } from './testdata/thrift-compact-writer.ts';

/** A next stage that records what it accepted, or refuses, or never answers, as told. */
class TestConsumer implements TraceConsumer {
  readonly mutatesData = false;
  readonly received: { batch: SpanBatch; ctx: ConsumeContext }[] = [];
  mode: 'accept' | 'hang' | SkybridgeError = 'accept';
  /** Thrown by `admit`, as the runtime's `next` does while the admission ledger is full. */
  admitWith: SkybridgeError | undefined;
  readonly #hanging: (() => void)[] = [];

  consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    if (this.mode === 'hang') return new Promise((resolve) => this.#hanging.push(resolve));
    if (this.mode !== 'accept') return Promise.reject(this.mode);
    this.received.push({ batch, ctx });
    return Promise.resolve();
  }

  admit(): void {
    if (this.admitWith !== undefined) throw this.admitWith;
  }

  get pending(): number {
    return this.#hanging.length;
  }

  release(): void {
    for (const r of this.#hanging.splice(0)) r();
  }

  get spans(): number {
    return this.received.reduce((n, r) => n + countSpans(r.batch), 0);
  }
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function total(counter: Counter<string>, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

const SPEC: BatchSpec = {
  process: { serviceName: 'udp-svc', tags: [{ key: 'hostname', vType: 0, vStr: 'h' }] },
  spans: [1n, 2n, 3n].map((id) => ({
    traceIdLow: 0xabcn, traceIdHigh: 0n, spanId: id, parentSpanId: 0n, operationName: `op${id}`, flags: 1,
    startTime: 1_700_000_000_000_000n, duration: 10n,
  })),
};

const TEST_CONFIG = {
  protocols: {
    thrift_compact: { endpoint: '127.0.0.1:0', queue_size: 1 },
    thrift_binary: { endpoint: '127.0.0.1:0', max_packet_size: '2KiB' },
    thrift_http: { endpoint: '127.0.0.1:0', max_request_body_size: '1KiB' },
    grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size: '1KiB' },
  },
};

describe('jaeger receiver config', () => {
  it('serves all four protocols on Jaeger\'s ports by default', () => {
    const cfg = jaegerConfigSchema.parse({});
    assert.deepEqual(cfg.protocols, {
      thrift_compact: { endpoint: 'localhost:6831', max_packet_size: 65000, queue_size: 1000 },
      thrift_binary: { endpoint: 'localhost:6832', max_packet_size: 65000, queue_size: 1000 },
      thrift_http: { endpoint: 'localhost:14268', max_request_body_size: 4 * 1024 * 1024, connections: { max: 4096, header_timeout: 10_000, request_timeout: 60_000, idle_timeout: 60_000 } },
      grpc: { endpoint: 'localhost:14250', max_recv_msg_size: 4 * 1024 * 1024, connections: { max_connection_idle: 300_000, max_connection_age_grace: 30_000, keepalive_time: 7_200_000, keepalive_timeout: 20_000 } },
    });
  });

  it('switches a protocol off with null, refuses all off, unknown keys and packets above 64KiB', () => {
    assert.equal(jaegerConfigSchema.parse({ protocols: { grpc: null } }).protocols.grpc, null);
    const allOff = jaegerConfigSchema.safeParse({ protocols: { thrift_compact: null, thrift_binary: null, thrift_http: null, grpc: null } });
    assert.match(String(allOff.error?.issues[0]?.message), /listen nowhere/);
    assert.equal(jaegerConfigSchema.safeParse({ protocols: { thrift_udp: {} } }).success, false);
    assert.equal(jaegerConfigSchema.safeParse({ thrift_http: {} }).success, false);
    assert.equal(jaegerConfigSchema.safeParse({ protocols: { thrift_compact: { max_packet_size: '1MiB' } } }).success, false);
  });
});

describe('jaeger receiver', () => {
  const metrics = new Metrics();
  const logLines: string[] = [];
  const logger = createLogger({
    level: 'warn',
    destination: new Writable({ write: (chunk: Buffer, _enc, cb) => (logLines.push(chunk.toString()), cb()) }),
  });
  const settings: ComponentSettings = { id: 'jaeger', kind: 'receiver', logger, metrics };
  const next = new TestConsumer();
  const receiver = jaegerReceiverFactory.create(settings, jaegerConfigSchema.parse(TEST_CONFIG), next) as JaegerReceiver;
  const udp = dgram.createSocket('udp4');
  let grpc: Client;

  const sendUdp = (port: number | undefined, packet: Buffer): Promise<void> =>
    new Promise((resolve, reject) => udp.send(packet, port!, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  const post = (body: Uint8Array, headers: Record<string, string> = { 'Content-Type': 'application/x-thrift' }, path = '/api/traces', method = 'POST') =>
    fetch(`http://127.0.0.1:${receiver.thriftHttpPort}${path}`, { method, headers, body: method === 'POST' ? new Blob([Buffer.from(body)]) : undefined });
  const postSpans = (body: Buffer): Promise<{ error: ServiceError | null; response?: Buffer }> =>
    new Promise((resolve) => {
      grpc.makeUnaryRequest(POST_SPANS_PATH, (b: Buffer) => b, (b: Buffer) => b, body, (error, response) => resolve({ error, response }));
    });
  const binaryBody = (): Buffer => encodeBatchBinary({ serviceName: 'http-svc', tags: [] }, [thriftSpan(), thriftSpan({ spanId: Buffer.from('0000000000000002', 'hex') })]);

  before(async () => {
    await receiver.start({ reportFatal: (id, err) => assert.fail(`${id} reported ${err.message}`) });
    grpc = new Client(`127.0.0.1:${receiver.grpcPort}`, credentials.createInsecure());
  });
  afterEach(() => {
    next.mode = 'accept';
    next.admitWith = undefined;
    next.release();
    next.received.length = 0;
  });
  after(async () => {
    grpc.close();
    udp.close();
    await receiver.shutdown(AbortSignal.timeout(2000));
  });

  it('exposes its bound ports and says where it listens', () => {
    for (const port of [receiver.thriftCompactPort, receiver.thriftBinaryPort, receiver.thriftHttpPort, receiver.grpcPort]) {
      assert.ok(port !== undefined && port > 0);
    }
    const lines = receiver.describe();
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, new RegExp(`UDP 127\\.0\\.0\\.1:${receiver.thriftCompactPort}; no acknowledgement possible`));
    assert.match(lines[2]!, new RegExp(`POST http://127\\.0\\.0\\.1:${receiver.thriftHttpPort}/api/traces`));
    assert.match(lines[3]!, /jaeger\.api_v2\.CollectorService\/PostSpans/);
  });

  describe('UDP', () => {
    it('accepts Agent.emitBatch in compact on thrift_compact and binary on thrift_binary', async () => {
      await sendUdp(receiver.thriftCompactPort, encodeEmitBatchCompact(SPEC));
      await eventually(() => next.spans === 3, 'the compact batch');
      assert.deepEqual(next.received[0]!.ctx, { receiver: 'jaeger', transport: 'thrift_compact' });
      assert.equal(next.received[0]!.batch.resourceSpans[0]!.resource.attributes['service.name'], 'udp-svc');

      const tracer = initTracer(
        { serviceName: 'node-svc', sampler: { type: 'const', param: 1 }, reporter: { agentHost: '127.0.0.1', agentPort: receiver.thriftBinaryPort!, flushIntervalMs: 60_000 } },
        { logger: quietLogger },
      );
      tracer.startSpan('from-jaeger-client').finish();
      await new Promise<void>((resolve) => tracer.close(resolve));
      await eventually(() => next.spans === 4, 'the jaeger-client batch');
      assert.equal(next.received[1]!.ctx.transport, 'thrift_binary');
      assert.equal(next.received[1]!.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.name, 'from-jaeger-client');
      assert.equal(await total(metrics.receiverRequests, { transport: 'thrift_binary', status: 'ok' }), 1);
    });

    it('counts and drops truncated, garbage, lying and oversized packets, and keeps serving', async () => {
      const dropsBefore = await total(metrics.droppedSpans, { component: 'jaeger', reason: 'invalid_input' });
      const good = encodeEmitBatchCompact(SPEC);
      const hugeList = new CompactWriter().messageBegin('emitBatch', 4, 0).structBegin().field(CT.STRUCT, 1).structBegin();
      hugeList.field(CT.STRUCT, 1).structBegin().field(CT.BINARY, 1).string('s').structEnd().field(CT.LIST, 2).raw(0xfc).varint(0xffffffff);
      const hugeString = new CompactWriter().raw(0x82, 0x81, 0).varint(0xfffffff0);
      const bad = [good.subarray(0, good.length - 3), Buffer.from('GET / HTTP/1.1\r\n\r\n'), hugeList.bytes(), hugeString.bytes(), Buffer.alloc(0)];
      for (const packet of bad) await sendUdp(receiver.thriftCompactPort, packet);
      await eventually(async () => (await total(metrics.receiverRequests, { transport: 'thrift_compact', status: 'invalid' })) === bad.length, 'the invalid packets to be counted');
      assert.equal(await total(metrics.droppedSpans, { component: 'jaeger', reason: 'invalid_input' }), dropsBefore + bad.length);

      const oversize = Buffer.alloc(3000);
      await sendUdp(receiver.thriftBinaryPort, oversize);
      await eventually(async () => (await total(metrics.droppedSpans, { reason: 'payload_too_large' })) === 1, 'the oversized packet');

      await sendUdp(receiver.thriftCompactPort, good);
      await eventually(() => next.spans === 3, 'a good packet after the bad ones');
      const burst = logLines.filter((l) => l.includes('could not be used') && l.includes('"transport":"thrift_compact"'));
      assert.equal(burst.length, 1, 'one log line for the burst of bad packets');
    });

    it('counts spans the pipeline refuses as refused_downstream, logging once per burst', async () => {
      next.mode = new OverloadedError('full');
      const before = logLines.length;
      for (let i = 0; i < 3; i++) await sendUdp(receiver.thriftCompactPort, encodeEmitBatchCompact(SPEC));
      await eventually(async () => (await total(metrics.droppedSpans, { reason: 'refused_downstream' })) === 9, '9 refused spans');
      assert.equal(await total(metrics.receiverRequests, { transport: 'thrift_compact', status: 'refused' }), 3);
      assert.equal(logLines.slice(before).filter((l) => l.includes('pipeline refused')).length, 1);
    });

    it('drops packets beyond queue_size while the pipeline is busy, as queue_full', async () => {
      next.mode = 'hang';
      await sendUdp(receiver.thriftCompactPort, encodeEmitBatchCompact(SPEC)); // held by the pipeline (queue_size 1)
      await eventually(() => next.pending === 1, 'the first packet to be held');
      await sendUdp(receiver.thriftCompactPort, encodeEmitBatchCompact(SPEC));
      await eventually(async () => (await total(metrics.droppedSpans, { reason: 'queue_full' })) === 3, 'queue_full drops');
      next.release();
    });
  });

  describe('HTTP POST /api/traces', () => {
    it('answers 202 with no body once the pipeline accepted the batch', async () => {
      const res = await post(binaryBody());
      assert.equal(res.status, 202);
      assert.equal(await res.text(), '');
      assert.equal(next.spans, 2);
      assert.deepEqual(next.received[0]!.ctx, { receiver: 'jaeger', transport: 'thrift_http' });
      const alt = await post(binaryBody(), { 'Content-Type': 'application/vnd.apache.thrift.binary; charset=binary' });
      assert.equal(alt.status, 202);
    });

    it('accepts what jaeger-client\'s HTTP sender posts', async () => {
      const tracer = initTracer(
        { serviceName: 'http-client', sampler: { type: 'const', param: 1 }, reporter: { collectorEndpoint: `http://127.0.0.1:${receiver.thriftHttpPort}/api/traces`, flushIntervalMs: 60_000 } },
        { logger: quietLogger },
      );
      tracer.startSpan('posted').finish();
      await new Promise<void>((resolve) => tracer.close(resolve));
      await eventually(() => next.spans === 1, 'the posted span');
      assert.equal(await total(metrics.receiverRequests, { transport: 'thrift_http', status: '202' }), 3);
    });

    it('answers 415 for another content type, 400 for bad Thrift, 413 above max_request_body_size', async () => {
      const wrongType = await post(binaryBody(), { 'Content-Type': 'application/json' });
      assert.equal(wrongType.status, 415);
      assert.match(await wrongType.text(), /application\/x-thrift/);
      const compact = await post(new CompactWriter().structBegin().structEnd().bytes(), { 'Content-Type': 'application/vnd.apache.thrift.compact' });
      assert.equal(compact.status, 415);

      const bad = await post(Buffer.from([0x0c, 0x00, 0x01, 0x0b, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff]));
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /Malformed Thrift/);
      const truncated = binaryBody().subarray(0, 50);
      assert.equal((await post(truncated)).status, 400);

      const big = encodeBatchBinary({ serviceName: 'x', tags: [] }, [thriftSpan({ operationName: 'x'.repeat(2000) })]);
      const tooLarge = await post(big);
      assert.equal(tooLarge.status, 413);
      assert.equal(next.spans, 0);
    });

    it('answers 404 elsewhere, 405 for other methods, and 429 with Retry-After when the pipeline is full', async () => {
      assert.equal((await post(binaryBody(), undefined, '/v1/traces')).status, 404);
      const get = await post(Buffer.alloc(0), {}, '/api/traces', 'GET');
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST');
      next.mode = new OverloadedError('full', 2000);
      const refused = await post(binaryBody());
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '2');
    });

    it('answers 429 before reading the body while there is no room, and serves again after', async () => {
      next.admitWith = new OverloadedError('full', 3000);
      const refused = await postHeadersOnly(`http://127.0.0.1:${receiver.thriftHttpPort}/api/traces`, 500, { 'Content-Type': 'application/x-thrift' });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers['retry-after'], '3');
      assert.equal(refused.headers.connection, 'close');
      next.admitWith = undefined;
      assert.equal((await post(binaryBody())).status, 202);
      assert.equal(next.spans, 2);
    });
  });

  describe('gRPC PostSpans', () => {
    const request = encodePostSpansRequest({
      process: { serviceName: 'grpc-svc' },
      spans: [{ traceId: '0000000000000000000000000000abcd', spanId: '0000000000000001', operationName: 'op', startTimeNs: 1_700_000_000_000_000_000n, durationNs: 1000n }],
    });

    it('answers an empty PostSpansResponse once the pipeline accepted the spans', async () => {
      const { error, response } = await postSpans(request);
      assert.equal(error, null);
      assert.equal(response?.length, 0);
      assert.equal(next.spans, 1);
      assert.deepEqual(next.received[0]!.ctx, { receiver: 'jaeger', transport: 'grpc' });
    });

    it('answers INVALID_ARGUMENT for a bad message, RESOURCE_EXHAUSTED above max_recv_msg_size, the refusal\'s code otherwise', async () => {
      assert.equal((await postSpans(Buffer.from([0x0a, 0xff, 0x01]))).error?.code, GrpcStatus.INVALID_ARGUMENT);
      assert.equal((await postSpans(Buffer.alloc(2048, 0))).error?.code, GrpcStatus.RESOURCE_EXHAUSTED);
      next.mode = new OverloadedError('full');
      assert.equal((await postSpans(request)).error?.code, GrpcStatus.RESOURCE_EXHAUSTED);
      assert.equal(next.spans, 0);
      assert.equal(await total(metrics.receiverRequests, { transport: 'grpc', status: 'INVALID_ARGUMENT' }), 1);
    });
  });

  it('shuts down idempotently and stops listening', async () => {
    const other = jaegerReceiverFactory.create(settings, jaegerConfigSchema.parse(TEST_CONFIG), next) as JaegerReceiver;
    await other.start({ reportFatal: () => {} });
    const port = other.thriftHttpPort;
    await Promise.all([other.shutdown(AbortSignal.timeout(1000)), other.shutdown(AbortSignal.timeout(1000))]);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/api/traces`, { method: 'POST' }));
    const never = jaegerReceiverFactory.create(settings, jaegerConfigSchema.parse(TEST_CONFIG), next);
    await never.shutdown(AbortSignal.timeout(1000)); // safe without start
  });
});
