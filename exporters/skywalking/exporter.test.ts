import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ComponentSettings, Host } from '../../core/component.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { SpanLayer, SpanType, type AssembledSegment } from '../../core/segments/segment-object.ts';
import { StandInOap } from '../../test/support/stand-in-oap.ts';
import type { SkyWalkingConfig } from './config.ts';
import { SkyWalkingSink } from './exporter.ts';
import { skywalkingExporterFactory } from './factory.ts';

const host: Host = { reportFatal: () => {} };

function settings(): ComponentSettings {
  return { id: 'skywalking/primary', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

function segment(i: number): AssembledSegment {
  return {
    receivedAtMs: Date.now(),
    segment: {
      traceId: `trace-${i}`, traceSegmentId: `segment-${i}`, service: 'gateway', serviceInstance: 'gateway-1', isSizeLimited: false,
      spans: [{
        spanId: 0, parentSpanId: -1, startTime: 1_700_000_000_000, endTime: 1_700_000_000_010, refs: [], operationName: 'GET /',
        peer: 'backend:80', spanType: SpanType.Exit, spanLayer: SpanLayer.Http, componentId: 2, isError: false, tags: [], logs: [], skipAnalysis: false,
      }],
    },
  };
}

describe('skywalking exporter', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('has defaults for every key and rejects unknown ones', () => {
    const config = skywalkingExporterFactory.configSchema.parse({});
    assert.equal(config.endpoint, '127.0.0.1:11800');
    assert.equal(config.token, '');
    assert.equal(config.tls.insecure, true);
    assert.equal(config.timeout, 10_000);
    assert.equal(config.max_batch, 500);
    assert.equal(config.sending_queue.queue_size, 10_000);
    assert.deepEqual(config.retry_on_failure, { initial_interval: 500, max_interval: 30_000 });
    assert.equal(config.keep_alive_interval, 20_000);
    assert.equal(config.assembly.max_wait, 10_000);
    assert.throws(() => skywalkingExporterFactory.configSchema.parse({ endpoint: 'oap' }), /host:port/);
    assert.throws(() => skywalkingExporterFactory.configSchema.parse({ retry_on_failure: { max_elapsed: '5m' } }), /max_elapsed/);
    assert.throws(
      () => skywalkingExporterFactory.configSchema.parse({ retry_on_failure: { initial_interval: '10s', max_interval: '1s' } }),
      /max_interval/,
    );
  });

  it('fails at creation when a TLS file cannot be read', () => {
    const config = skywalkingExporterFactory.configSchema.parse({ tls: { insecure: false, ca_file: '/nonexistent/ca.pem' } });
    assert.throws(() => skywalkingExporterFactory.create(settings(), config), { code: 'SKB_ERR_CONFIG_INVALID' });
  });

  it('warns at start when it would send its token without TLS, and not otherwise', async () => {
    const { Writable } = await import('node:stream');
    const startWith = async (config: Record<string, unknown>) => {
      const lines: string[] = [];
      const destination = new Writable({ write: (chunk, _e, done) => { lines.push(String(chunk)); done(); } });
      const s: ComponentSettings = { ...settings(), logger: createLogger({ level: 'warn', destination }) };
      const exporter = skywalkingExporterFactory.create(s, skywalkingExporterFactory.configSchema.parse({ endpoint: '127.0.0.1:1', ...config }));
      await exporter.start(host);
      await exporter.shutdown(AbortSignal.timeout(1_000));
      return lines.join('');
    };
    assert.match(await startWith({ token: 'secret' }), /OAP token is sent without TLS/);
    assert.doesNotMatch(await startWith({}), /without TLS/);
    assert.doesNotMatch(await startWith({ token: 'secret', tls: { insecure: false } }), /without TLS/);
  });

  it('shuts down harmlessly without having started, twice', async () => {
    const exporter = skywalkingExporterFactory.create(settings(), skywalkingExporterFactory.configSchema.parse({}));
    await exporter.shutdown(AbortSignal.timeout(1000));
    await exporter.shutdown(AbortSignal.timeout(1000));
  });

  it('sends segments and keeps their instance alive through one channel, then drains on shutdown', async () => {
    const oap = await StandInOap.start({ token: 'tkn' });
    cleanups.push(() => oap.stop());
    const config: SkyWalkingConfig = skywalkingExporterFactory.configSchema.parse({
      endpoint: oap.endpoint,
      token: 'tkn',
      keep_alive_interval: '20ms',
      retry_on_failure: { initial_interval: '10ms', max_interval: '100ms' },
    });
    // The sink alone: what the trace assembler drives in production.
    const exporter = new SkyWalkingSink(settings(), config);
    await exporter.start(host);
    exporter.onInstance({ service: 'gateway', serviceInstance: 'gateway-1', layer: 'GENERAL', properties: [{ key: 'language', value: 'go' }] });
    exporter.deliver([segment(1), segment(2)]);

    await oap.waitForSegments(2);
    await oap.waitForPings(2);
    exporter.deliver([segment(3)]);
    await exporter.shutdown(AbortSignal.timeout(5000));

    assert.deepEqual(oap.segments.map((s) => s.tracesegmentid), ['segment-1', 'segment-2', 'segment-3']);
    assert.equal(oap.instanceProperties.length, 1);
    assert.equal(oap.pings[0]?.serviceinstance, 'gateway-1');
    assert.ok(oap.authentications.every((a) => a === 'tkn'));
    await exporter.shutdown(AbortSignal.timeout(5000)); // idempotent
  });
});
