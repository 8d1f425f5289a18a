/**
 * The benchmark's stand-in OAP: it accepts what skybridge's `skywalking` exporter sends and only
 * counts. Unlike test/support/stand-in-oap.ts it decodes nothing it does not need: of each
 * SegmentObject it reads field 1 (traceId) and field 2 (traceSegmentId) and counts field 3
 * (spans), skipping everything else, so it costs the load generator's process little CPU and does
 * not distort the measurement.
 *
 * A segment whose id arrived before is a redelivery: the exporter is at-least-once, and resends a
 * batch whose stream got no answer in time (its `timeout`) even if the OAP had read it. The OAP
 * stores segments under their id, so a redelivery overwrites itself there; it is counted apart
 * (`redeliveredSegments`, `redeliveredSpans`) and left out of every other figure.
 *
 * It answers like the OAP: `collect` (client streaming) with one empty Commands message when the
 * client ends the stream; ManagementService calls with an empty Commands at once.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerReadableStream, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';

/** An empty `skywalking.v3.Commands` encodes as zero bytes. */
const EMPTY_COMMANDS = Buffer.alloc(0);
const identity = (bytes: Buffer): Buffer => bytes;

function method(path: string, requestStream: boolean) {
  return {
    path,
    requestStream,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

const TRACE_SERVICE: ServiceDefinition = {
  collect: method('/skywalking.v3.TraceSegmentReportService/collect', true),
};
const MANAGEMENT_SERVICE: ServiceDefinition = {
  reportInstanceProperties: method('/skywalking.v3.ManagementService/reportInstanceProperties', false),
  keepAlive: method('/skywalking.v3.ManagementService/keepAlive', false),
};

/** What arrived for one trace id. */
export interface TraceArrival {
  spans: number;
  segments: number;
  /** `performance.now()` when its latest segment arrived. */
  lastArrivalMs: number;
}

export class SinkOap {
  readonly #server = new Server();
  /** Keyed by the SkyWalking trace id exactly as received. */
  readonly traces = new Map<string, TraceArrival>();
  segments = 0;
  spans = 0;
  streams = 0;
  instanceReports = 0;
  keepAlives = 0;
  /** Segments whose bytes did not parse; any is a bug in skybridge's encoder. */
  malformedSegments = 0;
  /** Segments (and their spans) that arrived again under an id already seen. */
  redeliveredSegments = 0;
  redeliveredSpans = 0;
  readonly #segmentIds = new Set<string>();
  firstArrivalMs: number | undefined;
  lastArrivalMs: number | undefined;
  #port = 0;

  constructor() {
    this.#server.addService(TRACE_SERVICE, {
      collect: (call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        this.streams++;
        call.on('data', (segment: Buffer) => this.#onSegment(segment));
        call.on('end', () => callback(null, EMPTY_COMMANDS));
        // A stream the client cancels needs no answer; grpc-js has already closed it.
        call.on('error', () => {});
      },
    });
    this.#server.addService(MANAGEMENT_SERVICE, {
      reportInstanceProperties: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        this.instanceReports++;
        callback(null, EMPTY_COMMANDS);
      },
      keepAlive: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        this.keepAlives++;
        callback(null, EMPTY_COMMANDS);
      },
    });
  }

  get port(): number {
    return this.#port;
  }

  /** Listens on loopback, on a free port unless one is given; resolves with the port. */
  start(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
        if (err) return reject(err);
        this.#port = bound;
        resolve(bound);
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, 2_000);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #onSegment(bytes: Buffer): void {
    const now = performance.now();
    let traceId = '';
    let segmentId = '';
    let spans = 0;
    try {
      const r = protobuf.Reader.create(bytes);
      while (r.pos < r.len) {
        const tag = r.uint32();
        if (tag === 10) traceId = r.string(); // 1 traceId
        else if (tag === 18) segmentId = r.string(); // 2 traceSegmentId
        else if (tag === 26) {
          spans++; // 3 spans: counted, never decoded
          r.skipType(2);
        } else r.skipType(tag & 7);
      }
    } catch {
      this.malformedSegments++;
      return;
    }
    if (this.#segmentIds.has(segmentId)) {
      this.redeliveredSegments++;
      this.redeliveredSpans += spans;
      return;
    }
    this.#segmentIds.add(segmentId);
    this.segments++;
    this.spans += spans;
    this.firstArrivalMs ??= now;
    this.lastArrivalMs = now;
    const seen = this.traces.get(traceId);
    if (seen === undefined) this.traces.set(traceId, { spans, segments: 1, lastArrivalMs: now });
    else {
      seen.spans += spans;
      seen.segments++;
      seen.lastArrivalMs = now;
    }
  }
}
