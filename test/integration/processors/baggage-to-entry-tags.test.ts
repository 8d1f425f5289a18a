/**
 * A real OpenTelemetry SDK sending baggage: two Node processes (frontend → backend) with
 * instrumentation-http, W3C trace context + W3C baggage propagation, and
 * @opentelemetry/baggage-span-processor, which copies every entry onto each span under its own key.
 * The frontend adds tenant, user.email, session.token and debug before calling the backend, so the
 * entries cross the process boundary in the `baggage` header. skybridge runs
 * batch → baggage_filter → skywalking exporter, and the stand-in OAP decodes what it got with
 * skywalking-backend-js's stubs.
 *
 * A regression shows as: tenant missing from the backend's Entry span (the tag went to the wrong
 * span or nowhere), baggage tags on non-entry spans, or the token / raw email anywhere in the bytes
 * the OAP received.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { components } from '../../../components.ts';
import { startCollector, type RunningCollector } from '../../../core/collector.ts';
import type { Component } from '../../../core/component.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { startChildService, type ChildService } from '../../support/child-service.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';
import { StandInOap } from '../../support/stand-in-oap.ts';

const APP = fileURLToPath(new URL('./baggage-app.cjs', import.meta.url));
const ENTRY = 0;
const TOKEN = 's3cr3t-session-token-value';
const EMAIL = 'a@b.com';

function tags(span: DecodedSegment['spansList'][number]): Record<string, string> {
  return Object.fromEntries(span.tagsList.map((t) => [t.key, t.value]));
}

describe('baggage from a real OTel SDK → baggage_filter → entry span tags', () => {
  let oap: StandInOap;
  let collector: RunningCollector;
  const services: ChildService[] = [];
  let frontendUrl = '';

  before(async () => {
    oap = await StandInOap.start();
    const yaml = `
receivers:
  otlp:
    grpc: null
    http: { endpoint: "127.0.0.1:0" }
processors:
  batch: { timeout: 50ms }
  baggage_filter:
    attribute_keys: [tenant, user.email, session.token, debug]
    allow_keys: [tenant, user.email]
    deny_keys: [session.token]
    redact_values: [email]
    redaction: mask
exporters:
  skywalking:
    endpoint: ${oap.endpoint}
    assembly: { quiet_period: 300ms }
pipelines:
  traces: { receivers: [otlp], processors: [batch, baggage_filter], exporters: [skywalking] }
telemetry: { endpoint: null, log_level: silent }
`;
    collector = await startCollector({ text: yaml, name: 'baggage.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
    const otlp = collector.service.component<Component & { httpPort: number }>('otlp')!;
    const endpoint = `http://127.0.0.1:${otlp.httpPort}/v1/traces`;
    const backend = await startChildService(APP, { SERVICE_NAME: 'backend', OTLP_ENDPOINT: endpoint });
    const frontend = await startChildService(APP, {
      SERVICE_NAME: 'frontend',
      OTLP_ENDPOINT: endpoint,
      DOWNSTREAM: `http://127.0.0.1:${backend.port}`,
      BAGGAGE: JSON.stringify({ tenant: 'acme', 'user.email': EMAIL, 'session.token': TOKEN, debug: '1' }),
    });
    services.push(backend, frontend);
    frontendUrl = `http://127.0.0.1:${frontend.port}`;
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await collector?.shutdown(5_000);
    await oap?.stop();
  });

  it('tags each Entry span with the allowed keys, masks the email, and leaves the denied and unlisted keys out everywhere', async () => {
    const res = await fetch(`${frontendUrl}/checkout`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    await oap.waitFor(() => new Set(oap.segments.map((s) => s.service)).size >= 2, 15_000, 'a frontend and a backend segment');
    const segments = oap.segments as DecodedSegment[];
    assertOapRules(segments);

    const backend = segments.find((s) => s.service === 'backend')!;
    const backendEntry = backend.spansList.find((s) => s.spanid === 0)!;
    assert.equal(backendEntry.spantype, ENTRY);
    assert.equal(backendEntry.refsList.length, 1, 'the backend segment is linked to the frontend');
    const entryTags = tags(backendEntry);
    assert.equal(entryTags['tenant'], 'acme');
    assert.equal(entryTags['user.email'], '***');
    assert.equal(entryTags['session.token'], undefined);
    assert.equal(entryTags['debug'], undefined);

    // The frontend set the baggage just before its call: its own Entry span gets the tags too.
    const frontend = segments.find((s) => s.service === 'frontend')!;
    const frontendEntry = frontend.spansList.find((s) => s.spanid === 0)!;
    assert.equal(tags(frontendEntry)['tenant'], 'acme');

    // Only Entry spans carry baggage tags; the denied, unlisted and raw values are nowhere.
    for (const segment of segments) {
      for (const span of segment.spansList) {
        const t = tags(span);
        if (span.spanid !== 0) assert.equal(t['tenant'], undefined, `${segment.service} span ${span.spanid} carries a baggage tag`);
        for (const key of ['session.token', 'debug', 'baggage.tenant']) assert.equal(t[key], undefined, `${key} on ${segment.service} span ${span.spanid}`);
      }
    }
    const bytes = Buffer.concat(oap.rawSegments).toString('latin1');
    assert.ok(!bytes.includes(TOKEN), 'the session token reached the OAP');
    assert.ok(!bytes.includes(EMAIL), 'the raw email reached the OAP');
    assert.ok(bytes.includes('acme'));

    const { values } = await collector.metrics.baggageEntries.get();
    const count = (outcome: string, reason: string) => values.find((v) => v.labels.outcome === outcome && v.labels.reason === reason)?.value ?? 0;
    assert.equal(count('kept', 'allowed'), 2, 'tenant on two entry spans');
    assert.equal(count('redacted', 'email'), 2);
    assert.equal(count('dropped', 'denied'), 2);
    assert.equal(count('dropped', 'not_allowed'), 2);
  });
});
