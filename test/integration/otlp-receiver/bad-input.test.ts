/**
 * The otlp receiver facing malformed, oversized, hostile and refused requests over real sockets. Each
 * case also checks that the receiver keeps serving afterwards: a receiver that crashed or wedged on
 * bad input would fail the good request that follows.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { OverloadedError, UnavailableError } from '../../../core/errors.ts';
import { startTestReceiver, type TestReceiver } from '../../../receivers/otlp/testdata/test-receiver.ts';
import { createRawTraceClient } from './export-raw-grpc.ts';
import { decodeExportResponse, decodeStatus, jsonRequest, protobufRequest } from '../../../receivers/otlp/testdata/otlp-types.ts';
import { postRaw, type RawPost } from './post-raw.ts';

const PROTOBUF = { 'Content-Type': 'application/x-protobuf' };
const JSON_TYPE = { 'Content-Type': 'application/json' };
const LIMIT = 1024 * 1024;

describe('otlp receiver with bad input', () => {
  let rx: TestReceiver;
  let grpcClient: ReturnType<typeof createRawTraceClient>;
  const accept = async (batch: Parameters<TestReceiver['consume']>[0]): Promise<void> => {
    rx.batches.push(batch);
  };

  before(async () => {
    rx = await startTestReceiver({ grpc: { max_recv_msg_size: '1MiB' }, http: { max_request_body_size: '1MiB' } });
    grpcClient = createRawTraceClient(`127.0.0.1:${rx.receiver.grpcPort}`);
  });
  after(async () => {
    grpcClient.close();
    await rx.stop();
  });
  afterEach(() => {
    rx.consume = accept;
  });

  async function assertHttpStillServes(opts: RawPost = {}): Promise<void> {
    const before = rx.batches.length;
    const res = await postRaw(rx.httpUrl, protobufRequest(), { ...opts, headers: PROTOBUF });
    assert.equal(res.status, 200, `a good request after the bad one got ${res.status} ${res.body.toString()}`);
    assert.equal(rx.batches.length, before + 1);
  }

  async function assertGrpcStillServes(): Promise<void> {
    const res = await grpcClient.export(protobufRequest());
    assert.ok(res.ok, `a good request after the bad one failed: ${res.ok ? '' : res.error.message}`);
  }

  async function requestCount(transport: string, status: string): Promise<number> {
    const m = (await rx.metrics.receiverRequests.get()).values.find((v) => v.labels.transport === transport && v.labels.status === status);
    return m?.value ?? 0;
  }

  describe('over HTTP', () => {
    it('answers truncated protobuf with 400 and a protobuf google.rpc.Status saying where it broke', async () => {
      const good = protobufRequest(3);
      const res = await postRaw(rx.httpUrl, good.subarray(0, good.length - 5), { headers: PROTOBUF });
      assert.equal(res.status, 400);
      assert.equal(res.headers['content-type'], 'application/x-protobuf');
      const status = decodeStatus(res.body);
      assert.equal(status.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(status.message, /^Cannot decode OTLP protobuf ExportTraceServiceRequest: .*at byte \d+ of \d+/);
      await assertHttpStillServes();
    });

    it('answers invalid JSON with 400 and a JSON Status', async () => {
      const res = await postRaw(rx.httpUrl, '{"resourceSpans": [', { headers: { 'Content-Type': 'application/json; charset=utf-8' } });
      assert.equal(res.status, 400);
      assert.equal(res.headers['content-type'], 'application/json');
      const body = JSON.parse(res.body.toString());
      assert.equal(body.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(body.message, /^Cannot decode OTLP\/JSON ExportTraceServiceRequest/);
      await assertHttpStillServes();
    });

    it('answers a JSON body with a wrongly typed field with 400 naming the field', async () => {
      const json = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), startTimeUnixNano: 'yesterday' }] }] }] });
      const res = await postRaw(rx.httpUrl, json, { headers: JSON_TYPE });
      assert.equal(res.status, 400);
      assert.match(JSON.parse(res.body.toString()).message, /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.startTimeUnixNano/);
    });

    it('answers hostile nesting under a huge attribute key with 400 and a short body naming a cut key', async () => {
      const depth = 4_106;
      const value = '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth) + '{"stringValue":"x"}' + '}]}}'.repeat(depth);
      const key = 'k'.repeat(500_000);
      const json = `{"resourceSpans":[{"resource":{"attributes":[{"key":"${key}","value":${value}}]},"scopeSpans":[]}]}`;
      const res = await postRaw(rx.httpUrl, json, { headers: JSON_TYPE });
      assert.equal(res.status, 400, 'garbage is never answered with a retryable status');
      assert.ok(res.body.length < 1_000, `the answer does not echo the key: ${res.body.length} bytes`);
      assert.match(JSON.parse(res.body.toString()).message, /kkkk… \(500000 characters\).*nested deeper than 32 levels/);
      await assertHttpStillServes();
    });

    it('answers an unsupported or missing Content-Type with 415', async () => {
      for (const headers of [{ 'Content-Type': 'text/plain' }, { 'Content-Type': 'application/protobuf-ish' }, {}]) {
        const res = await postRaw(rx.httpUrl, protobufRequest(), { headers });
        assert.equal(res.status, 415, JSON.stringify(headers));
        assert.match(JSON.parse(res.body.toString()).message, /send application\/x-protobuf or application\/json/);
      }
      await assertHttpStillServes();
    });

    it('answers an unsupported Content-Encoding with 415', async () => {
      const res = await postRaw(rx.httpUrl, protobufRequest(), { headers: { ...PROTOBUF, 'Content-Encoding': 'br' } });
      assert.equal(res.status, 415);
      assert.match(decodeStatus(res.body).message, /Content-Encoding "br" is not supported/);
      await assertHttpStillServes();
    });

    it('answers other paths with 404 and other methods with 405 and Allow: POST', async () => {
      const notFound = await postRaw(rx.httpUrl.replace('/v1/traces', '/v1/metrics'), protobufRequest(), { headers: PROTOBUF });
      assert.equal(notFound.status, 404);
      const wrongMethod = await postRaw(rx.httpUrl, '', { method: 'GET' });
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.allow, 'POST');
      const withQuery = await postRaw(`${rx.httpUrl}?x=1`, protobufRequest(), { headers: PROTOBUF });
      assert.equal(withQuery.status, 200);
    });

    it('answers a body over max_request_body_size with 413, with or without Content-Length', async () => {
      const big = Buffer.alloc(LIMIT + 1);
      const declared = await postRaw(rx.httpUrl, big, { headers: PROTOBUF });
      assert.equal(declared.status, 413);
      assert.equal(decodeStatus(declared.body).code, GrpcStatus.RESOURCE_EXHAUSTED);
      assert.match(decodeStatus(declared.body).message, /larger than max_request_body_size \(1048576 bytes\)/);
      const chunked = await postRaw(rx.httpUrl, big, { headers: PROTOBUF, chunked: true });
      assert.equal(chunked.status, 413);
      await assertHttpStillServes();
    });

    it('answers a gzip bomb with 413 after inflating no more than the limit', async () => {
      // 64 MiB of zeros gzips to about 64 KiB, far below the limit on the wire.
      const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
      assert.ok(bomb.length < LIMIT);
      const res = await postRaw(rx.httpUrl, bomb, { headers: { ...PROTOBUF, 'Content-Encoding': 'gzip' } });
      assert.equal(res.status, 413);
      assert.match(decodeStatus(res.body).message, /decompressed request body is larger than max_request_body_size/);
      await assertHttpStillServes();
    });

    it('answers a gzip bomb with 413 before the sender even finished sending it', { timeout: 10_000 }, async () => {
      // Only the first part of the bomb is written and the request is left open: the 413 can only
      // come from inflating as the bytes arrive and stopping at the limit, not from reading it all.
      const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
      const res = await postRaw(rx.httpUrl, bomb.subarray(0, 16 * 1024), { headers: { ...JSON_TYPE, 'Content-Encoding': 'gzip' }, chunked: true, leaveOpen: true });
      assert.equal(res.status, 413);
      assert.equal(res.headers.connection, 'close');
      await assertHttpStillServes();
    });

    it('answers corrupt gzip with 400', async () => {
      const gz = zlib.gzipSync(protobufRequest());
      gz.writeUInt8(gz.readUInt8(gz.length - 6) ^ 0xff, gz.length - 6); // break the CRC32 trailer
      const res = await postRaw(rx.httpUrl, gz, { headers: { ...PROTOBUF, 'Content-Encoding': 'gzip' } });
      assert.equal(res.status, 400);
      assert.match(decodeStatus(res.body).message, /Cannot decompress the gzip body/);
      await assertHttpStillServes();
    });

    it('accepts gzip, zlib deflate and raw deflate bodies', async () => {
      const cases: Array<[string, Buffer]> = [
        ['gzip', zlib.gzipSync(protobufRequest())],
        ['deflate', zlib.deflateSync(protobufRequest())],
        ['deflate', zlib.deflateRawSync(protobufRequest())],
      ];
      for (const [coding, body] of cases) {
        const res = await postRaw(rx.httpUrl, body, { headers: { ...PROTOBUF, 'Content-Encoding': coding } });
        assert.equal(res.status, 200, coding);
      }
    });

    it('answers OverloadedError from downstream with 429, Retry-After and RetryInfo, counting nothing as dropped', async () => {
      rx.consume = async () => {
        throw new OverloadedError('Trace buffer is full.', 2500);
      };
      const res = await postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF });
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '3');
      assert.deepEqual(decodeStatus(res.body), { code: GrpcStatus.RESOURCE_EXHAUSTED, message: 'Trace buffer is full.', retryDelayMs: 2500 });
      const json = await postRaw(rx.httpUrl, jsonRequest(), { headers: JSON_TYPE });
      assert.equal(json.status, 429);
      assert.deepEqual(JSON.parse(json.body.toString()), {
        code: GrpcStatus.RESOURCE_EXHAUSTED,
        message: 'Trace buffer is full.',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.500s' }],
      });
      assert.equal((await rx.metrics.droppedSpans.get()).values.length, 0);
      rx.consume = accept;
      await assertHttpStillServes();
    });

    it('answers UnavailableError from downstream with 503 and Retry-After', async () => {
      rx.consume = async () => {
        throw new UnavailableError('Exporter is shutting down.', 1000);
      };
      const res = await postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF });
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(decodeStatus(res.body).code, GrpcStatus.UNAVAILABLE);
    });

    it('answers an unexpected downstream failure with 503 (retryable) instead of crashing', async () => {
      rx.consume = async () => {
        throw new TypeError('a bug downstream');
      };
      const res = await postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF });
      assert.equal(res.status, 503);
      assert.match(decodeStatus(res.body).message, /a bug downstream/);
    });

    it('reports spans with invalid ids in partial_success (protobuf and JSON) and accepts the rest', async () => {
      const before = rx.batches.length;
      const proto = await postRaw(rx.httpUrl, protobufRequest(5, 2), { headers: PROTOBUF });
      assert.equal(proto.status, 200);
      const partial = decodeExportResponse(proto.body);
      assert.equal(partial.rejected_spans, 2);
      assert.match(partial.error_message!, /^2 spans were rejected for invalid trace_id\/span_id \(first: .*span_id is all zeros\)\.$/);

      const json = await postRaw(rx.httpUrl, jsonRequest(4, 1), { headers: JSON_TYPE });
      assert.equal(json.status, 200);
      const body = JSON.parse(json.body.toString());
      assert.equal(body.partialSuccess.rejectedSpans, '1');
      assert.match(body.partialSuccess.errorMessage, /span_id is all zeros/);

      assert.equal(rx.batches.length, before + 2);
      assert.deepEqual(rx.batches.slice(before).map((b) => b.resourceSpans[0]!.scopeSpans[0]!.spans.length), [3, 3]);
      const dropped = (await rx.metrics.droppedSpans.get()).values.find((v) => v.labels.reason === 'invalid_input');
      assert.equal(dropped?.value, 3);
    });

    it('answers a fully valid request with an empty ExportTraceServiceResponse', async () => {
      const proto = await postRaw(rx.httpUrl, protobufRequest(2), { headers: PROTOBUF });
      assert.equal(proto.status, 200);
      assert.equal(proto.headers['content-type'], 'application/x-protobuf');
      assert.equal(proto.body.length, 0);
      const json = await postRaw(rx.httpUrl, jsonRequest(2), { headers: JSON_TYPE });
      assert.equal(json.status, 200);
      assert.equal(json.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(json.body.toString()), {});
    });

    it('keeps a keep-alive connection usable across bad and good requests', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        assert.equal((await postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF, agent })).status, 200);
        const bad = await postRaw(rx.httpUrl, Buffer.from([0x0a, 0x05]), { headers: PROTOBUF, agent });
        assert.equal(bad.status, 400);
        assert.equal(bad.reusedSocket, true);
        const good = await postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF, agent });
        assert.equal(good.status, 200);
        assert.equal(good.reusedSocket, true);
      } finally {
        agent.destroy();
      }
    });

    it('counts every answered request by status', async () => {
      const before400 = await requestCount('http', '400');
      const before200 = await requestCount('http', '200');
      await postRaw(rx.httpUrl, Buffer.from([0xff]), { headers: PROTOBUF });
      await postRaw(rx.httpUrl, protobufRequest(), { headers: PROTOBUF });
      assert.equal(await requestCount('http', '400'), before400 + 1);
      assert.equal(await requestCount('http', '200'), before200 + 1);
    });
  });

  describe('over gRPC', () => {
    it('answers truncated protobuf with INVALID_ARGUMENT saying where it broke', async () => {
      const good = protobufRequest(3);
      const res = await grpcClient.export(good.subarray(0, good.length - 5));
      assert.equal(res.ok, false);
      if (res.ok) return;
      assert.equal(res.error.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(res.error.details, /^Cannot decode OTLP protobuf ExportTraceServiceRequest: .*at byte \d+ of \d+/);
      await assertGrpcStillServes();
    });

    it('answers garbage bytes with INVALID_ARGUMENT', async () => {
      for (const garbage of [Buffer.from('not protobuf at all'), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x07])]) {
        const res = await grpcClient.export(garbage);
        assert.equal(res.ok ? GrpcStatus.OK : res.error.code, GrpcStatus.INVALID_ARGUMENT, garbage.toString('hex'));
      }
      await assertGrpcStillServes();
    });

    it('answers a message over max_recv_msg_size with RESOURCE_EXHAUSTED', async () => {
      const res = await grpcClient.export(Buffer.alloc(LIMIT + 1));
      assert.equal(res.ok ? GrpcStatus.OK : res.error.code, GrpcStatus.RESOURCE_EXHAUSTED);
      await assertGrpcStillServes();
    });

    it('accepts gzip-compressed messages and refuses ones that inflate past max_recv_msg_size', async () => {
      const gzipClient = createRawTraceClient(`127.0.0.1:${rx.receiver.grpcPort}`, { gzip: true });
      try {
        const ok = await gzipClient.export(protobufRequest(3));
        assert.ok(ok.ok, ok.ok ? '' : ok.error.message);
        // 8 MiB of zeros compress to a few KiB on the wire.
        const bomb = await gzipClient.export(Buffer.alloc(8 * LIMIT));
        assert.equal(bomb.ok ? GrpcStatus.OK : bomb.error.code, GrpcStatus.RESOURCE_EXHAUSTED);
        assert.ok((await gzipClient.export(protobufRequest())).ok);
      } finally {
        gzipClient.close();
      }
    });

    it('answers OverloadedError from downstream with RESOURCE_EXHAUSTED carrying RetryInfo', async () => {
      rx.consume = async () => {
        throw new OverloadedError('Trace buffer is full.', 1500);
      };
      const res = await grpcClient.export(protobufRequest());
      assert.equal(res.ok, false);
      if (res.ok) return;
      assert.equal(res.error.code, GrpcStatus.RESOURCE_EXHAUSTED);
      assert.equal(res.error.details, 'Trace buffer is full.');
      const [details] = res.error.metadata.get('grpc-status-details-bin');
      assert.ok(Buffer.isBuffer(details), 'grpc-status-details-bin is set');
      assert.deepEqual(decodeStatus(details), { code: GrpcStatus.RESOURCE_EXHAUSTED, message: 'Trace buffer is full.', retryDelayMs: 1500 });
      rx.consume = accept;
      await assertGrpcStillServes();
    });

    it('answers UnavailableError from downstream with UNAVAILABLE', async () => {
      rx.consume = async () => {
        throw new UnavailableError('Exporter is shutting down.');
      };
      const res = await grpcClient.export(protobufRequest());
      assert.equal(res.ok ? GrpcStatus.OK : res.error.code, GrpcStatus.UNAVAILABLE);
    });

    it('reports spans with invalid ids in partial_success and accepts the rest', async () => {
      const before = rx.batches.length;
      const res = await grpcClient.export(protobufRequest(4, 3));
      assert.ok(res.ok);
      if (!res.ok) return;
      const partial = decodeExportResponse(res.response);
      assert.equal(partial.rejected_spans, 3);
      assert.match(partial.error_message!, /span_id is all zeros/);
      assert.equal(rx.batches.length, before + 1);
      assert.equal(rx.batches[before]!.resourceSpans[0]!.scopeSpans[0]!.spans.length, 1);
    });

    it('counts answered requests by gRPC status name', async () => {
      const before = await requestCount('grpc', 'INVALID_ARGUMENT');
      await grpcClient.export(Buffer.from([0x0a, 0x09]));
      assert.equal(await requestCount('grpc', 'INVALID_ARGUMENT'), before + 1);
    });
  });
});
