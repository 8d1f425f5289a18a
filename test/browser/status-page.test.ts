/**
 * The status page in a real browser: a collector in-process with two pipelines (OTLP and Zipkin
 * in, memory_limiter and batch, a stand-in OAP, an OAP that is not there, the debug exporter),
 * load from the real OpenTelemetry SDK, and Debian's Chromium reading the page. Every check waits
 * on a condition in the page, never on a fixed sleep, so a loaded machine only makes it slower.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Browser, Page } from 'playwright-core';
import { components } from '../../components.ts';
import { startCollector, type RunningCollector } from '../../core/collector.ts';
import type { Component } from '../../core/component.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { launchBrowser, screenshotPath } from '../support/browser.ts';
import { freePort } from '../support/skybridge-cli.ts';
import { StandInOap } from '../support/stand-in-oap.ts';

type OtlpPorts = Component & { httpPort: number };
type ZipkinPort = Component & { port: number };

/** Generous: a 2-core machine running other suites may be slow to start Chromium or settle rates. */
const WAIT_MS = 60_000;

const EXPECTED_EDGES = [
  ['receiver:otlp', 'processor:traces:memory_limiter'],
  ['receiver:zipkin', 'processor:traces:memory_limiter'],
  ['processor:traces:memory_limiter', 'processor:traces:batch'],
  ['processor:traces:batch', 'exporter:skywalking'],
  ['processor:traces:batch', 'exporter:debug'],
  ['receiver:zipkin', 'processor:traces/standby:batch'],
  ['processor:traces/standby:batch', 'exporter:skywalking/standby'],
].map(([from, to]) => `${from} -> ${to}`).sort();

function configYaml(oapEndpoint: string, missingOapEndpoint: string, debugFile: string): string {
  return `
receivers:
  otlp:
    http: { endpoint: "127.0.0.1:0" }
  zipkin:
    endpoint: "127.0.0.1:0"
processors:
  memory_limiter: {}
  batch: { timeout: 100ms }
exporters:
  skywalking:
    endpoint: ${oapEndpoint}
    assembly: { quiet_period: 300ms }
  skywalking/standby:
    endpoint: ${missingOapEndpoint}
    timeout: 1s
    retry_on_failure: { initial_interval: 200ms, max_interval: 1s }
    assembly: { quiet_period: 300ms }
  debug:
    output: ${JSON.stringify(debugFile)}
    verbosity: basic
    assembly: { quiet_period: 300ms }
pipelines:
  traces:
    receivers: [otlp, zipkin]
    processors: [memory_limiter, batch]
    exporters: [skywalking, debug]
  traces/standby:
    receivers: [zipkin]
    processors: [batch]
    exporters: [skywalking/standby]
telemetry:
  endpoint: "127.0.0.1:0"
  log_level: silent
`;
}

/** A checkout service that calls payments, over and over, through the OTel SDK's OTLP/HTTP exporter. */
function startOtelLoad(url: string): { stop(): Promise<void> } {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.instance.id': 'checkout-7f9c' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 200 })],
  });
  const tracer = provider.getTracer('status-page-test');
  const timer = setInterval(() => {
    const server = tracer.startSpan('GET /cart', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'http.route': '/cart', 'http.response.status_code': 200 } });
    const client = tracer.startSpan('POST', {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'POST', 'url.full': 'http://payments:8080/pay', 'server.address': 'payments', 'server.port': 8080 },
    }, trace.setSpan(context.active(), server));
    client.end();
    server.end();
  }, 10);
  return {
    async stop() {
      clearInterval(timer);
      await provider.shutdown();
    },
  };
}

/** Zipkin v2 JSON spans, posted by hand: they feed both pipelines, so the standby OAP gets work. */
async function postZipkinSpans(port: number): Promise<void> {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const now = Date.now() * 1000;
  const spans = [{ traceId: hex(32), id: hex(16), name: 'get /inventory', kind: 'SERVER', timestamp: now, duration: 12_000, localEndpoint: { serviceName: 'inventory' } }];
  const res = await fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spans) });
  assert.equal(res.status, 202);
}

/** The page's edges as "from -> to", read from the SVG layer. */
function edgesOnPage(page: Page): Promise<string[]> {
  return page.$$eval('path.edge', (paths) => paths.map((p) => `${p.getAttribute('data-from')} -> ${p.getAttribute('data-to')}`).sort());
}

/** A rate shown on the page, as the number the page was given (NaN while it shows none). */
function rateOf(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (el) => Number(el.getAttribute('data-rate') || 'NaN'));
}

describe('status page', () => {
  let oap: StandInOap;
  let collector: RunningCollector;
  let browser: Browser;
  let page: Page;
  let load: { stop(): Promise<void> } | undefined;
  let scratch: string;

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'skybridge-status-'));
    oap = await StandInOap.start();
    const yaml = configYaml(oap.endpoint, `127.0.0.1:${await freePort()}`, path.join(scratch, 'segments.jsonl'));
    collector = await startCollector({ text: yaml, name: 'status-page.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    await page.goto(`http://127.0.0.1:${collector.telemetry!.port}/`);
  });

  after(async () => {
    await load?.stop();
    await browser?.close();
    await collector?.shutdown(3_000);
    await oap?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('lands on /status and draws every configured component and edge, per pipeline', async () => {
    assert.match(page.url(), /\/status$/);
    await page.waitForSelector('.node[data-key="exporter:skywalking"] .node-main', { timeout: WAIT_MS });
    const nodes = await page.$$eval('.graph', (graphs) => graphs.map((g) => ({
      pipeline: g.getAttribute('data-pipeline'),
      nodes: [...g.querySelectorAll('.node')].map((n) => `${n.getAttribute('data-kind')} ${n.querySelector('.node-id')?.textContent}`),
    })));
    assert.deepEqual(nodes, [
      { pipeline: 'traces', nodes: ['receiver otlp', 'receiver zipkin', 'processor memory_limiter', 'processor batch', 'exporter skywalking', 'exporter debug'] },
      { pipeline: 'traces/standby', nodes: ['receiver zipkin', 'processor batch', 'exporter skywalking/standby'] },
    ]);
    assert.deepEqual(await edgesOnPage(page), EXPECTED_EDGES);
  });

  it('shows rates that move under load from the OpenTelemetry SDK, and the instance it reported', async () => {
    const otlp = collector.service.component<OtlpPorts>('otlp')!;
    load = startOtelLoad(`http://127.0.0.1:${otlp.httpPort}/v1/traces`);
    const opts = { timeout: WAIT_MS, polling: 250 };
    const positive = (selector: string) => page.waitForFunction(
      (sel) => Number(document.querySelector(sel)?.getAttribute('data-rate') || 0) > 0, selector, opts);
    await positive('.node[data-key="receiver:otlp"] .node-main');
    await positive('.node[data-key="processor:traces:batch"] .node-main');
    await positive('.node[data-key="exporter:skywalking"] .node-main');
    await positive('.node[data-key="exporter:skywalking"] [data-flow="segments_out"]');
    await positive('[data-total="received"] .tile-value');

    // What the page shows agrees with what really happened: the stand-in OAP holds segments.
    assert.ok(oap.segments.length > 0);
    const shownTotal = await page.$eval('.node[data-key="exporter:skywalking"] [data-flow="segments_out"]', (el) => Number(el.getAttribute('data-total')));
    assert.ok(shownTotal > 0 && shownTotal <= oap.segments.length, `page shows ${shownTotal} segments sent, the OAP has ${oap.segments.length}`);
    // And the rate keeps moving: the totals grow between readings.
    const before = Number(await page.$eval('.node[data-key="receiver:otlp"] .node-main', (el) => el.getAttribute('data-total')));
    await page.waitForFunction((was) => Number(document.querySelector('.node[data-key="receiver:otlp"] .node-main')!.getAttribute('data-total')) > was, before, opts);
    assert.ok((await rateOf(page, '.node[data-key="receiver:otlp"] .node-main')) > 0);

    await page.waitForFunction(() => [...document.querySelectorAll('#instances td')].some((td) => td.textContent === 'checkout-7f9c'), undefined, opts);
  });

  it('shows the OAP connection state: connected to the stand-in, failing towards the missing one, with its last error', async () => {
    const opts = { timeout: WAIT_MS, polling: 250 };
    await page.waitForSelector('.node[data-key="exporter:skywalking"] [data-connection-state="ready"]', opts);
    assert.match(await page.textContent('.node[data-key="exporter:skywalking"] .conn') ?? '', /OAP connected/);

    const zipkin = collector.service.component<ZipkinPort>('zipkin')!;
    await postZipkinSpans(zipkin.port);
    await page.waitForSelector('.node[data-key="exporter:skywalking/standby"] [data-connection-state="transient_failure"]', opts);
    await page.waitForFunction(() => /Sending segments failed: unavailable/i.test(document.querySelector('#errors')?.textContent ?? ''), undefined, opts);
    const errorRow = await page.textContent('#errors tbody tr');
    assert.match(errorRow ?? '', /skywalking\/standby/);
  });

  it('takes the screenshot for the docs', async () => {
    // Enough readings for the sparklines to show a line.
    await page.waitForFunction(() => (document.querySelector('.node[data-key="exporter:skywalking"] .spark polyline')?.getAttribute('points') ?? '').split(' ').length >= 20,
      undefined, { timeout: WAIT_MS, polling: 250 });
    await page.screenshot({ path: screenshotPath('status-page.png'), fullPage: true });
  });
});
