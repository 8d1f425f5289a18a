import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { ComponentSettings, Host } from '../../core/component.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { RefType, SpanLayer, SpanType, type AssembledSegment, type SegmentObject } from '../../core/segments/segment-object.ts';
import { debugConfigSchema, type DebugConfig } from './config.ts';
import { DebugSink, type StdStreams } from './exporter.ts';
import { debugExporterFactory } from './factory.ts';

const host: Host = { reportFatal: () => {} };

function settings(): ComponentSettings {
  return { id: 'debug', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

function config(input: Record<string, unknown>): DebugConfig {
  return debugConfigSchema.parse(input);
}

async function dropped(s: ComponentSettings, reason: string): Promise<number> {
  const { values } = await s.metrics.droppedSpans.get();
  return values.filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
}

function segment(i: number): SegmentObject {
  return {
    traceId: `trace-${i}`,
    traceSegmentId: `segment-${i}`,
    service: 'checkout',
    serviceInstance: 'checkout-1',
    isSizeLimited: false,
    spans: [
      {
        spanId: 0, parentSpanId: -1, startTime: 1_700_000_000_123, endTime: 1_700_000_000_400,
        refs: [{
          refType: RefType.CrossProcess, traceId: `trace-${i}`, parentTraceSegmentId: 'parent', parentSpanId: 1,
          parentService: 'frontend', parentServiceInstance: 'frontend-1', parentEndpoint: 'GET /', networkAddressUsedAtPeer: 'checkout:80',
        }],
        operationName: 'POST /checkout', peer: '', spanType: SpanType.Entry, spanLayer: SpanLayer.Http, componentId: 49,
        isError: false, tags: [{ key: 'http.method', value: 'POST' }], logs: [], skipAnalysis: false,
      },
      {
        spanId: 1, parentSpanId: 0, startTime: 1_700_000_000_200, endTime: 1_700_000_000_300, refs: [],
        operationName: 'chat gpt-4o', peer: 'api.openai.com:443', spanType: SpanType.Exit, spanLayer: SpanLayer.GenAI, componentId: 0,
        isError: true, tags: [], logs: [{ time: 1_700_000_000_250, data: [{ key: 'event', value: 'error' }] }], skipAnalysis: false,
      },
    ],
  };
}

function assembled(...ids: number[]): AssembledSegment[] {
  return ids.map((i) => ({ segment: segment(i), receivedAtMs: Date.now() }));
}

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('debug exporter (its sink, as the trace assembler drives it)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'skybridge-debug-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has a default config that writes detailed JSON to stdout', () => {
    const parsed = debugExporterFactory.configSchema.parse({});
    assert.equal(parsed.output, 'stdout');
    assert.equal(parsed.format, 'json');
    assert.equal(parsed.verbosity, 'detailed');
    assert.throws(() => debugExporterFactory.configSchema.parse({ verbose: true }), /verbose/);
  });

  it('writes one JSON line per segment in the proto3 JSON mapping, enums by name', async () => {
    const out = collect();
    const std: StdStreams = { stdout: out.stream, stderr: new PassThrough() };
    const s = settings();
    const exporter = new DebugSink(s, config({}), std);
    await exporter.start(host);
    exporter.deliver(assembled(1, 2));
    await exporter.shutdown(AbortSignal.timeout(2000));

    const lines = out.text().trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(first), ['traceId', 'traceSegmentId', 'service', 'serviceInstance', 'isSizeLimited', 'spans']);
    assert.equal(first.traceSegmentId, 'segment-1');
    assert.equal(first.spans[0].spanType, 'Entry');
    assert.equal(first.spans[0].spanLayer, 'Http');
    assert.equal(first.spans[0].refs[0].refType, 'CrossProcess');
    assert.equal(first.spans[0].refs[0].parentEndpoint, 'GET /');
    assert.equal(first.spans[0].parentSpanId, -1);
    assert.equal(first.spans[0].startTime, 1_700_000_000_123);
    assert.equal(first.spans[1].spanType, 'Exit');
    assert.equal(first.spans[1].spanLayer, 'GenAI');
    assert.deepEqual(first.spans[1].logs, [{ time: 1_700_000_000_250, data: [{ key: 'event', value: 'error' }] }]);
    const { values } = await s.metrics.exporterSentSpans.get();
    assert.equal(values[0]?.value, 4);
  });

  it('writes one summary line per segment when verbosity is basic', async () => {
    const err = collect();
    const exporter = new DebugSink(settings(), config({ output: 'stderr', verbosity: 'basic' }), { stdout: new PassThrough(), stderr: err.stream });
    await exporter.start(host);
    exporter.deliver(assembled(7));
    await exporter.shutdown(AbortSignal.timeout(2000));

    assert.deepEqual(JSON.parse(err.text()), {
      service: 'checkout',
      serviceInstance: 'checkout-1',
      traceId: 'trace-7',
      traceSegmentId: 'segment-7',
      spans: 2,
      endpoint: 'POST /checkout',
    });
  });

  it('appends to a file output and flushes it on shutdown', async () => {
    const file = path.join(dir, 'segments.jsonl');
    await writeFile(file, '{"earlier":true}\n');
    const exporter = new DebugSink(settings(), config({ output: file }));
    await exporter.start(host);
    exporter.deliver(assembled(1));
    exporter.deliver(assembled(2, 3));
    await exporter.shutdown(AbortSignal.timeout(2000));

    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.earlier ?? l.traceSegmentId), [true, 'segment-1', 'segment-2', 'segment-3']);
  });

  it('fails start when the output file cannot be opened', async () => {
    const exporter = new DebugSink(settings(), config({ output: path.join(dir, 'missing', 'x.jsonl') }));
    await assert.rejects(exporter.start(host), /ENOENT/);
  });

  it('reports no capacity while the output is far behind, and counts what shutdown gave up', async () => {
    // A reader that never takes anything: every write stays buffered.
    const stalled = new Writable({ highWaterMark: 64, write: () => {} });
    const s = settings();
    const exporter = new DebugSink(s, config({}), { stdout: stalled, stderr: new PassThrough() });
    await exporter.start(host);
    assert.equal(exporter.hasCapacity(), true);
    let pushedSpans = 0;
    for (let i = 0; i < 20 && exporter.hasCapacity(); i++) {
      exporter.deliver(assembled(i));
      pushedSpans += 2;
    }
    assert.equal(exporter.hasCapacity(), false);

    // A ref'd timer: AbortSignal.timeout() would not keep the event loop alive for the wait.
    const deadline = new AbortController();
    setTimeout(() => deadline.abort(), 100);
    await exporter.shutdown(deadline.signal);
    assert.equal(await dropped(s, 'shutdown_timeout'), pushedSpans);
  });
});
