/**
 * One trace assembler per pipeline: a pipeline that lists several segment exporters with the same
 * `assembly` holds and builds each trace once and hands the segments to every exporter's sink
 * (core/pipeline/service.ts, SegmentExporter.shareAssembly). Exporters with different `assembly`
 * settings keep their own assemblers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { components } from '../../components.ts';
import { startCollector } from '../../core/collector.ts';
import { encodeExportTraceServiceRequest } from '../../core/model/otlp-protobuf-encoder.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { freePort } from '../support/skybridge-process.ts';
import { batchOf, threeServiceTrace } from '../support/span-fixtures.ts';
import { StandInOap } from '../support/stand-in-oap.ts';

async function run(assemblyOfDebug: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'skybridge-shared-'));
  const file = path.join(dir, 'segments.jsonl');
  const oap = await StandInOap.start();
  const port = await freePort();
  const collector = await startCollector(
    {
      name: 'test.yaml',
      text: `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
exporters:
  skywalking: { endpoint: ${oap.endpoint}, ack: after_export, assembly: { quiet_period: 50ms } }
  debug: { output: ${file}, assembly: ${assemblyOfDebug} }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking, debug] }
telemetry: { endpoint: null, log_level: silent }
`,
    },
    components,
    { logger: createLogger({ level: 'silent' }) },
  );
  const traces = [threeServiceTrace(), threeServiceTrace()];
  const body = Buffer.from(encodeExportTraceServiceRequest(batchOf(...traces.flatMap((t) => [t.batches.frontend, t.batches.orders, t.batches.payments]))));
  const holdings = () => collector.service.admission.holdings();
  return {
    oap,
    traces,
    holdings,
    /** Posts the traces; resolves with the status once skybridge answered. */
    async post(): Promise<number> {
      const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
      await res.arrayBuffer();
      return res.status;
    },
    /** The ledger's holdings once some trace buffer holds spans (the request arrived). */
    async whenHeld(): Promise<ReturnType<typeof holdings>> {
      for (let i = 0; i < 400; i++) {
        const held = holdings();
        if (Object.entries(held).some(([name, h]) => name.endsWith('/trace_buffer') && h.spans > 0)) return held;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      throw new Error('no span was ever held');
    },
    async lines(): Promise<{ traceSegmentId: string }[]> {
      return (await readFile(file, 'utf8')).trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    /** Shuts skybridge and the OAP down (idempotent); the debug file stays until `cleanup`. */
    stop: (() => {
      let stopped: Promise<void> | undefined;
      return () => (stopped ??= collector.shutdown(5_000).then(() => oap.stop()));
    })(),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

describe('one trace assembler per pipeline', { timeout: 30_000 }, () => {
  it('builds each trace once for skywalking and debug, and acknowledges after the OAP answered', async () => {
    const r = await run('{ quiet_period: 50ms }');
    try {
      const posting = r.post();
      // While the traces wait for their quiet period, only the shared assembler holds them.
      const held = await r.whenHeld();
      assert.equal(held['skywalking+debug/trace_buffer']?.spans, 12, JSON.stringify(held));
      assert.equal(held['skywalking/trace_buffer']?.spans, 0);
      assert.equal(held['debug/trace_buffer']?.spans, 0);
      // ack: after_export on skywalking: the answer comes once the OAP took every segment.
      assert.equal(await posting, 200);
      assert.equal(r.oap.segments.length, 6);
      await r.stop();
      const ids = (await r.lines()).map((l) => l.traceSegmentId).sort();
      assert.deepEqual(ids, r.oap.segments.map((s) => s.tracesegmentid).sort(), 'debug wrote the same segments the OAP got');
    } finally {
      await r.stop();
      await r.cleanup();
    }
  });

  it('keeps separate assemblers when the exporters assemble differently', async () => {
    const r = await run('{ quiet_period: 80ms }');
    try {
      const posting = r.post();
      const held = await r.whenHeld();
      assert.equal(held['skywalking+debug/trace_buffer'], undefined);
      assert.equal(held['skywalking/trace_buffer']?.spans, 12);
      assert.equal(held['debug/trace_buffer']?.spans, 12);
      assert.equal(await posting, 200);
    } finally {
      await r.stop();
      await r.cleanup();
    }
  });
});
