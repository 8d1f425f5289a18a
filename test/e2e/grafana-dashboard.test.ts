/**
 * deploy/grafana/skybridge.json asks only for metrics skybridge has: every PromQL expression of the
 * dashboard (panels and template variables) parses as PromQL (Prometheus' own grammar), and every
 * metric it selects is on the /metrics page of a running collector that has the components the
 * panels watch (OTLP receiver, batch processor, the skywalking exporter to a stand-in OAP), after
 * traffic that makes the counters appear: spans delivered, a failed send, a duplicate span dropped,
 * spans refused by the batch processor's bound, garbage for the GC.
 */
import { parser } from '@prometheus-io/lezer-promql';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { components } from '../../components.ts';
import { startCollector, type RunningCollector } from '../../core/collector.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { parsePrometheusText } from '../../core/telemetry/status/prometheus-text.ts';
import { freePort } from '../support/skybridge-process.ts';
import { StandInOap } from '../support/stand-in-oap.ts';

const DASHBOARD = JSON.parse(readFileSync(new URL('../../deploy/grafana/skybridge.json', import.meta.url), 'utf8'));
/** The batch processor's bound on the spans it holds: a request that would pass it is refused. */
const MAX_PENDING = 20;

interface Query {
  where: string;
  expr: string;
}

function dashboardQueries(): Query[] {
  const queries: Query[] = [];
  for (const panel of DASHBOARD.panels) {
    for (const target of panel.targets ?? []) queries.push({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr });
  }
  for (const variable of DASHBOARD.templating.list) {
    if (variable.type !== 'query') continue;
    const labelValues = /^label_values\((.+),\s*\w+\)$/.exec(variable.definition);
    assert.ok(labelValues, `variable ${variable.name}: ${variable.definition}`);
    queries.push({ where: `variable ${variable.name}`, expr: labelValues[1]! });
  }
  return queries;
}

/** Grafana fills its variables before Prometheus sees the query; stand-ins keep the syntax. */
function asPromQL(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval/g, '5m').replace(/\$\w+/g, 'x');
}

/** The metric names an expression selects, and any syntax error. */
function selectedMetrics(expr: string): { names: string[]; errors: number[] } {
  const names: string[] = [];
  const errors: number[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name !== 'VectorSelector') return;
      const identifier = node.node.getChild('Identifier');
      if (identifier) names.push(expr.slice(identifier.from, identifier.to));
    },
  });
  return { names, errors };
}

function span(traceId: string, spanId: string, name: string): object {
  return { traceId, spanId, name, kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000120000000', attributes: [{ key: 'http.route', value: { stringValue: name } }] };
}

function otlpJson(spans: object[]): string {
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] }, scopeSpans: [{ spans }] }] });
}

describe('the Grafana dashboard', () => {
  let oap: StandInOap;
  let collector: RunningCollector;
  let exposed: Set<string>;

  before(async () => {
    oap = await StandInOap.start();
    const [http, grpcPort, telemetry] = [await freePort(), await freePort(), await freePort()];
    const yaml = `
receivers:
  otlp:
    http: { endpoint: 127.0.0.1:${http} }
    grpc: { endpoint: 127.0.0.1:${grpcPort} }
processors:
  batch: { send_batch_size: ${MAX_PENDING}, timeout: 1s, max_pending_spans: ${MAX_PENDING}, wait_for_result: false }
exporters:
  skywalking:
    endpoint: ${oap.endpoint}
    assembly: { quiet_period: 200ms }
pipelines:
  traces: { receivers: [otlp], processors: [batch], exporters: [skywalking] }
telemetry: { endpoint: 127.0.0.1:${telemetry}, log_level: silent }
`;
    collector = await startCollector({ text: yaml, name: 'grafana.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
    const post = (body: string) => fetch(`http://127.0.0.1:${http}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

    // The first send fails (an export error), the retry delivers; a span sent twice is a duplicate.
    oap.failNext(1, grpc.status.UNAVAILABLE, { methods: ['collect'] });
    const first = span('5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174', 'GET /cart');
    assert.equal((await post(otlpJson([first, span('5b8efff798038103d269b633813fc60c', 'aaa19b7ec3c1b174', 'GET /items')]))).status, 200);
    assert.equal((await post(otlpJson([first]))).status, 200);
    const tooMany = Array.from({ length: MAX_PENDING }, (_, i) => span('6c8efff798038103d269b633813fc60c', (0x1000 + i).toString(16).padStart(16, '0'), 'GET /bulk'));
    // The batch processor still holds the first spans (answered once buffered, sent after 1 s):
    // these would pass its bound.
    const refused = await post(otlpJson(tooMany));
    assert.ok(refused.status === 429 || refused.status === 503, `over max_pending_spans: ${refused.status}`);
    // Garbage enough for a few collections, so the GC histogram has a series.
    for (let i = 0; i < 200; i++) new Array(50_000).fill({ i });

    const scrape = async () => new Set(parsePrometheusText(await (await fetch(`http://127.0.0.1:${telemetry}/metrics`)).text()).map((s) => s.name));
    const deadline = Date.now() + 15_000;
    for (exposed = await scrape(); !exposed.has('skybridge_exporter_sent_segments_total') && Date.now() < deadline; exposed = await scrape()) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  after(async () => {
    await collector?.shutdown(5_000);
    await oap?.stop();
  });

  it('every expression parses as PromQL', () => {
    for (const { where, expr } of dashboardQueries()) {
      const { names, errors } = selectedMetrics(asPromQL(expr));
      assert.deepEqual(errors, [], `${where}: syntax error in ${expr}`);
      assert.ok(names.length > 0, `${where} selects no metric: ${expr}`);
    }
  });

  it('every metric it selects is on a running collector\'s /metrics', () => {
    const missing = dashboardQueries().flatMap(({ where, expr }) =>
      selectedMetrics(asPromQL(expr)).names.filter((name) => !exposed.has(name)).map((name) => `${where}: ${name}`));
    assert.deepEqual(missing, []);
  });

  it('has the panels an operator needs, each on our metric names', () => {
    const byTitle = new Map<string, string>(DASHBOARD.panels.filter((p: { type: string }) => p.type !== 'row').map((p: { title: string; targets: { expr: string }[] }) => [p.title, p.targets.map((t) => t.expr).join('\n')]));
    const needs: Record<string, RegExp> = {
      received: /skybridge_receiver_accepted_spans_total/,
      refused: /skybridge_receiver_requests_total[^\n]*status!~/,
      dropped: /skybridge_dropped_spans_total/,
      delivered: /skybridge_exporter_sent_segments_total/,
      admission: /skybridge_admission_held_bytes/,
      queue: /skybridge_queue_size/,
      'export latency': /skybridge_exporter_receive_to_export_seconds_bucket/,
      'export errors': /skybridge_exporter_send_failed_segments_total/,
      'OAP connection': /skybridge_exporter_connection_state/,
      'event loop': /nodejs_eventloop_lag_p99_seconds|skybridge_eventloop_active_seconds_total/,
      heap: /nodejs_heap_size_used_bytes/,
      GC: /nodejs_gc_duration_seconds/,
      CPU: /process_cpu_/,
      'file descriptors': /process_open_fds/,
    };
    for (const [what, pattern] of Object.entries(needs)) {
      assert.ok([...byTitle.values()].some((exprs) => pattern.test(exprs)), `no panel for ${what}`);
    }
    const ids = DASHBOARD.panels.map((p: { id: number }) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });
});
