import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { components } from '../../components.ts';
import { startCollector } from '../collector.ts';
import { encodeExportTraceServiceRequest } from '../model/otlp-protobuf-encoder.ts';
import { createLogger } from '../telemetry/logger.ts';
import { batchOf, threeServiceTrace } from '../../test/support/span-fixtures.ts';
import { freePort } from '../../test/support/skybridge-process.ts';

describe('processor metrics', () => {
  it('keeps one series per pipeline for a processor two pipelines list, its own metrics included', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const collector = await startCollector(
      {
        name: 'two-pipelines.yaml',
        text: `
receivers:
  otlp/a: { grpc: null, http: { endpoint: "127.0.0.1:${a}" } }
  otlp/b: { grpc: null, http: { endpoint: "127.0.0.1:${b}" } }
processors:
  memory_limiter: {}
  batch: { timeout: 1m, send_batch_size: 60000, wait_for_result: false }
exporters:
  debug: { output: /dev/null }
pipelines:
  traces/a: { receivers: [otlp/a], processors: [memory_limiter, batch], exporters: [debug] }
  traces/b: { receivers: [otlp/b], processors: [memory_limiter, batch], exporters: [debug] }
telemetry: { endpoint: null, log_level: silent }
`,
      },
      components,
      { logger: createLogger({ level: 'silent' }) },
    );
    try {
      const post = (port: number, traces: number) =>
        fetch(`http://127.0.0.1:${port}/v1/traces`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-protobuf' },
          body: Buffer.from(encodeExportTraceServiceRequest(batchOf(...Array.from({ length: traces }, () => threeServiceTrace().batches.frontend)))),
        });
      assert.equal((await post(a, 1)).status, 200);
      assert.equal((await post(b, 3)).status, 200);
      const text = await collector.metricsText();
      assert.match(text, /skybridge_processor_incoming_spans_total\{component="memory_limiter",pipeline="traces\/a"\} 2\n/);
      assert.match(text, /skybridge_processor_incoming_spans_total\{component="memory_limiter",pipeline="traces\/b"\} 6\n/);
      assert.match(text, /skybridge_processor_outgoing_spans_total\{component="memory_limiter",pipeline="traces\/b"\} 6\n/);
      // What a processor reports itself (its queue here) is its pipeline's instance's alone.
      assert.match(text, /skybridge_queue_size\{component="batch@traces\/a",queue="batch"\} 2\n/);
      assert.match(text, /skybridge_queue_size\{component="batch@traces\/b",queue="batch"\} 6\n/);
    } finally {
      await collector.shutdown(2_000);
    }
  });
});
