/**
 * CPU per span of each stage of the OTLP → segment path, in one process, without gRPC, HTTP/2 or a
 * load generator competing for the cores. `npm run bench` measures the product end to end but
 * varies by ±15% between runs on a 2-core machine; this varies by a few percent, so it is the tool
 * for deciding whether a change to decode, translation or encoding pays for itself. Confirm a
 * keeper with `npm run bench` afterwards.
 *
 *   node --import tsx bench/stage-costs.ts [--spans 1500000] [--hold 45000] [--templates 200]
 *
 * Requests come from the benchmark's pool (same traces, same bytes). They are decoded and held in
 * windows of about `--hold` spans (a quiet period's worth at the benchmark's rate), so that held
 * spans live through young-generation GCs as they do in the assembler; then each window's traces
 * are built into segments and encoded. Reported: µs of process CPU (all threads, GC included) per
 * span for decode and for build + encode, and the total as spans per CPU-second.
 */
import { parseArgs } from 'node:util';
import type { Span } from '../core/model/span-batch.ts';
import { buildSegments, type HeldSpan } from '../core/segments/segment-builder.ts';
import { identifyService } from '../core/segments/service-identity.ts';
import { encodeSegmentObject } from '../exporters/skywalking/segment-encoder.ts';
import { decodeProtobufTraces } from '../receivers/otlp/decode-protobuf.ts';
import { RequestPool } from './request-pool.ts';

const { values } = parseArgs({
  options: {
    spans: { type: 'string', default: '1500000' },
    hold: { type: 'string', default: '45000' },
    templates: { type: 'string', default: '200' },
  },
});
const totalSpans = Number(values.spans);
const holdSpans = Number(values.hold);

const pool = RequestPool.encode(
  RequestPool.generateBatches({ seed: 1, minSpans: 100, maxSpans: 500, startTimeMs: Date.now(), templates: Number(values.templates) }),
  'otlp',
);

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

let decodeUs = 0;
let buildUs = 0;
let spans = 0;
let segments = 0;
let bytesOut = 0;
let request = 0;
const noPlacement = () => undefined;

while (spans < totalSpans) {
  // Decode and hold one window.
  const held = new Map<string, HeldSpan[]>();
  let windowSpans = 0;
  let t = cpuMicros();
  while (windowSpans < holdSpans) {
    const { batch, spanCount } = decodeProtobufTraces(pool.request(request++).bytes);
    const now = Date.now();
    for (const rs of batch.resourceSpans) {
      const identity = identifyService(rs.resource.attributes);
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans as Span[]) {
          let list = held.get(span.traceId);
          if (!list) held.set(span.traceId, (list = []));
          list.push({ span, scope: ss.scope, identity, receivedAtMs: now });
        }
      }
    }
    windowSpans += spanCount;
  }
  decodeUs += cpuMicros() - t;
  // Build and encode every trace of the window.
  t = cpuMicros();
  for (const [traceId, list] of held) {
    const result = buildSegments(traceId, list, noPlacement, { maxSegmentSpans: 300 });
    for (const s of result.segments) {
      bytesOut += encodeSegmentObject(s.segment).length;
      segments++;
    }
  }
  buildUs += cpuMicros() - t;
  spans += windowSpans;
}

const perSpan = (us: number) => (us / spans).toFixed(2);
process.stdout.write(
  `${spans.toLocaleString('en-US')} spans in ${request} requests → ${segments.toLocaleString('en-US')} segments (${Math.round(bytesOut / segments)} B each)\n` +
    `decode + hold      ${perSpan(decodeUs)} µs/span\n` +
    `build + encode     ${perSpan(buildUs)} µs/span\n` +
    `total              ${perSpan(decodeUs + buildUs)} µs/span = ${Math.round(spans / ((decodeUs + buildUs) / 1e6)).toLocaleString('en-US')} spans per CPU-second\n`,
);
