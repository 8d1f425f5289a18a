/**
 * CPU per span of each stage of the OTLP → segment path, in one process, without gRPC, HTTP/2 or a
 * load generator competing for the cores. `npm run bench` measures the product end to end but
 * varies by ±15% between runs on a 2-core machine; this varies by a few percent, so it is the tool
 * for deciding whether a change to decode, translation or encoding pays for itself. Confirm a
 * keeper with `npm run bench` afterwards.
 *
 *   npm run bench:stages -- [--format otlp|jaeger_thrift|zipkin_json] [--spans 1500000] [--hold 45000] [--templates 200] [--flushed-index-size 200000]
 *
 * Requests come from the benchmark's pool (same traces, same bytes), as OTLP protobuf or, with
 * `--format jaeger_thrift`, as Jaeger Thrift batches (binary protocol, as `/api/traces` takes them),
 * or with `--format zipkin_json` as Zipkin v2 JSON; for those two, decode includes the translation
 * into the span model, as their receivers do it. They are decoded and added to
 * the real TraceAssembler (the exporter's default assembly settings) in windows of about `--hold`
 * spans (a quiet period's worth at the benchmark's rate), so that held spans live through
 * young-generation GCs as they do in the product; then each window is flushed, every trace built
 * into segments and encoded. Reported: µs of process CPU (all threads, GC included) per span for
 * decode, for holding, and for build + encode, and the total as spans per CPU-second.
 *
 * Then the heap one held span keeps alive: `--held-heap-spans` spans (100,000 by default; 0 skips
 * it) decoded and held in a second assembler that flushes nothing, heap used measured after full
 * GCs before and after. What the assembler holds is what the GC copies and marks for a quiet
 * period, so this is the figure to watch when changing the span model or the decoder.
 */
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ComponentSettings } from '../core/component.ts';
import { assemblySchema } from '../core/segments/segment-exporter.ts';
import { TraceAssembler } from '../core/segments/trace-assembler.ts';
import { createLogger } from '../core/telemetry/logger.ts';
import { Metrics } from '../core/telemetry/metrics.ts';
import { encodeSegmentObject } from '../exporters/skywalking/segment-encoder.ts';
import { decodeProtobufTraces } from '../receivers/otlp/decode-protobuf.ts';
import { BinaryProtocolReader } from '../core/thrift/binary-protocol-reader.ts';
import type { SpanBatch } from '../core/model/span-batch.ts';
import { decodeThriftBatch } from '../receivers/jaeger/decode-thrift-batch.ts';
import { translateJaegerBatch } from '../receivers/jaeger/translate-jaeger-batch.ts';
import { decodeJsonV2 } from '../receivers/zipkin/decode-json-v2.ts';
import { SharedSpanSplitter } from '../receivers/zipkin/shared-span-splitter.ts';
import { LocalAddressBook, translateZipkinSpans } from '../receivers/zipkin/translate.ts';
import { RequestPool } from './request-pool.ts';

const { values } = parseArgs({
  options: {
    spans: { type: 'string', default: '1500000' },
    hold: { type: 'string', default: '45000' },
    templates: { type: 'string', default: '200' },
    'flushed-index-size': { type: 'string', default: '200000' },
    'held-heap-spans': { type: 'string', default: '100000' },
    format: { type: 'string', default: 'otlp' },
  },
});
const totalSpans = Number(values.spans);
const format = values.format;
if (format !== 'otlp' && format !== 'jaeger_thrift' && format !== 'zipkin_json') throw new Error(`--format: otlp, jaeger_thrift or zipkin_json, not ${format}`);
const holdSpans = Number(values.hold);

const pool = RequestPool.encode(
  RequestPool.generateBatches({ seed: 1, minSpans: 100, maxSpans: 500, startTimeMs: Date.now(), templates: Number(values.templates) }),
  format,
);
const zipkinSplitter = new SharedSpanSplitter();
const zipkinAddresses = new LocalAddressBook();

/** One request's bytes → the span model, the way the format's receiver does it. */
function decode(bytes: Uint8Array): { batch: SpanBatch; spanCount: number } {
  if (format === 'otlp') return decodeProtobufTraces(bytes);
  if (format === 'zipkin_json') {
    const { spans } = decodeJsonV2(bytes);
    zipkinSplitter.split(spans);
    const { batch, spanCount } = translateZipkinSpans(spans, { parseStringTags: false, addresses: zipkinAddresses });
    return { batch, spanCount };
  }
  const { batch, spanCount } = translateJaegerBatch(decodeThriftBatch(new BinaryProtocolReader(bytes)));
  return { batch, spanCount };
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

let decodeUs = 0;
let assembleUs = 0;
let buildUs = 0;
let spans = 0;
let segments = 0;
let bytesOut = 0;
let request = 0;

// The real assembler with the skywalking exporter's defaults (quiet period, flushed-span index).
const assembly = assemblySchema.parse({ flushed_index_size: Number(values['flushed-index-size']) });
const settings: ComponentSettings = { id: 'stage-costs', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
const assembler = new TraceAssembler(settings, assembly, {
  onSegments(built) {
    for (const s of built) {
      bytesOut += encodeSegmentObject(s.segment).length;
      segments++;
    }
  },
  onInstance() {},
});

while (spans < totalSpans) {
  // Decode and hold one window: all of its traces are whole.
  let windowSpans = 0;
  while (windowSpans < holdSpans) {
    // The pool makes each request's bytes (fresh ids, re-encoded for some formats): not decode's cost.
    const bytes = pool.request(request++).bytes;
    let t = cpuMicros();
    const { batch, spanCount } = decode(bytes);
    decodeUs += cpuMicros() - (t as number);
    t = cpuMicros();
    assembler.add(batch);
    assembleUs += cpuMicros() - t;
    windowSpans += spanCount;
  }
  // Build and encode every trace of the window, as the quiet period's end would.
  const t = cpuMicros();
  assembler.flushAll('complete');
  buildUs += cpuMicros() - t;
  spans += windowSpans;
}

const perSpan = (us: number) => (us / spans).toFixed(2);
process.stdout.write(
  `${spans.toLocaleString('en-US')} spans in ${request} requests → ${segments.toLocaleString('en-US')} segments (${Math.round(bytesOut / segments)} B each)\n` +
    `decode             ${perSpan(decodeUs)} µs/span\n` +
    `assemble (hold)    ${perSpan(assembleUs)} µs/span\n` +
    `build + encode     ${perSpan(buildUs)} µs/span\n` +
    `total              ${perSpan(decodeUs + assembleUs + buildUs)} µs/span = ${Math.round(spans / ((decodeUs + assembleUs + buildUs) / 1e6)).toLocaleString('en-US')} spans per CPU-second\n`,
);

/** Heap bytes per span held in an assembler that flushes nothing (see the header). */
function heldHeapPerSpan(spanCount: number): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const holding = assemblySchema.parse({ quiet_period: '5m', max_wait: '30m', max_spans: 10_000_000, max_traces: 1_000_000 });
  const holder = new TraceAssembler(settings, holding, { onSegments() {}, onInstance() {} });
  // Requests the first pass never reached: fresh ids, so nothing is a duplicate of a flushed span.
  let next = request;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  let held = 0;
  while (held < spanCount) {
    const { batch, spanCount: n } = decode(pool.request(next++).bytes);
    holder.add(batch);
    held += n;
  }
  gc();
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / held;
  if (holder.heldSpans !== held) throw new Error(`held ${holder.heldSpans} spans of ${held}`);
  return bytes;
}

const heldHeapSpans = Number(values['held-heap-spans']);
if (heldHeapSpans > 0) process.stdout.write(`held heap          ${Math.round(heldHeapPerSpan(heldHeapSpans))} B/span (${heldHeapSpans.toLocaleString('en-US')} spans held)\n`);
