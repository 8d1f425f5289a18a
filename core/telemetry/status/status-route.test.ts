/**
 * The status route on a real collector with `workers: 2`: the page and its assets, and a snapshot
 * whose numbers come from both worker threads (the exporters run there, not in this thread), checked
 * against what a stand-in OAP really received.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { components } from '../../../components.ts';
import { startCollector, type RunningCollector } from '../../collector.ts';
import type { Component } from '../../component.ts';
import { createLogger } from '../logger.ts';
import { StandInOap } from '../../../test/support/stand-in-oap.ts';
import type { StatusSnapshot } from './status-snapshot.ts';

type OtlpPorts = Component & { httpPort: number };

const TRACES = 40;

function otlpJson(traceIds: string[]): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = traceIds.map((traceId) => ({
    traceId, spanId: randomBytes(8).toString('hex'), name: 'GET /cart', kind: 2,
    startTimeUnixNano: String(now), endTimeUnixNano: String(now + 5_000_000n),
    attributes: [{ key: 'http.request.method', value: { stringValue: 'GET' } }],
  }));
  return JSON.stringify({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }, { key: 'service.instance.id', value: { stringValue: 'cart-1' } }] },
      scopeSpans: [{ spans }],
    }],
  });
}

describe('status route with worker threads', () => {
  let oap: StandInOap;
  let collector: RunningCollector;
  let base = '';

  before(async () => {
    oap = await StandInOap.start();
    const yaml = `
workers: 2
receivers:
  otlp: { http: { endpoint: "127.0.0.1:0" } }
exporters:
  skywalking: { endpoint: ${oap.endpoint}, assembly: { quiet_period: 200ms } }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
telemetry: { endpoint: "127.0.0.1:0", log_level: silent }
`;
    collector = await startCollector({ text: yaml, name: 'status-workers.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
    base = `http://127.0.0.1:${collector.telemetry!.port}`;
  });

  after(async () => {
    await collector?.shutdown(5_000);
    await oap?.stop();
  });

  it('serves the page at /status (where / leads) and its assets beside it', async () => {
    const home = await fetch(`${base}/`, { redirect: 'manual' });
    assert.equal(home.status, 302);
    assert.equal(home.headers.get('location'), '/status');
    const page = await fetch(`${base}/status`);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(await page.text(), /<script src="status\/status.js"><\/script>/);
    for (const [asset, type] of [['status.js', /^text\/javascript/], ['status.css', /^text\/css/]] as const) {
      const res = await fetch(`${base}/status/${asset}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, type);
      assert.ok((await res.text()).length > 1000);
    }
    assert.equal((await fetch(`${base}/status/`, { redirect: 'manual' })).headers.get('location'), '/status');
    assert.equal((await fetch(`${base}/status/nothing-here`)).status, 404);
  });

  it('sums both threads: spans sent, segments, channels ready and the instance', async () => {
    const otlp = collector.service.component<OtlpPorts>('otlp')!;
    const traceIds = Array.from({ length: TRACES }, () => randomBytes(16).toString('hex'));
    const res = await fetch(`http://127.0.0.1:${otlp.httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: otlpJson(traceIds) });
    assert.equal(res.status, 200);
    await oap.waitForSegments(TRACES, 30_000);

    let snapshot: StatusSnapshot | undefined;
    const deadline = Date.now() + 30_000;
    for (;;) {
      snapshot = await (await fetch(`${base}/status/snapshot.json`)).json() as StatusSnapshot;
      const e = snapshot.components['exporter:skywalking']!;
      if (e.flows.segments_out!.total >= TRACES && e.connection?.threads.ready === 2) break;
      assert.ok(Date.now() < deadline, `snapshot never showed both threads' work: ${JSON.stringify(e)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const e = snapshot.components['exporter:skywalking']!;
    assert.equal(snapshot.workers, 2);
    assert.equal(e.flows.segments_out!.total, oap.segments.length);
    assert.equal(e.flows.spans_out!.total, TRACES);
    assert.equal(e.flows.in!.total, TRACES);
    assert.equal(snapshot.components['receiver:otlp']!.flows.in!.total, TRACES);
    assert.equal(e.connection!.state, 'ready');
    // Each thread keeps its own instances alive; both met cart-1.
    assert.deepEqual(e.instances!.recent.map((i) => `${i.service}/${i.instance}`), ['cart/cart-1']);
    assert.equal(e.instances!.count, 2);
    assert.equal(snapshot.totals.lost.total, 0);
  });
});
