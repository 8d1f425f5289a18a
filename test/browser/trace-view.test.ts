/**
 * The trace view in a real browser: a collector in-process exporting to a stand-in OAP, a
 * three-service trace (and an unrelated one) from the real OpenTelemetry SDK's OTLP/HTTP exporter,
 * and Debian's Chromium searching for the trace and reading what /traces draws of it: a segment per
 * service, the waterfall, the ref arrows between segments, the source spans. The segment ids and refs
 * the page shows are checked against what the OAP received. Every step waits on a condition in the
 * page, never on a fixed sleep.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Browser, Page } from 'playwright-core';
import { components } from '../../components.ts';
import { startCollector, type RunningCollector } from '../../core/collector.ts';
import type { Component } from '../../core/component.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { launchBrowser, screenshotPath } from '../support/browser.ts';
import { StandInOap } from '../support/stand-in-oap.ts';

type OtlpPorts = Component & { httpPort: number };

/** Generous: a 2-core machine running other suites may be slow to start Chromium. */
const WAIT_MS = 60_000;

function configYaml(oapEndpoint: string): string {
  return `
receivers:
  otlp:
    grpc: null
    http: { endpoint: "127.0.0.1:0" }
exporters:
  skywalking:
    endpoint: ${oapEndpoint}
    assembly: { quiet_period: 200ms }
pipelines:
  traces:
    receivers: [otlp]
    exporters: [skywalking]
telemetry:
  endpoint: "127.0.0.1:0"
  log_level: silent
`;
}

/**
 * frontend → orders → payments as three instrumented processes would report it (one SDK provider
 * per service, the callee's context remote), over OTLP/HTTP JSON; resolves once all are exported.
 */
async function sendCheckout(url: string, t0: number): Promise<string> {
  const provider = (service: string) =>
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'service.instance.id': `${service}-1` }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url }))],
    });
  const frontend = provider('frontend');
  const orders = provider('orders');
  const payments = provider('payments');
  const remote = (span: Span) => trace.setSpanContext(ROOT_CONTEXT, { ...span.spanContext(), isRemote: true });
  const start = (p: BasicTracerProvider, name: string, kind: SpanKind, startTime: number, attributes: Attributes, parent?: Context) =>
    p.getTracer('@opentelemetry/instrumentation-http').startSpan(name, { kind, startTime, attributes }, parent);
  const server = (p: BasicTracerProvider, startTime: number, method: string, route: string, parent?: Context) =>
    start(p, `${method} ${route}`, SpanKind.SERVER, startTime, { 'http.request.method': method, 'http.route': route, 'url.path': route, 'http.response.status_code': 200 }, parent);
  const client = (p: BasicTracerProvider, startTime: number, method: string, host: string, path: string, parent: Span) =>
    start(p, method, SpanKind.CLIENT, startTime, { 'http.request.method': method, 'url.full': `http://${host}:8080${path}`, 'server.address': host, 'server.port': 8080, 'http.response.status_code': 200 }, trace.setSpan(ROOT_CONTEXT, parent));

  const feServer = server(frontend, t0, 'GET', '/checkout');
  const feClient = client(frontend, t0 + 8, 'GET', 'orders', '/orders/42', feServer);
  const ordServer = server(orders, t0 + 15, 'GET', '/orders/{id}', remote(feClient));
  const ordLocal = orders.getTracer('app').startSpan('price cart', { kind: SpanKind.INTERNAL, startTime: t0 + 18 }, trace.setSpan(ROOT_CONTEXT, ordServer));
  ordLocal.end(t0 + 24);
  const ordClient = client(orders, t0 + 28, 'POST', 'payments', '/pay', ordServer);
  const payServer = server(payments, t0 + 35, 'POST', '/pay', remote(ordClient));
  payServer.end(t0 + 70);
  ordClient.end(t0 + 75);
  ordServer.end(t0 + 82);
  feClient.end(t0 + 88);
  feServer.end(t0 + 95);
  await Promise.all([frontend, orders, payments].map((p) => p.shutdown()));
  return feServer.spanContext().traceId;
}

/** One span of another service, so the search has something to leave out. */
async function sendOther(url: string, t0: number): Promise<string> {
  const p = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'inventory' }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  const span = p.getTracer('app').startSpan('GET /stock', { kind: SpanKind.SERVER, startTime: t0, attributes: { 'http.request.method': 'GET', 'http.route': '/stock' } });
  span.end(t0 + 5);
  await p.shutdown();
  return span.spanContext().traceId;
}

async function listedTraceIds(page: Page): Promise<string[]> {
  return page.$$eval('#traces li', (items) => items.map((li) => (li as HTMLElement).dataset.traceId ?? ''));
}

describe('trace view (/traces) in Chromium', () => {
  let oap: StandInOap;
  let collector: RunningCollector;
  let browser: Browser;
  let base = '';
  let checkoutId = '';
  let otherId = '';

  before(async () => {
    oap = await StandInOap.start();
    collector = await startCollector({ text: configYaml(oap.endpoint), name: 'trace-view.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
    const otlp = collector.service.component<OtlpPorts>('otlp')!;
    const url = `http://127.0.0.1:${otlp.httpPort}/v1/traces`;
    const t0 = Date.now() - 1_000;
    [checkoutId, otherId] = await Promise.all([sendCheckout(url, t0), sendOther(url, t0)]);
    await oap.waitForSegments(4, WAIT_MS);
    base = `http://127.0.0.1:${collector.telemetry!.port}`;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await collector?.shutdown(5_000);
    await oap?.stop();
  });

  it('finds the trace by part of its id and draws its segments, waterfall, refs and source spans', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${base}/traces`);
    await page.waitForFunction((n) => document.querySelectorAll('#traces li').length >= n, 2, { timeout: WAIT_MS });
    assert.deepEqual((await listedTraceIds(page)).sort(), [checkoutId, otherId].sort());

    await page.fill('input[name=traceId]', checkoutId.slice(-12).toUpperCase());
    await page.click('#search button');
    await page.waitForFunction((id) => {
      const items = [...document.querySelectorAll<HTMLElement>('#traces li')];
      return items.length === 1 && items[0]!.dataset.traceId === id;
    }, checkoutId, { timeout: WAIT_MS });

    await page.click(`#traces li[data-trace-id="${checkoutId}"] button`);
    await page.waitForFunction(() => document.querySelectorAll('svg.refs path.ref').length >= 2, undefined, { timeout: WAIT_MS });

    // What the OAP received is the truth the page must show.
    const sent = oap.segments.filter((s) => s.traceid === checkoutId);
    const segmentOf = (service: string) => sent.find((s) => s.service === service)!;
    const segments = await page.$$eval('section.segment', (nodes) =>
      nodes.map((n) => {
        const el = n as HTMLElement;
        return {
          id: el.dataset.segmentId,
          service: el.dataset.service,
          types: [...el.querySelectorAll<HTMLElement>('.span-row')].map((r) => r.dataset.type),
          bars: [...el.querySelectorAll<HTMLElement>('.bar')].map((b) => b.getBoundingClientRect().width),
        };
      }),
    );
    assert.deepEqual(segments.map((s) => s.service), ['frontend', 'orders', 'payments'], 'a segment per service, in time order');
    for (const s of segments) assert.equal(s.id, segmentOf(s.service!).tracesegmentid);
    assert.deepEqual(segments.map((s) => s.types), [['Entry', 'Exit'], ['Entry', 'Local', 'Exit'], ['Entry']]);
    for (const s of segments) for (const width of s.bars) assert.ok(width > 0, 'every span has a bar');
    // The waterfall is to scale: payments' Entry (35 ms) is shorter than the frontend's (95 ms).
    assert.ok(segments[2]!.bars[0]! < segments[0]!.bars[0]!);

    const arrows = await page.$$eval('svg.refs path.ref', (paths) =>
      paths.map((p) => ({ parent: p.getAttribute('data-parent-segment'), parentSpan: p.getAttribute('data-parent-span'), child: p.getAttribute('data-child-segment'), d: p.getAttribute('d') })),
    );
    const expected = ['orders', 'payments'].map((service) => {
      const ref = segmentOf(service).spansList[0]!.refsList[0]!;
      return { parent: ref.parenttracesegmentid, parentSpan: String(ref.parentspanid), child: segmentOf(service).tracesegmentid };
    });
    assert.deepEqual(arrows.map(({ parent, parentSpan, child }) => ({ parent, parentSpan, child })), expected);
    assert.equal(expected[0]!.parent, segmentOf('frontend').tracesegmentid);
    for (const a of arrows) assert.match(a.d!, /^M [\d.]+ [\d.]+ C /, 'a drawn path');

    // Source spans beside it: the five the SDK sent, each with the segment it became.
    const sources = await page.$$eval('tr.source', (rows) => rows.map((r) => ({ segment: (r as HTMLElement).dataset.segmentId, name: r.children[1]!.textContent })));
    assert.equal(sources.length, 6);
    assert.ok(sources.every((s) => sent.some((seg) => seg.tracesegmentid === s.segment)));
    assert.ok(sources.some((s) => s.name === 'price cart'));

    // A span's tags open on click: the orders Exit carries its peer and URL.
    const exitRow = page.locator(`section.segment[data-service="orders"] .span-row[data-type="Exit"]`);
    await exitRow.click();
    const tags = await page.locator('section.segment[data-service="orders"] .span-row.open + dl.tags').innerText();
    assert.match(tags, /url\s+http:\/\/payments:8080\/pay/);
    assert.match(await exitRow.innerText(), /peer payments:8080/);

    await page.screenshot({ path: screenshotPath('trace-view.png'), fullPage: true });
    await page.close();
  });

  it('narrows the list by service, endpoint and errors', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/traces`);
    /** Searches through the form; resolves with the list once it shows that search's answer. */
    const search = async (fields: Record<string, string>, errorsOnly = false) => {
      for (const name of ['traceId', 'service', 'endpoint']) await page.fill(`input[name=${name}]`, fields[name] ?? '');
      await page.setChecked('input[name=error]', errorsOnly);
      await page.click('#search button');
      const query = new URLSearchParams({ ...fields, ...(errorsOnly ? { error: '1' } : {}) }).toString();
      await page.waitForFunction((q) => (document.querySelector('#traces') as HTMLElement).dataset.query === q, query, { timeout: WAIT_MS });
      return listedTraceIds(page);
    };
    await page.waitForFunction(() => document.querySelectorAll('#traces li').length >= 2, undefined, { timeout: WAIT_MS });
    assert.deepEqual(await search({ service: 'inventory' }), [otherId]);
    assert.deepEqual(await search({ endpoint: 'orders/{id}' }), [checkoutId]);
    assert.deepEqual(await search({}, true), []);
    assert.equal(await page.isVisible('#empty'), true);
    await page.close();
  });
});
