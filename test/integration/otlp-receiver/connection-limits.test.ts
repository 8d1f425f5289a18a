/**
 * The receivers' `connections:` limits over real sockets. HTTP: connections past `max` are closed
 * as they arrive while the open ones keep working, a client that never finishes its headers is cut
 * off after `header_timeout`, and an idle keep-alive connection after `idle_timeout`. gRPC: an idle
 * connection is closed after `max_connection_idle`, and the client reconnects on its next call.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startTestReceiver, type TestReceiver } from '../../../receivers/otlp/testdata/test-receiver.ts';
import { createRawTraceClient } from './export-raw-grpc.ts';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with how long the server took to close `socket` (ms), or rejects after `limitMs`. */
function closedWithin(socket: net.Socket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${limitMs} ms`)), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.resume();
  });
}

describe('HTTP receiver connection limits', () => {
  let receiver: TestReceiver;
  const open: net.Socket[] = [];
  after(async () => {
    for (const s of open) s.destroy();
    await receiver?.stop();
  });

  it('closes connections past max, cuts off slow headers and idle connections, and keeps serving', async () => {
    receiver = await startTestReceiver({ grpc: null, http: { connections: { max: 3, header_timeout: '300ms', idle_timeout: '300ms' } } });
    const port = Number(new URL(receiver.httpUrl).port);
    for (let i = 0; i < 3; i++) open.push(await connect(port));
    // Watched from the start, so a close is seen whenever it comes.
    const cutOff = open.slice(0, 3).map((s) => closedWithin(s, 3_000));
    // The fourth is accepted by the kernel and closed by the server at once.
    const extra = await connect(port);
    open.push(extra);
    await closedWithin(extra, 2_000);

    // The three open ones have sent nothing: each is cut off once header_timeout passes.
    const cut = await Promise.all(cutOff);
    for (const ms of cut) assert.ok(ms >= 200, `closed after ${ms} ms, not before the header timeout`);

    // With slots free again a real request is served; its keep-alive connection is closed when idle.
    const answer = await fetch(receiver.httpUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"resourceSpans":[]}' });
    assert.equal(answer.status, 200);
    const keepAlive = await connect(port);
    open.push(keepAlive);
    keepAlive.write(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"resourceSpans":[]}`);
    const [first] = (await once(keepAlive, 'data')) as [Buffer];
    assert.match(first.toString(), /^HTTP\/1\.1 200/);
    await closedWithin(keepAlive, 3_000);
  });
});

describe('gRPC receiver connection limits', () => {
  it('closes a connection idle for max_connection_idle; the client reconnects on its next call', async () => {
    const receiver = await startTestReceiver({ http: null, grpc: { connections: { max_connection_idle: '1s' } } });
    const address = receiver.grpcUrl.replace(/^https?:\/\//, '');
    const client = createRawTraceClient(address);
    try {
      assert.equal((await client.export(Buffer.alloc(0))).ok, true);
      assert.equal(client.state(), grpc.connectivityState.READY);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      // The server sent GOAWAY and closed it: the channel went back to IDLE.
      assert.equal(client.state(), grpc.connectivityState.IDLE);
      assert.equal((await client.export(Buffer.alloc(0))).ok, true);
    } finally {
      client.close();
      await receiver.stop();
    }
  });
});
