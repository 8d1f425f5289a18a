/**
 * Real Jaeger senders through skybridge to the stand-in OAP. One logical call chain, frontend →
 * orders → payments, is traced three ways:
 * - jaeger-client tracers reporting through their UDP sender (Agent.emitBatch, Thrift binary),
 * - jaeger-client tracers reporting through their HTTP sender (POST /api/traces, Thrift binary),
 * - our own grpc-js client posting api_v2 PostSpansRequest (what jaeger-agent and OTel's Jaeger
 *   exporter speak), one request per service.
 * The jaeger-client services pass context with `tracer.inject`/`tracer.extract` over a header
 * carrier, as jaeger-client's HTTP instrumentation does, and tag their client spans with
 * OpenTracing's `peer.hostname`/`peer.port`. The OAP's reading of what skybridge wrote comes from
 * skywalking-backend-js's generated stubs, never from our protos.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { POST_SPANS_PATH } from '../../../receivers/jaeger/grpc-collector-server.ts';
import type { JaegerReceiver } from '../../../receivers/jaeger/receiver.ts';
import { initTracer, opentracing, quietLogger, type JaegerTracer, type JaegerTracerConfig, type OpenTracingSpan } from '../../../receivers/jaeger/testdata/jaeger-client.ts';
import { encodePostSpansRequest, type ProtoKeyValue, type ProtoSpan } from '../../../receivers/jaeger/testdata/post-spans-writer.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { assertOapRules, type DecodedSegment } from '../../support/oap-rules.ts';

const ENTRY = 0;
const EXIT = 1;
const CROSS_PROCESS = 0;
const SERVICES = ['frontend', 'orders', 'payments'] as const;
type ServiceName = (typeof SERVICES)[number];
/** Where each service listens in the story the spans tell; the client spans' peer tags say the same. */
const PEERS = { orders: { host: 'orders.internal', port: 8081 }, payments: { host: 'payments.internal', port: 8082 } } as const;

type Carrier = Record<string, string>;

/**
 * Runs frontend → orders → payments with one jaeger-client tracer per service, passing context in
 * HTTP-header carriers; resolves once every tracer has flushed.
 */
async function tracedCallChain(reporter: JaegerTracerConfig['reporter']): Promise<void> {
  const tracers = Object.fromEntries(
    SERVICES.map((name) => [
      name,
      initTracer({ serviceName: name, sampler: { type: 'const', param: 1 }, reporter: { ...reporter, flushIntervalMs: 60_000 } }, { logger: quietLogger, traceId128bit: true }),
    ]),
  ) as Record<ServiceName, JaegerTracer>;
  const { Tags, FORMAT_HTTP_HEADERS } = opentracing;

  // Each "server" extracts the caller's context from the headers it was sent, as an HTTP middleware would.
  const serve = (name: ServiceName, route: string, headers: Carrier | undefined, work: (parent: OpenTracingSpan) => void): void => {
    const tracer = tracers[name];
    const parent = headers === undefined ? undefined : tracer.extract(FORMAT_HTTP_HEADERS, headers) ?? undefined;
    const span = tracer.startSpan(`GET ${route}`, {
      childOf: parent,
      tags: { [Tags.SPAN_KIND]: Tags.SPAN_KIND_RPC_SERVER, [Tags.HTTP_METHOD]: 'GET', [Tags.HTTP_URL]: `http://${name}.internal${route}`, [Tags.COMPONENT]: 'http' },
    });
    work(span);
    span.setTag(Tags.HTTP_STATUS_CODE, 200);
    span.finish();
  };
  const call = (from: ServiceName, parent: OpenTracingSpan, to: keyof typeof PEERS, route: string, handle: (headers: Carrier) => void): void => {
    const tracer = tracers[from];
    const { host, port } = PEERS[to];
    const span = tracer.startSpan(`GET ${route}`, {
      childOf: parent,
      tags: {
        [Tags.SPAN_KIND]: Tags.SPAN_KIND_RPC_CLIENT,
        [Tags.HTTP_METHOD]: 'GET',
        [Tags.HTTP_URL]: `http://${host}:${port}${route}`,
        [Tags.PEER_HOSTNAME]: host,
        [Tags.PEER_PORT]: port,
        [Tags.PEER_SERVICE]: to,
      },
    });
    const headers: Carrier = {};
    tracer.inject(span, FORMAT_HTTP_HEADERS, headers);
    handle(headers);
    span.setTag(Tags.HTTP_STATUS_CODE, 200);
    span.log({ event: 'response', bytes: 2 });
    span.finish();
  };

  serve('frontend', '/checkout', undefined, (fe) => {
    call('frontend', fe, 'orders', '/orders', (h1) =>
      serve('orders', '/orders', h1, (ord) => call('orders', ord, 'payments', '/payments', (h2) => serve('payments', '/payments', h2, () => {}))),
    );
  });
  await Promise.all(SERVICES.map((name) => new Promise<void>((resolve) => tracers[name].close(resolve))));
}

/** The same logical chain as PostSpansRequests, one per service; parents travel as CHILD_OF references. */
async function postSpansCallChain(grpcPort: number): Promise<void> {
  const traceId = randomBytes(16).toString('hex');
  const id = (): string => randomBytes(8).toString('hex');
  const ids = { feEntry: id(), feExit: id(), ordEntry: id(), ordExit: id(), payEntry: id() };
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const str = (key: string, vStr: string): ProtoKeyValue => ({ key, vType: 0, vStr });
  const int = (key: string, v: number): ProtoKeyValue => ({ key, vType: 2, vInt64: BigInt(v) });
  const span = (spanId: string, parent: string | undefined, kind: 'server' | 'client', route: string, offsetMs: number, extra: ProtoKeyValue[] = []): ProtoSpan => ({
    traceId,
    spanId,
    operationName: `GET ${route}`,
    references: parent === undefined ? [] : [{ traceId, spanId: parent, refType: 0 }],
    flags: 1,
    startTimeNs: t0 + BigInt(offsetMs) * 1_000_000n,
    durationNs: BigInt(20 - 2 * offsetMs) * 1_000_000n,
    tags: [str('span.kind', kind), str('http.method', 'GET'), int('http.status_code', 200), ...extra],
  });
  const client = (to: keyof typeof PEERS, route: string): ProtoKeyValue[] => [
    str('http.url', `http://${PEERS[to].host}:${PEERS[to].port}${route}`),
    str('peer.hostname', PEERS[to].host),
    int('peer.port', PEERS[to].port),
  ];
  const requests = [
    { process: { serviceName: 'frontend', tags: [str('hostname', 'fe-host')] }, spans: [span(ids.feEntry, undefined, 'server', '/checkout', 0), span(ids.feExit, ids.feEntry, 'client', '/orders', 1, client('orders', '/orders'))] },
    { process: { serviceName: 'orders', tags: [str('hostname', 'ord-host')] }, spans: [span(ids.ordEntry, ids.feExit, 'server', '/orders', 2), span(ids.ordExit, ids.ordEntry, 'client', '/payments', 3, client('payments', '/payments'))] },
    { process: { serviceName: 'payments', tags: [str('hostname', 'pay-host')] }, spans: [span(ids.payEntry, ids.ordExit, 'server', '/payments', 4)] },
  ];
  const grpc = new Client(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  try {
    for (const batch of requests) {
      const response = await new Promise<Buffer>((resolve, reject) =>
        grpc.makeUnaryRequest(POST_SPANS_PATH, (b: Buffer) => b, (b: Buffer) => b, encodePostSpansRequest(batch), (err: ServiceError | null, res?: Buffer) =>
          err ? reject(err) : resolve(res!),
        ),
      );
      assert.equal(response.length, 0, 'PostSpansResponse is empty');
    }
  } finally {
    grpc.close();
  }
}

/** The three segments of one trace, by service, checked against the OAP's rules and each other. */
function assertLinkedSegments(all: readonly DecodedSegment[], segments: DecodedSegment[]): void {
  assertOapRules(all);
  assert.equal(segments.length, 3, 'one segment per service');
  assert.equal(new Set(segments.map((s) => s.traceid)).size, 1, 'one SkyWalking trace id');
  const by = Object.fromEntries(segments.map((s) => [s.service, s])) as Record<ServiceName, DecodedSegment>;
  assert.deepEqual(Object.keys(by).sort(), [...SERVICES]);

  const entry = (s: DecodedSegment) => s.spansList.find((sp) => sp.spanid === 0)!;
  const exit = (s: DecodedSegment) => s.spansList.find((sp) => sp.spantype === EXIT)!;
  for (const name of SERVICES) assert.equal(entry(by[name]).spantype, ENTRY, `${name} segment starts with an Entry span`);
  assert.equal(entry(by.frontend).refsList.length, 0);

  for (const [child, parent, peer] of [['orders', 'frontend', PEERS.orders], ['payments', 'orders', PEERS.payments]] as const) {
    const parentExit = exit(by[parent]);
    assert.equal(parentExit.peer, `${peer.host}:${peer.port}`, `${parent}'s Exit peer from peer.hostname/peer.port`);
    const refs = entry(by[child]).refsList;
    assert.equal(refs.length, 1, `${child} has one ref`);
    const ref = refs[0]!;
    assert.equal(ref.reftype, CROSS_PROCESS);
    assert.equal(ref.parenttracesegmentid, by[parent].tracesegmentid);
    assert.equal(ref.parentspanid, parentExit.spanid);
    assert.equal(ref.parentservice, parent);
    assert.equal(ref.parentserviceinstance, by[parent].serviceinstance);
    assert.equal(ref.parentendpoint, entry(by[parent]).operationname);
    assert.equal(ref.networkaddressusedatpeer, parentExit.peer, `${child}→${parent} networkAddressUsedAtPeer equals the parent Exit's peer`);
  }
}

describe('Jaeger clients → skybridge → OAP', () => {
  let harness: Harness;
  let jaeger: JaegerReceiver;
  const seen = new Set<string>();

  /** Waits for the three segments of the trace the collector received last and returns them. */
  async function nextTrace(): Promise<DecodedSegment[]> {
    const fresh = (): DecodedSegment[] => (harness.oap.segments as DecodedSegment[]).filter((s) => !seen.has(s.tracesegmentid));
    await harness.oap.waitFor(() => fresh().length >= 3, 10_000, () => `3 new segments (have ${fresh().length})`);
    const segments = fresh();
    for (const s of segments) seen.add(s.tracesegmentid);
    return segments;
  }

  before(async () => {
    harness = await startHarness({
      receiversYaml: [
        '  jaeger:',
        '    protocols:',
        '      thrift_compact: { endpoint: "127.0.0.1:0" }',
        '      thrift_binary: { endpoint: "127.0.0.1:0" }',
        '      thrift_http: { endpoint: "127.0.0.1:0" }',
        '      grpc: { endpoint: "127.0.0.1:0" }',
      ].join('\n'),
      receiverIds: ['jaeger'],
      quietPeriod: '200ms',
    });
    jaeger = harness.collector.service.component<JaegerReceiver>('jaeger')!;
  });

  after(async () => {
    await harness.stop();
  });

  /** jaeger-client reports a `client-uuid` per tracer: the instance is `<client-uuid>@<hostname>`, one per tracer. */
  function assertPerTracerInstances(segments: DecodedSegment[]): void {
    for (const s of segments) {
      const uuid = /^[0-9a-f-]{36}/i.exec(s.serviceinstance)?.[0] ?? '';
      assert.equal(s.serviceinstance, `${uuid}@${hostname()}`.slice(0, 70), `${s.service}'s instance is client-uuid@hostname (cut to 70)`);
    }
    assert.equal(new Set(segments.map((s) => s.serviceinstance)).size, 3, 'three tracers on one host, three instances');
  }

  it('turns jaeger-client spans sent over UDP (Thrift binary) into three linked segments', async () => {
    await tracedCallChain({ agentHost: '127.0.0.1', agentPort: jaeger.thriftBinaryPort! });
    const segments = await nextTrace();
    assertLinkedSegments(harness.oap.segments as DecodedSegment[], segments);
    assertPerTracerInstances(segments);
  });

  it('turns jaeger-client spans posted to /api/traces into three linked segments', async () => {
    await tracedCallChain({ collectorEndpoint: `http://127.0.0.1:${jaeger.thriftHttpPort}/api/traces` });
    const segments = await nextTrace();
    assertLinkedSegments(harness.oap.segments as DecodedSegment[], segments);
    assertPerTracerInstances(segments);
  });

  it('turns api_v2 PostSpans requests over gRPC into three linked segments', async () => {
    await postSpansCallChain(jaeger.grpcPort!);
    const segments = await nextTrace();
    assertLinkedSegments(harness.oap.segments as DecodedSegment[], segments);
    // No client-uuid in these processes: the instance is the hostname.
    assert.deepEqual(segments.map((s) => [s.service, s.serviceinstance]).sort(), [['frontend', 'fe-host'], ['orders', 'ord-host'], ['payments', 'pay-host']]);
  });

  it('counted every span as accepted and none as dropped', async () => {
    const accepted = await harness.collector.metrics.receiverAcceptedSpans.get();
    const byTransport = Object.fromEntries(accepted.values.map((v) => [v.labels.transport, v.value]));
    assert.deepEqual(byTransport, { thrift_binary: 5, thrift_http: 5, grpc: 5 });
    const dropped = await harness.collector.metrics.droppedSpans.get();
    assert.deepEqual(dropped.values.filter((v) => v.labels.component === 'jaeger' && v.value > 0), []);
  });
});
