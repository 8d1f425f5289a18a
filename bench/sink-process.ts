/**
 * A sink OAP in a process of its own, for benchmarks that charge skybridge's CPU alone
 * (cases/overload.ts): `TraceSegmentReportService/collect` and `ManagementService`, counting what
 * arrives without decoding it. Of each SegmentObject it reads field 1 (traceId) and field 2
 * (traceSegmentId) and counts field 3 (spans) with the hand-rolled scanner of segment-scan.ts.
 *
 *   node --import tsx bench/sink-process.ts [--endpoint 127.0.0.1:0] [--sink-rate N]
 *
 * `--sink-rate N` caps the segments it takes per second, over all streams together: after each
 * segment a stream is paused until its turn comes again, so grpc-js stops reading it, HTTP/2 flow
 * control pushes back on skybridge, and a stream's answer (sent once its last segment was taken)
 * comes late as a real overloaded OAP's would. Without it the sink takes segments as fast as they
 * come.
 *
 * A segment id seen before is a redelivery (the exporter is at-least-once: it resends a batch whose
 * stream was not answered within its timeout). It is counted apart and left out of every other count,
 * as the OAP, which stores segments under their id, would overwrite it.
 *
 * Protocol with the parent, one JSON object a line on stdout:
 * - `{"port":N}` once listening;
 * - `{"progress":{segments,spans,traces,redeliveredSegments,redeliveredSpans,malformed,streams,lastArrivalEpochMs,nowEpochMs}}`
 *   every 250 ms;
 * - on SIGTERM, `{"final":{...the same counts, "traces":[[traceId, spans, segments, firstArrivalEpochMs, lastArrivalEpochMs], ...]}}`,
 *   then exit 0. Times are epoch milliseconds with sub-millisecond precision
 *   (`performance.timeOrigin + performance.now()`), comparable with the parent's.
 */
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, type sendUnaryData, type ServerReadableStream, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { rawUnaryMethod } from '../core/grpc/raw-method.ts';
import { scanSegment } from './segment-scan.ts';

const { values } = parseArgs({ options: { endpoint: { type: 'string', default: '127.0.0.1:0' }, 'sink-rate': { type: 'string' } } });
const rate = values['sink-rate'] === undefined ? undefined : Number(values['sink-rate']);
if (rate !== undefined && !(rate > 0)) {
  process.stderr.write(`sink: --sink-rate must be a positive number of segments per second, got "${values['sink-rate']}".\n`);
  process.exit(2);
}
/** How far behind schedule the rate limiter may run before it pauses a stream: absorbs timer lateness. */
const CREDIT_MS = 50;
const PROGRESS_EVERY_MS = 250;

const EMPTY_COMMANDS = Buffer.alloc(0);
const identity = (bytes: Buffer): Buffer => bytes;
const epochNow = () => performance.timeOrigin + performance.now();

const TRACE_SERVICE: ServiceDefinition = {
  collect: {
    path: '/skywalking.v3.TraceSegmentReportService/collect',
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const MANAGEMENT_SERVICE: ServiceDefinition = {
  reportInstanceProperties: rawUnaryMethod('/skywalking.v3.ManagementService/reportInstanceProperties'),
  keepAlive: rawUnaryMethod('/skywalking.v3.ManagementService/keepAlive'),
};

/** Per trace id: spans, segments, first and last arrival (epoch ms). */
const traces = new Map<string, [number, number, number, number]>();
const segmentIds = new Set<string>();
const counts = { segments: 0, spans: 0, redeliveredSegments: 0, redeliveredSpans: 0, malformed: 0, streams: 0, lastArrivalEpochMs: null as number | null };
/** `performance.now()` at which the next segment may be taken, under --sink-rate. */
let nextSlotMs = 0;

function onSegment(bytes: Buffer): void {
  const now = epochNow();
  let segment;
  try {
    segment = scanSegment(bytes);
  } catch {
    counts.malformed++;
    return;
  }
  if (segmentIds.has(segment.segmentId)) {
    counts.redeliveredSegments++;
    counts.redeliveredSpans += segment.spans;
    return;
  }
  segmentIds.add(segment.segmentId);
  counts.segments++;
  counts.spans += segment.spans;
  counts.lastArrivalEpochMs = now;
  const seen = traces.get(segment.traceId);
  if (seen === undefined) traces.set(segment.traceId, [segment.spans, 1, now, now]);
  else {
    seen[0] += segment.spans;
    seen[1]++;
    seen[3] = now;
  }
}

const server = new Server();
server.addService(TRACE_SERVICE, {
  collect: (call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    counts.streams++;
    call.on('data', (segment: Buffer) => {
      onSegment(segment);
      if (rate === undefined) return;
      const now = performance.now();
      nextSlotMs = Math.max(nextSlotMs, now - CREDIT_MS) + 1000 / rate;
      const wait = nextSlotMs - now;
      if (wait > 0) {
        call.pause();
        setTimeout(() => call.resume(), wait);
      }
    });
    // 'end' comes only once every segment was taken, so a paced stream is answered late.
    call.on('end', () => callback(null, EMPTY_COMMANDS));
    call.on('error', () => {});
  },
});
server.addService(MANAGEMENT_SERVICE, {
  reportInstanceProperties: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, EMPTY_COMMANDS),
  keepAlive: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, EMPTY_COMMANDS),
});

const snapshot = () => ({ ...counts, traces: traces.size, nowEpochMs: epochNow() });

server.bindAsync(values.endpoint, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`sink cannot listen: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  setInterval(() => process.stdout.write(`${JSON.stringify({ progress: snapshot() })}\n`), PROGRESS_EVERY_MS).unref();
});

process.once('SIGTERM', () => {
  server.forceShutdown();
  const final = { ...snapshot(), traces: [...traces].map(([id, t]) => [id, ...t]) };
  process.stdout.write(`${JSON.stringify({ final })}\n`, () => process.exit(0));
});
