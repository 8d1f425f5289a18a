import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { SkybridgeError } from '../errors.ts';
import { parseContentCoding, readBody } from './read-body.ts';

const LIMIT = 64 * 1024;

/** A server that answers each POST with what readBody made of it: `200 <body>` or `<status> <message>`. */
let server: http.Server;
let port: number;

before(async () => {
  server = http.createServer((req, res) => {
    readBody(req, LIMIT, parseContentCoding(req.headers['content-encoding'])).then(
      (body) => res.writeHead(200).end(body),
      (err: SkybridgeError) => res.writeHead(err.httpStatus, { Connection: 'close' }).end(err.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** POSTs `chunks` one write each (chunked unless `length` is given) and ends the request unless `leaveOpen`. */
function post(chunks: Buffer[], headers: http.OutgoingHttpHeaders = {}, leaveOpen = false): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, method: 'POST', path: '/', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode!, text: Buffer.concat(parts).toString() });
        req.destroy();
      });
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    if (!leaveOpen) req.end();
  });
}

describe('readBody', () => {
  it('reads chunked and Content-Length bodies, plain, gzip, zlib deflate and raw deflate', async () => {
    const text = Buffer.from('x'.repeat(10_000));
    assert.deepEqual(await post([text.subarray(0, 10), text.subarray(10)]), { status: 200, text: text.toString() });
    assert.equal((await post([text], { 'Content-Length': text.length })).text, text.toString());
    for (const [coding, body] of [['gzip', zlib.gzipSync(text)], ['x-gzip', zlib.gzipSync(text)], ['deflate', zlib.deflateSync(text)], ['deflate', zlib.deflateRawSync(text)]] as const) {
      assert.equal((await post([body], { 'Content-Encoding': coding })).text, text.toString(), coding);
    }
  });

  it('keeps an empty body empty whatever its coding', async () => {
    assert.deepEqual(await post([], { 'Content-Encoding': 'gzip' }), { status: 200, text: '' });
    assert.deepEqual(await post([zlib.gzipSync('')], { 'Content-Encoding': 'gzip' }), { status: 200, text: '' });
  });

  it('refuses a declared Content-Length over the limit before reading a byte', async () => {
    const res = await post([Buffer.alloc(1)], { 'Content-Length': LIMIT + 1 }, true);
    assert.equal(res.status, 413);
    assert.match(res.text, /request body is larger than max_request_body_size \(65536 bytes\)/);
  });

  it('refuses a chunked body once it passes the limit on the wire', async () => {
    const res = await post([Buffer.alloc(LIMIT), Buffer.alloc(1)]);
    assert.equal(res.status, 413);
  });

  it('stops inflating a gzip bomb at the limit, before the sender has finished', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const res = await post([bomb.subarray(0, 16 * 1024)], { 'Content-Encoding': 'gzip' }, true);
    assert.equal(res.status, 413);
    assert.match(res.text, /decompressed request body is larger/);
  });

  it('answers corrupt compressed data with 400', async () => {
    const res = await post([Buffer.from('not gzip at all')], { 'Content-Encoding': 'gzip' });
    assert.equal(res.status, 400);
    assert.match(res.text, /Cannot decompress the gzip body/);
  });
});

describe('parseContentCoding', () => {
  it('maps the codings it can undo and refuses the rest with 415', () => {
    assert.equal(parseContentCoding(undefined), 'identity');
    assert.equal(parseContentCoding(' Identity '), 'identity');
    assert.equal(parseContentCoding('none'), 'identity');
    assert.equal(parseContentCoding('GZIP'), 'gzip');
    assert.equal(parseContentCoding('deflate'), 'deflate');
    assert.throws(() => parseContentCoding('br'), (err: SkybridgeError) => err.httpStatus === 415 && /Content-Encoding "br"/.test(err.message));
  });
});
