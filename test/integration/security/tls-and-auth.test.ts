/**
 * TLS, mutual TLS and bearer tokens on the receivers, with the real OpenTelemetry exporters as
 * senders (gRPC and HTTP/protobuf) and certificates this test makes with openssl: spans sent over
 * TLS with an accepted token arrive; a missing or wrong token is refused with UNAUTHENTICATED / 401
 * and nothing more; without a client certificate, or with one from another CA, mutual TLS refuses
 * the handshake; a rotated server certificate is served to new connections without a restart.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { startTestReceiver, type TestReceiver } from '../../../receivers/otlp/testdata/test-receiver.ts';
import { makeTestCerts, type TestCerts } from '../../support/test-certs.ts';

const TOKEN = 'a-test-token-of-reasonable-length-0123456789';

/** Spans made by the real SDK, to hand to each exporter. */
function sdkSpans(name: string): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'tls-test' }), spanProcessors: [new SimpleSpanProcessor(memory)] });
  const span = provider.getTracer('tls-test').startSpan(name);
  span.end();
  return memory.getFinishedSpans();
}

function exportWith(exporter: { export(spans: ReadableSpan[], cb: (r: { code: number; error?: Error }) => void): void; shutdown(): Promise<void> }, name: string) {
  return new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(sdkSpans(name), resolve)).finally(() => exporter.shutdown());
}

describe('receivers with TLS and bearer tokens', () => {
  let certs: TestCerts;
  let receiver: TestReceiver;
  let grpcTarget: string;
  let httpsUrl: string;
  before(async () => {
    certs = makeTestCerts();
    const tlsBlock = { cert_file: certs.serverCertFile, key_file: certs.serverKeyFile, reload_interval: '1s' };
    receiver = await startTestReceiver({
      grpc: { tls: tlsBlock, auth: { tokens: [TOKEN] } },
      http: { tls: tlsBlock, auth: { tokens: [TOKEN] } },
    });
    grpcTarget = receiver.grpcUrl.replace('http://127.0.0.1', 'https://localhost');
    httpsUrl = receiver.httpUrl.replace('http://127.0.0.1', 'https://localhost');
  });
  after(async () => receiver?.stop());

  const grpcMetadata = (token?: string) => {
    const m = new grpc.Metadata();
    if (token !== undefined) m.set('authorization', `Bearer ${token}`);
    return m;
  };

  it('OTel gRPC exporter over TLS with the token: the spans arrive', async () => {
    const result = await exportWith(new GrpcExporter({ url: grpcTarget, credentials: grpc.credentials.createSsl(certs.ca), metadata: grpcMetadata(TOKEN) }), 'grpc-ok');
    assert.equal(result.code, 0, result.error?.message);
    assert.ok(receiver.spansByName().has('grpc-ok'));
  });

  it('OTel HTTP/protobuf exporter over TLS with the token: the spans arrive', async () => {
    const result = await exportWith(new ProtoExporter({ url: httpsUrl, headers: { Authorization: `Bearer ${TOKEN}` }, httpAgentOptions: { ca: certs.ca } }), 'http-ok');
    assert.equal(result.code, 0, result.error?.message);
    assert.ok(receiver.spansByName().has('http-ok'));
  });

  it('refuses a missing or wrong token with UNAUTHENTICATED / 401, saying nothing more', async () => {
    for (const metadata of [grpcMetadata(), grpcMetadata('wrong-token')]) {
      const result = await exportWith(new GrpcExporter({ url: grpcTarget, credentials: grpc.credentials.createSsl(certs.ca), metadata }), 'grpc-refused');
      assert.equal(result.code, 1);
      assert.match(String(result.error?.message), /UNAUTHENTICATED|16/);
    }
    for (const headers of [{}, { Authorization: 'Bearer wrong-token' }, { Authorization: `Basic ${TOKEN}` }]) {
      const answer = await new Promise<{ status: number; body: string; auth: string | undefined }>((resolve, reject) => {
        const req = https.request(httpsUrl, { method: 'POST', ca: certs.ca, headers: { 'Content-Type': 'application/x-protobuf', ...headers } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString('latin1')));
          res.on('end', () => resolve({ status: res.statusCode!, body, auth: res.headers['www-authenticate'] as string | undefined }));
        });
        req.on('error', reject);
        req.end(Buffer.alloc(0));
      });
      assert.equal(answer.status, 401);
      assert.equal(answer.auth, 'Bearer');
      assert.ok(!answer.body.includes(TOKEN.slice(0, 8)) && answer.body.length < 64, `short body: ${JSON.stringify(answer.body)}`);
    }
    assert.ok(!receiver.spansByName().has('grpc-refused'));
  });

  it('serves a rotated certificate to new connections without a restart', async () => {
    const port = Number(new URL(httpsUrl).port);
    const serialOf = () =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: certs.ca }, () => {
          const serial = new X509Certificate(socket.getPeerCertificate(true).raw).serialNumber;
          socket.end();
          resolve(serial);
        });
        socket.on('error', reject);
      });
    const before = await serialOf();
    const rotated = certs.rotateServer().replace(/^serial=/, '');
    const until = Date.now() + 5_000;
    let now = before;
    while (now === before && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      now = await serialOf();
    }
    assert.notEqual(now, before);
    assert.equal(now.toUpperCase(), rotated.toUpperCase());
  });
});

describe('receivers with mutual TLS', () => {
  let certs: TestCerts;
  let receiver: TestReceiver;
  before(async () => {
    certs = makeTestCerts();
    const tlsBlock = { cert_file: certs.serverCertFile, key_file: certs.serverKeyFile, client_ca_file: certs.caFile, min_version: '1.3' };
    receiver = await startTestReceiver({ grpc: { tls: tlsBlock }, http: { tls: tlsBlock } });
  });
  after(async () => receiver?.stop());

  it('takes spans from a client certificate the CA signed, over gRPC and HTTP', async () => {
    const grpcTarget = receiver.grpcUrl.replace('http://127.0.0.1', 'https://localhost');
    const httpsUrl = receiver.httpUrl.replace('http://127.0.0.1', 'https://localhost');
    const g = await exportWith(new GrpcExporter({ url: grpcTarget, credentials: grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert) }), 'mtls-grpc');
    assert.equal(g.code, 0, g.error?.message);
    const h = await exportWith(new ProtoExporter({ url: httpsUrl, httpAgentOptions: { ca: certs.ca, key: certs.clientKey, cert: certs.clientCert } }), 'mtls-http');
    assert.equal(h.code, 0, h.error?.message);
    assert.ok(receiver.spansByName().has('mtls-grpc') && receiver.spansByName().has('mtls-http'));
  });

  it('refuses the handshake without a client certificate, with one from another CA, and below TLS 1.3', async () => {
    const port = Number(new URL(receiver.httpUrl).port);
    const handshake = (options: tls.ConnectionOptions) =>
      new Promise<'ok' | 'refused'>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: certs.ca, ...options }, () => {
          // TLS 1.3 reports a refused client certificate after the handshake: wait for the alert.
          socket.once('data', () => resolve('ok'));
          socket.write('POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Type: application/x-protobuf\r\n\r\n');
        });
        socket.on('error', () => resolve('refused'));
        socket.on('close', () => resolve('refused'));
      });
    assert.equal(await handshake({ key: certs.clientKey, cert: certs.clientCert }), 'ok');
    assert.equal(await handshake({}), 'refused');
    assert.equal(await handshake({ key: certs.strangerKey, cert: certs.strangerCert }), 'refused');
    assert.equal(await handshake({ key: certs.clientKey, cert: certs.clientCert, maxVersion: 'TLSv1.2' }), 'refused');
    // The gRPC listener too (an HTTP/2 server speaks first: its SETTINGS frame follows the handshake).
    const grpcPort = Number(new URL(receiver.grpcUrl).port);
    const h2 = { port: grpcPort, ALPNProtocols: ['h2'], key: certs.clientKey, cert: certs.clientCert };
    assert.equal(await handshake(h2), 'ok');
    assert.equal(await handshake({ ...h2, maxVersion: 'TLSv1.2' }), 'refused');
    assert.equal(await handshake({ ...h2, key: certs.strangerKey, cert: certs.strangerCert }), 'refused');
    const g = await exportWith(new GrpcExporter({ url: receiver.grpcUrl.replace('http://127.0.0.1', 'https://localhost'), credentials: grpc.credentials.createSsl(certs.ca) }), 'mtls-no-cert');
    assert.equal(g.code, 1);
  });
});
