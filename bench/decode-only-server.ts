/**
 * The benchmark's floor: an OTLP/gRPC TraceService that decodes every Export request into the
 * internal model with the receiver's own decoder and answers OK, doing nothing else. Run as its
 * own process (`node --import tsx bench/decode-only-server.ts`) so its CPU and RSS are measured
 * apart from the load generator, exactly as skybridge's are.
 *
 * Protocol with the parent: one JSON line `{"port":N}` on stdout once listening; on SIGTERM one
 * line `{"requests":N,"spans":N,"invalid":N}`, then exit 0.
 */
import { Server, ServerCredentials, status as GrpcStatus, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { decodeProtobufTraces } from '../receivers/otlp/decode-protobuf.ts';

const identity = (bytes: Buffer): Buffer => bytes;
/** An ExportTraceServiceResponse with no partial_success encodes as zero bytes. */
const EMPTY_RESPONSE = Buffer.alloc(0);

const TRACE_SERVICE: ServiceDefinition = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

let requests = 0;
let spans = 0;
let invalid = 0;

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

server.bindAsync(process.argv[2] ?? '127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`decode-only server cannot listen: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

process.once('SIGTERM', () => {
  server.forceShutdown();
  process.stdout.write(`${JSON.stringify({ requests, spans, invalid })}\n`, () => process.exit(0));
});
