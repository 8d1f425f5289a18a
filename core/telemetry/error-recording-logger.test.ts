import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { recordingErrors } from './error-recording-logger.ts';
import { createLogger } from './logger.ts';

function setup(level: string) {
  const out = new PassThrough();
  let written = '';
  out.on('data', (chunk: Buffer) => (written += chunk.toString()));
  const recorded: string[] = [];
  const logger = recordingErrors(createLogger({ level, destination: out }).child({ component: 'kafka' }), (m) => recorded.push(m));
  return { logger, recorded, written: () => written };
}

describe('recordingErrors', () => {
  it('notes error-level lines with their error, and still logs them', async () => {
    const { logger, recorded, written } = setup('info');
    logger.info('Started.');
    logger.warn({ error: new Error('slow') }, 'Retrying.');
    logger.error({ error: new Error('connect ECONNREFUSED 127.0.0.1:9092') }, 'Kafka consumer crashed.');
    logger.error('Plain message.');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(recorded, ['Kafka consumer crashed. connect ECONNREFUSED 127.0.0.1:9092', 'Plain message.']);
    const lines = written().trim().split('\n').map((l) => JSON.parse(l) as { level: number; component: string; msg: string });
    assert.deepEqual(lines.map((l) => [l.level, l.component, l.msg]), [
      [30, 'kafka', 'Started.'], [40, 'kafka', 'Retrying.'], [50, 'kafka', 'Kafka consumer crashed.'], [50, 'kafka', 'Plain message.'],
    ]);
  });

  it('notes errors even when the log level hides them', () => {
    const { logger, recorded, written } = setup('silent');
    logger.error({ error: new Error('disk full') }, 'The debug output failed.');
    assert.deepEqual(recorded, ['The debug output failed. disk full']);
    assert.equal(written(), '');
    assert.equal(typeof logger.child({ more: 1 }).info, 'function');
  });
});

describe('a component logging an error, in a running collector', () => {
  it('shows it as the component\'s last error on /metrics (what the status page reads)', async () => {
    const { startCollector } = await import('../collector.ts');
    const { components } = await import('../../components.ts');
    const { freePort } = await import('../../test/support/skybridge-process.ts');
    const port = await freePort();
    const collector = await startCollector(
      {
        name: 'broken-output.yaml',
        text: `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
exporters:
  # Opens, then every write fails (ENOSPC): an error at run time, not at start.
  debug: { output: /dev/full, assembly: { quiet_period: 50ms } }
pipelines:
  traces: { receivers: [otlp], exporters: [debug] }
telemetry: { endpoint: null, log_level: silent }
`,
      },
      components,
      { logger: createLogger({ level: 'silent' }) },
    );
    try {
      const body = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] }, scopeSpans: [{ spans: [{
        traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'GET /cart', kind: 2,
        startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000120000000',
      }] }] }] };
      const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200);
      let text = '';
      for (const until = Date.now() + 10_000; !/skybridge_component_last_error_timestamp_seconds\{component="debug"/.test(text) && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 50));
        text = await collector.metricsText();
      }
      assert.match(text, /skybridge_component_last_error_timestamp_seconds\{component="debug",message="The debug output failed; segments are dropped from now on\. ENOSPC[^"]*"\} \d/);
    } finally {
      await collector.shutdown(2_000);
    }
  });
});
