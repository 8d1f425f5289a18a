/**
 * Start and shutdown of the otlp receiver over real sockets: what binds, what an in-flight request
 * gets while the receiver drains, what late requests get, and what the deadline cuts off.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { SpanBatch } from '../../../core/model/span-batch.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { Metrics } from '../../../core/telemetry/metrics.ts';
import { otlpReceiverFactory } from '../../../receivers/otlp/factory.ts';
import { startTestReceiver } from '../../../receivers/otlp/testdata/test-receiver.ts';
import { createRawTraceClient } from './export-raw-grpc.ts';
import { protobufRequest } from '../../../receivers/otlp/testdata/otlp-types.ts';
import { postRaw } from './post-raw.ts';

const PROTOBUF = { 'Content-Type': 'application/x-protobuf' };

/** A `consume` that parks every batch until `release()`; `arrived` resolves on the first one. */
function gate() {
  let release!: () => void;
  let arrived!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const first = new Promise<void>((r) => (arrived = r));
  return {
    consume: async (_batch: SpanBatch) => {
      arrived();
      await released;
    },
    arrived: first,
    release: () => release(),
  };
}

/** Resolves with everything a raw socket receives until the server closes it. */
function readUntilClosed(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', () => undefined);
  });
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('otlp receiver lifecycle', () => {
  it('binds ephemeral ports on start and exposes them; a null transport is not started', async () => {
    const rx = await startTestReceiver({ grpc: null });
    try {
      assert.equal(rx.receiver.grpcPort, undefined);
      assert.ok(rx.receiver.httpPort! > 0);
      assert.equal((await postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF })).status, 200);
    } finally {
      await rx.stop();
    }
  });

  it('rejects start when a port is taken, and leaves the other transport closed', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const takenPort = (blocker.address() as net.AddressInfo).port;
    const settings = { id: 'otlp', kind: 'receiver' as const, logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
    const config = otlpReceiverFactory.configSchema.parse({ grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: `127.0.0.1:${takenPort}` } });
    const receiver = otlpReceiverFactory.create(settings, config, { mutatesData: false, consume: async () => undefined });
    try {
      await assert.rejects(receiver.start({ reportFatal: () => undefined }), { code: 'EADDRINUSE' });
      const grpcPort = (receiver as unknown as { grpcPort: number }).grpcPort;
      assert.ok(await connectRefused(grpcPort), 'the gRPC port was released again');
    } finally {
      await receiver.shutdown(AbortSignal.timeout(1000));
      blocker.close();
    }
  });

  it('shuts down safely without start, and a second shutdown is harmless', async () => {
    const settings = { id: 'otlp', kind: 'receiver' as const, logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
    const receiver = otlpReceiverFactory.create(settings, otlpReceiverFactory.configSchema.parse({}), { mutatesData: false, consume: async () => undefined });
    await receiver.shutdown(AbortSignal.timeout(1000));
    await receiver.shutdown(AbortSignal.timeout(1000));
    // start after shutdown binds nothing (the default ports are never touched).
    await receiver.start({ reportFatal: () => undefined });
  });

  it('over HTTP: finishes an in-flight request during shutdown and answers a late one with 503 and Retry-After', async () => {
    const rx = await startTestReceiver();
    const g = gate();
    rx.consume = g.consume;
    const port = rx.receiver.httpPort!;
    const inFlight = postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF });
    await g.arrived;

    // A second connection has sent half its request when shutdown begins, so it is not idle and
    // stays open; its request completes only afterwards.
    const socket = net.connect(port, '127.0.0.1');
    const received = readUntilClosed(socket);
    const body = protobufRequest();
    socket.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\n');
    // Nothing observable says when the server has parsed those bytes; without them the connection
    // counts as idle and shutdown closes it, which would fail this test rather than pass it wrongly.
    await new Promise((r) => setTimeout(r, 100));

    const shutdown = rx.receiver.shutdown(AbortSignal.timeout(5000));
    assert.ok(await connectRefused(port), 'new connections are refused once shutdown began');
    socket.write(`Content-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body);
    const late = await received;
    assert.match(late, /^HTTP\/1\.1 503 /);
    assert.match(late, /\r\nRetry-After: 1\r\n/i);
    assert.match(late, /\r\nConnection: close\r\n/i);

    g.release();
    const first = await inFlight;
    assert.equal(first.status, 200);
    assert.equal(first.headers.connection, 'close');
    await shutdown;
  });

  it('over gRPC: finishes an in-flight call during shutdown and refuses later calls with UNAVAILABLE', async () => {
    const rx = await startTestReceiver();
    const g = gate();
    rx.consume = g.consume;
    const client = createRawTraceClient(`127.0.0.1:${rx.receiver.grpcPort}`);
    try {
      const inFlight = client.export(protobufRequest());
      await g.arrived;
      const shutdown = rx.receiver.shutdown(AbortSignal.timeout(5000));
      const late = await client.export(protobufRequest());
      assert.equal(late.ok ? GrpcStatus.OK : late.error.code, GrpcStatus.UNAVAILABLE);
      g.release();
      const first = await inFlight;
      assert.ok(first.ok, first.ok ? '' : first.error.message);
      await shutdown;
    } finally {
      client.close();
    }
  });

  it('cuts off requests still in flight when the deadline passes', async () => {
    const rx = await startTestReceiver();
    let arrived = 0;
    let bothArrived!: () => void;
    const both = new Promise<void>((r) => (bothArrived = r));
    rx.consume = () => {
      if (++arrived === 2) bothArrived();
      return new Promise(() => undefined); // never accepts
    };
    const client = createRawTraceClient(`127.0.0.1:${rx.receiver.grpcPort}`);
    try {
      const httpCall = postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF }).then(
        (res) => `status ${res.status}`,
        (err: NodeJS.ErrnoException) => err.code,
      );
      const grpcCall = client.export(protobufRequest());
      await both;
      const started = Date.now();
      await rx.receiver.shutdown(AbortSignal.timeout(200));
      assert.ok(Date.now() - started < 2000, 'shutdown resolved at the deadline');
      assert.equal(await httpCall, 'ECONNRESET');
      const grpcResult = await grpcCall;
      assert.equal(grpcResult.ok, false);
    } finally {
      client.close();
    }
  });
});
