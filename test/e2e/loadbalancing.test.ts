/**
 * #15, agent → gateway without Kafka, with real processes: two agents (OTLP/HTTP in, the
 * `loadbalancing` exporter out, a static list of both gateways) and two gateways (OTLP/gRPC in, the
 * `skywalking` exporter out with `ack: after_export`, each to its own stand-in OAP, so which gateway
 * built a segment is known). Every trace is frontend → backend; the frontend's spans go to agent 1
 * and the backend's to agent 2, so a trace is whole only if both agents pick the same gateway.
 *
 * Then one gateway is SIGKILLed under load, and later started again: nothing acknowledged may be
 * lost. A trace is "split" when its segments came from both gateways; the count is reported. The
 * gateways run the OTLP receiver's handover (receivers/otlp/handover.ts) over the same static list;
 * the DNS cases below run with and without it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deliveryReport, DeliveryTracker, OtlpTraceLoad, type LoadTrace } from '../support/otlp-trace-load.ts';
import { freePort, SkybridgeProcess } from '../support/skybridge-process.ts';
import { TestDnsServer } from '../support/dns-server.ts';
import { StandInOap, type DecodedSegment } from '../support/stand-in-oap.ts';

function gatewayYaml(port: number, oap: StandInOap, host = '127.0.0.1', handover?: TestDnsServer | number[]): string {
  const resolver = Array.isArray(handover)
    ? `{ static: { hostnames: [${handover.map((g) => `"127.0.0.1:${g}"`).join(', ')}] } }`
    : `{ dns: { hostname: gateways.test, port: ${port}, interval: 200ms, nameserver: "${handover?.address}" } }`;
  const handoverYaml = handover ? `\n    handover: { resolver: ${resolver}, self: "${host}:${port}", grace: 3s }` : '';
  return `
receivers:
  otlp:
    grpc: { endpoint: "${host}:${port}" }
    http: null${handoverYaml}
exporters:
  skywalking:
    endpoint: "${oap.endpoint}"
    ack: after_export
    ack_timeout: 4s
    assembly: { quiet_period: 300ms, max_wait: 2s }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking] }
`;
}

function agentYaml(port: number, gateways: number[] | { dns: TestDnsServer; port: number }): string {
  const resolver = Array.isArray(gateways)
    ? `{ static: { hostnames: [${gateways.map((g) => `"127.0.0.1:${g}"`).join(', ')}] } }`
    : `{ dns: { hostname: gateways.test, port: ${gateways.port}, interval: 200ms, nameserver: "${gateways.dns.address}" } }`;
  return `
receivers:
  otlp: { grpc: null, http: { endpoint: "127.0.0.1:${port}" } }
exporters:
  loadbalancing:
    protocol: { otlp: { timeout: 8s } }
    resolver: ${resolver}
    eject_after_failures: 2
    probe_interval: 500ms
pipelines:
  traces: { receivers: [otlp], exporters: [loadbalancing] }
`;
}

/** Trace id → which gateways' OAPs got segments of it. */
function gatewaysPerTrace(oaps: readonly StandInOap[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  oaps.forEach((oap, i) => {
    for (const s of oap.segments) {
      let set = out.get(s.traceid);
      if (!set) out.set(s.traceid, (set = new Set()));
      set.add(i);
    }
  });
  return out;
}

/** Acknowledged traces whose backend segment has no ref to its frontend segment. */
function unlinked(acked: readonly LoadTrace[], segments: readonly DecodedSegment[]): number {
  const byId = new Map(segments.map((s) => [s.tracesegmentid, s]));
  let n = 0;
  for (const t of acked) {
    const [frontendId, backendId] = [...t.segments.keys()];
    const ref = byId.get(backendId!)?.spansList[0]?.refsList[0];
    if (ref?.parenttracesegmentid !== frontendId) n++;
  }
  return n;
}

describe('loadbalancing exporter: two agents, two gateways (real processes)', () => {
  const oaps: StandInOap[] = [];
  const gateways: SkybridgeProcess[] = [];
  const agents: SkybridgeProcess[] = [];
  const agentPorts: number[] = [];

  before(async () => {
    oaps.push(await StandInOap.start(), await StandInOap.start());
    const gatewayPorts = [await freePort(), await freePort()];
    for (let i = 0; i < 2; i++) gateways.push(await SkybridgeProcess.start(`gateway${i + 1}`, gatewayYaml(gatewayPorts[i]!, oaps[i]!, '127.0.0.1', gatewayPorts)));
    for (let i = 0; i < 2; i++) {
      agentPorts.push(await freePort());
      agents.push(await SkybridgeProcess.start(`agent${i + 1}`, agentYaml(agentPorts[i]!, gatewayPorts)));
    }
  });

  after(async () => {
    await Promise.allSettled([...agents, ...gateways].map((p) => p.stop()));
    await Promise.allSettled(oaps.map((o) => o.stop()));
  });

  const load = () =>
    new OtlpTraceLoad({
      url: () => `http://127.0.0.1:${agentPorts[0]}/v1/traces`,
      backendUrl: () => `http://127.0.0.1:${agentPorts[1]}/v1/traces`,
      tracesPerRequest: 20,
      intervalMs: 50,
      maxInFlight: 8,
    });
  const allSegments = () => [...oaps[0]!.segments, ...oaps[1]!.segments];

  it('keeps every trace on one gateway although its spans reach different agents', async () => {
    const l = load();
    l.start();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await l.drain(30_000);
    await new DeliveryTracker(allSegments()).waitForAll(() => l.acked, 20_000);
    const report = deliveryReport(l.acked, allSegments());
    assert.deepEqual(report.missing, []);
    const perTrace = gatewaysPerTrace(oaps);
    const split = l.acked.filter((t) => perTrace.get(t.traceId)!.size > 1).length;
    const used = new Set(l.acked.map((t) => [...perTrace.get(t.traceId)!][0]));
    process.stdout.write(`# steady: ${l.acked.length} traces acknowledged, ${split} split, gateways used ${[...used].join(',')}\n`);
    assert.ok(l.acked.length >= 200, `enough traces: ${l.acked.length}`);
    assert.equal(split, 0, 'no trace split across gateways');
    assert.equal(used.size, 2, 'both gateways take a share');
    assert.equal(unlinked(l.acked, allSegments()), 0, 'every backend segment refs its frontend segment');
  });

  it('loses nothing acknowledged when a gateway is SIGKILLed under load, and takes it back when it returns', async () => {
    for (const oap of oaps) oap.segments.length = 0;
    const l = load();
    l.start();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await gateways[1]!.kill();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await gateways[1]!.restart();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await l.drain(40_000);
    await new DeliveryTracker(allSegments()).waitForAll(() => l.acked, 30_000, 'every acknowledged segment after the kill');
    const report = deliveryReport(l.acked, allSegments());
    assert.deepEqual(report.missing, [], 'nothing acknowledged lost');
    const perTrace = gatewaysPerTrace(oaps);
    const split = l.acked.filter((t) => perTrace.get(t.traceId)!.size > 1).length;
    const afterRestart = oaps[1]!.segments.length;
    process.stdout.write(
      `# SIGKILL: ${l.acked.length} traces acknowledged, ${split} split across gateways, ${report.duplicates} segments delivered twice, ` +
        `${unlinked(l.acked, allSegments())} backend segments without their ref, refusals ${JSON.stringify(Object.fromEntries(l.refusals))}\n`,
    );
    assert.ok(afterRestart > 0, 'the restarted gateway takes traces again');
    assert.ok(split <= l.acked.length * 0.01, `traces split by the kill and the return stay rare (0 in every run here): ${split}`);
  });
});

for (const handover of [false, true]) describe(`loadbalancing exporter: gateways added and removed through DNS under load (real processes)${handover ? ', gateways handing over traces in flight' : ''}`, () => {
  const hosts = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
  const oaps: StandInOap[] = [];
  const gateways: SkybridgeProcess[] = [];
  const agents: SkybridgeProcess[] = [];
  const agentPorts: number[] = [];
  let dns: TestDnsServer;

  before(async () => {
    dns = await TestDnsServer.start();
    dns.records.set('gateways.test', hosts.slice(0, 2));
    // One port, three loopback addresses: as a headless Service gives one port and several pod IPs.
    const port = await freePort();
    for (let i = 0; i < 3; i++) {
      oaps.push(await StandInOap.start());
      gateways.push(await SkybridgeProcess.start(`dns-gateway${i + 1}`, gatewayYaml(port, oaps[i]!, hosts[i], handover ? dns : undefined)));
    }
    for (let i = 0; i < 2; i++) {
      agentPorts.push(await freePort());
      agents.push(await SkybridgeProcess.start(`dns-agent${i + 1}`, agentYaml(agentPorts[i]!, { dns, port })));
    }
  });

  after(async () => {
    await Promise.allSettled([...agents, ...gateways].map((p) => p.stop()));
    await Promise.allSettled(oaps.map((o) => o.stop()));
    await dns?.close();
  });

  it('loses nothing acknowledged while a gateway joins and another leaves, and reports the traces split', async () => {
    const l = new OtlpTraceLoad({
      url: () => `http://127.0.0.1:${agentPorts[0]}/v1/traces`,
      backendUrl: () => `http://127.0.0.1:${agentPorts[1]}/v1/traces`,
      tracesPerRequest: 20,
      intervalMs: 50,
      maxInFlight: 8,
    });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    l.start();
    await sleep(1_500);
    dns.records.set('gateways.test', hosts); // scale up: the third gateway joins
    await sleep(2_000);
    dns.records.set('gateways.test', [hosts[0]!, hosts[2]!]); // scale down: the second leaves...
    await sleep(1_000);
    await gateways[1]!.stop(); // ...and stops once the agents no longer send to it
    await sleep(2_000);
    await l.drain(40_000);
    const segments = () => oaps.flatMap((o) => o.segments);
    await new DeliveryTracker(segments()).waitForAll(() => l.acked, 30_000);
    const report = deliveryReport(l.acked, segments());
    assert.deepEqual(report.missing, [], 'nothing acknowledged lost');
    const perTrace = gatewaysPerTrace(oaps);
    const split = l.acked.filter((t) => perTrace.get(t.traceId)!.size > 1).length;
    process.stdout.write(
      `# DNS add + remove${handover ? ' with handover' : ''}: ${l.acked.length} traces acknowledged, ${split} split across gateways (${((100 * split) / l.acked.length).toFixed(2)}%), ` +
        `${unlinked(l.acked, segments())} backend segments without their ref, segments per gateway ${oaps.map((o) => o.segments.length).join('/')}\n`,
    );
    assert.ok(oaps[2]!.segments.length > 0, 'the added gateway takes traces');
    // Measured with handover: 0 in most runs, up to 0.47% (9 of 1,900) on a loaded CI machine;
    // without: 0.2-2.2%. What handover cannot close is the agents looking the gateways up at
    // different moments: while they disagree about the ring, a trace's parts go to two gateways
    // (docs/architecture.md, "Where a trace is assembled"). The bound leaves room for that.
    if (handover) assert.ok(split <= l.acked.length * 0.01, `traces split while the gateways hand over traces in flight stay rare: ${split}`);
    else assert.ok(split <= l.acked.length * 0.05, `split traces stay rare: ${split}`);
  });
});
