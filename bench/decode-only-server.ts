/**
 * The benchmark's floor: a server that takes a case's requests on the same transport as skybridge
 * does, turns each into the internal model with the receiver's own decoder and answers success,
 * doing nothing else. Run as its own process so its CPU and RSS are measured apart from the load
 * generator, exactly as skybridge's are:
 *
 *   node --import tsx bench/decode-only-server.ts --format otlp_grpc|zipkin_json|jaeger_thrift [--endpoint 127.0.0.1:0]
 *
 * - `otlp_grpc`: a TraceService/Export handler; `receivers/otlp/decode-protobuf.ts`; answers OK.
 * - `zipkin_json`: `POST /api/v2/spans`; `receivers/zipkin/decode-json-v2.ts`, then
 *   `translate.ts` (Zipkin's model → the internal one); answers 202.
 * - `jaeger_thrift`: `POST /api/traces`; TBinaryProtocol `decode-thrift-batch.ts`, then
 *   `translate-jaeger-batch.ts`; answers 202.
 *
 * The HTTP floors read the body without the receivers' size and content-type checks and answer a
 * body that does not decode with 400.
 *
 * Protocol with the parent: one JSON line `{"port":N}` on stdout once listening; on SIGTERM one
 * line `{"requests":N,"spans":N,"invalid":N}`, then exit 0.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, status as GrpcStatus, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { rawUnaryMethod } from '../core/grpc/raw-method.ts';
import { BinaryProtocolReader } from '../core/thrift/binary-protocol-reader.ts';
import { decodeThriftBatch } from '../receivers/jaeger/decode-thrift-batch.ts';
import { translateJaegerBatch } from '../receivers/jaeger/translate-jaeger-batch.ts';
import { decodeProtobufTraces } from '../receivers/otlp/decode-protobuf.ts';
import { decodeJsonV2 } from '../receivers/zipkin/decode-json-v2.ts';
import { translateZipkinSpans } from '../receivers/zipkin/translate.ts';

const FORMATS = ['otlp_grpc', 'zipkin_json', 'jaeger_thrift'] as const;
type Format = (typeof FORMATS)[number];

const { values } = parseArgs({ options: { format: { type: 'string', default: 'otlp_grpc' }, endpoint: { type: 'string', default: '127.0.0.1:0' } } });
const format = values.format as Format;
if (!FORMATS.includes(format)) {
  process.stderr.write(`decode-only server: --format must be one of ${FORMATS.join(', ')}, got "${values.format}".\n`);
  process.exit(2);
}
const [host, portText] = [values.endpoint.slice(0, values.endpoint.lastIndexOf(':')), values.endpoint.slice(values.endpoint.lastIndexOf(':') + 1)];

let requests = 0;
let spans = 0;
let invalid = 0;

/** Decoders of the HTTP formats: body → spans in the internal model. */
const HTTP_DECODERS: Record<Exclude<Format, 'otlp_grpc'>, { path: string; decode: (body: Buffer) => number }> = {
  zipkin_json: {
    path: '/api/v2/spans',
    // The receiver's default (parse_string_tags: false).
    decode: (body) => translateZipkinSpans(decodeJsonV2(body).spans, { parseStringTags: false }).spanCount,
  },
  jaeger_thrift: {
    path: '/api/traces',
    decode: (body) => translateJaegerBatch(decodeThriftBatch(new BinaryProtocolReader(body))).spanCount,
  },
};

let stop: () => void;

if (format === 'otlp_grpc') {
  /** An ExportTraceServiceResponse with no partial_success encodes as zero bytes. */
  const EMPTY_RESPONSE = Buffer.alloc(0);
  const TRACE_SERVICE: ServiceDefinition = {
    Export: rawUnaryMethod('/opentelemetry.proto.collector.trace.v1.TraceService/Export'),
  };
  // The receiver's default max_recv_msg_size, so both servers accept the same requests.
  const server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  server.addService(TRACE_SERVICE, {
    Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      requests++;
      try {
        spans += decodeProtobufTraces(call.request).spanCount;
      } catch (error) {
        invalid++;
        callback({ code: GrpcStatus.INVALID_ARGUMENT, details: (error as Error).message });
        return;
      }
      callback(null, EMPTY_RESPONSE);
    },
  });
  server.bindAsync(values.endpoint, ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`decode-only server cannot listen: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  stop = () => server.forceShutdown();
} else {
  const { path, decode } = HTTP_DECODERS[format];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404, { 'Content-Length': 0 }).end();
        return;
      }
      requests++;
      try {
        spans += decode(Buffer.concat(chunks));
      } catch (error) {
        invalid++;
        const text = Buffer.from(`${(error as Error).message}\n`);
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': text.length }).end(text);
        return;
      }
      res.writeHead(202, { 'Content-Length': 0 }).end();
    });
  });
  server.on('error', (err) => {
    process.stderr.write(`decode-only server cannot listen: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(Number(portText), host, () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
  stop = () => server.closeAllConnections();
}

process.once('SIGTERM', () => {
  stop();
  process.stdout.write(`${JSON.stringify({ requests, spans, invalid })}\n`, () => process.exit(0));
});
