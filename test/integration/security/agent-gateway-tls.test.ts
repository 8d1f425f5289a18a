/**
 * The layout docs/security.md gives as its example, with real sockets: an agent (OTLP/HTTP in,
 * `loadbalancing` out) sends to a gateway over TLS with a bearer token; the gateway (OTLP/gRPC in
 * with TLS and auth, `skywalking` out with the OAP's token) delivers segments to a stand-in OAP.
 * An agent with the wrong token gets nothing through, and says so to its sender.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { components } from '../../../components.ts';
import { startCollector, type RunningCollector } from '../../../core/collector.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { OtlpTraceLoad } from '../../support/otlp-trace-load.ts';
import { freePort } from '../../support/skybridge-process.ts';
import { StandInOap } from '../../support/stand-in-oap.ts';
import { makeTestCerts, type TestCerts } from '../../support/test-certs.ts';

const logger = createLogger({ level: 'silent' });

describe('agent → gateway over TLS with a bearer token → OAP', () => {
  let certs: TestCerts;
  let oap: StandInOap;
  let gateway: RunningCollector;
  let gatewayPort: number;
  const agents: RunningCollector[] = [];

  before(async () => {
    certs = makeTestCerts();
    oap = await StandInOap.start({ token: 'oap-token' });
    gatewayPort = await freePort();
    gateway = await startCollector(
      {
        name: 'gateway.yaml',
        env: { GATEWAY_TOKEN: 'agents-token-0123456789', SW_AGENT_AUTHENTICATION: 'oap-token' },
        text: `
receivers:
  otlp:
    grpc:
      endpoint: "127.0.0.1:${gatewayPort}"
      tls: { cert_file: "${certs.serverCertFile}", key_file: "${certs.serverKeyFile}" }
      auth: { tokens: ["\${GATEWAY_TOKEN}"] }
    http: null
exporters:
  skywalking:
    endpoint: "${oap.endpoint}"
    token: "\${SW_AGENT_AUTHENTICATION}"
    assembly: { quiet_period: 200ms }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
telemetry: { endpoint: null, log_level: silent }
`,
      },
      components,
      { logger },
    );
  });
  after(async () => {
    for (const a of agents) await a.shutdown(2_000);
    await gateway?.shutdown(2_000);
    await oap?.stop();
  });

  async function startAgent(token: string): Promise<number> {
    const port = await freePort();
    agents.push(
      await startCollector(
        {
          name: 'agent.yaml',
          env: { GATEWAY_TOKEN: token },
          text: `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
exporters:
  loadbalancing:
    protocol:
      otlp:
        timeout: 2s
        tls: { insecure: false, ca_file: "${certs.caFile}", server_name_override: localhost }
        token: "\${GATEWAY_TOKEN}"
    resolver: { static: { hostnames: ["127.0.0.1:${gatewayPort}"] } }
pipelines:
  traces: { receivers: [otlp], exporters: [loadbalancing] }
telemetry: { endpoint: null, log_level: silent }
`,
        },
        components,
        { logger },
      ),
    );
    return port;
  }

  it('delivers every acknowledged trace with the right token', async () => {
    const port = await startAgent('agents-token-0123456789');
    const load = new OtlpTraceLoad({ url: () => `http://127.0.0.1:${port}/v1/traces`, tracesPerRequest: 5, intervalMs: 50 });
    load.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await load.drain(10_000);
    assert.ok(load.acked.length >= 20);
    await oap.waitForSegments(load.segmentsExpected, 10_000);
    const traces = new Set(oap.segments.map((s) => s.traceid));
    for (const t of load.acked) assert.ok(traces.has(t.traceId));
    assert.ok(oap.authentications.every((a) => a === 'oap-token'));
  });

  it('gets nothing through with a wrong token, and its sender is told (no 2xx)', async () => {
    const port = await startAgent('not-the-token');
    const before = oap.segments.length;
    const answer = await fetch(`http://127.0.0.1:${port}/v1/traces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'x' } }] }, scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'GET /', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000100000000' }] }] }] }),
    });
    assert.ok(answer.status >= 400, `answered ${answer.status}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(oap.segments.length, before);
  });
});
