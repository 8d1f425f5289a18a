/**
 * Golden comparison (docs/architecture.md "How it is tested", issue 3): the same three-service
 * app (frontend → orders → payments over HTTP; orders does a Redis SET and a RabbitMQ publish that
 * payments consumes) runs twice:
 *   A. instrumented by the official SkyWalking Node agent (skywalking-backend-js), reporting to a
 *      stand-in OAP;
 *   B. instrumented by the OpenTelemetry Node SDK (http, ioredis, amqplib, kafkajs), exporting OTLP
 *      to skybridge, which exports to a stand-in OAP.
 * Per request and per service the normalised segment shapes (segment-shapes.ts) must match: segment
 * count, span types, layers, component ids, parent structure, refs, Exit peers, operation names,
 * tag keys, error flags. Every difference must be one of the NAMED differences below, and every
 * named difference must still occur (a fixed one must be removed from the list, and its row from
 * docs/translation.md).
 *
 * Variant B also produces to and consumes from Kafka (librdkafka mock cluster). The Node agent has
 * no Kafka plugin, so that part is compared with the Java agent's documented Kafka shape instead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startChildService, type ChildService } from '../../support/child-service.ts';
import { startHarness, type Harness } from '../../support/collector-harness.ts';
import { startKafkaMock, type KafkaMock } from '../../support/kafka-mock/kafka-mock.ts';
import { assertOapRules, oapRuleViolations, type DecodedSegment } from '../../support/oap-rules.ts';
import { StandInOap } from '../../support/stand-in-oap.ts';
import type { Component } from '../../../core/component.ts';
import {
  ABSENT,
  PRESENT,
  describeDifference,
  diffTraces,
  explain,
  summarise,
  traceShape,
  type Difference,
  type NamedDifference,
  type Normaliser,
  type TraceShape,
} from './segment-shapes.ts';

const APP = fileURLToPath(new URL('./app/service.cjs', import.meta.url));
const REDIS = { host: '127.0.0.1', port: 6379 };
const AMQP = { host: '127.0.0.1', port: 5672 };
const KAFKA_TOPIC = 'golden-orders';
const KAFKA_GROUP = 'golden-payments';
const REQUESTS = 2;

/** Tag keys SkyWalking agents write or the OAP reads (docs/skywalking-model.md "Tags the OAP reads"; agents' Tags). */
const SKYWALKING_TAG_KEYS = new Set([
  'url', 'http.url', 'http.method', 'http.status_code', 'http.status.msg', 'status_code', 'rpc.status_code',
  'db.type', 'db.instance', 'db.statement', 'db.sql.parameters', 'cache.type', 'cache.op', 'cache.cmd', 'cache.key',
  'mq.queue', 'mq.topic', 'mq.broker', 'transmission.latency', 'x-le', 'coldStart',
]);
const CACHE_TAGS = ['tag:cache.type', 'tag:cache.cmd', 'tag:cache.op', 'tag:cache.key', 'tag:db.statement'];
const tagOnlyInAgent = (d: Difference, key: string) => d.field === `tag:${key}` && d.agent === PRESENT && d.ours === ABSENT;
const tagOnlyInOurs = (d: Difference, key: string) => d.field === `tag:${key}` && d.agent === ABSENT && d.ours === PRESENT;

/** Unmapped OTel attributes stay tags: shared by both comparisons. */
const OTEL_ATTRIBUTES_AS_TAGS: NamedDifference = {
  name: 'otel-attributes-as-tags',
  kind: 'intended',
  reason: 'every OTel attribute without a SkyWalking equivalent is kept as a tag under its own key (server.address, network.peer.port, messaging.*, ...)',
  matches: (d) => d.field.startsWith('tag:') && d.agent === ABSENT && d.ours === PRESENT && !SKYWALKING_TAG_KEYS.has(d.field.slice(4)),
};

/** Where skybridge differs from the Node agent on purpose (docs/translation.md has the same rows). */
const AGENT_DIFFERENCES: readonly NamedDifference[] = [
  {
    name: 'parent-endpoint-filled',
    kind: 'intended',
    reason: 'the agent never sets SegmentReference.parentEndpoint (the OAP then records the caller endpoint as "User"); we fill it with the parent segment\'s first span name, as the Java agent does',
    matches: (d) => d.field === 'ref.parentEndpoint' && d.agent === 'empty' && d.ours === 'set',
  },
  {
    name: 'http-entry-peer-empty',
    kind: 'intended',
    reason: "the agent puts the caller's ip:port on HTTP Entry spans; the OAP reads an Entry peer only for MQ consumers without refs, and OTel's client address stays in the client.address / network.peer.* tags",
    matches: (d) => d.field === 'peer' && d.span.startsWith('Entry/Http/') && d.agent === '{client}' && d.ours === '',
  },
  {
    name: 'url-tag-key',
    kind: 'intended',
    reason: 'the Node agent tags the URL as `http.url`; we write `url`, the Java agent\'s key (Tags.URL); the OAP reads neither',
    matches: (d) => tagOnlyInAgent(d, 'http.url') || tagOnlyInOurs(d, 'url'),
  },
  {
    name: 'no-http-status-msg',
    kind: 'intended',
    reason: 'OTel HTTP spans carry no status text for the agent\'s `http.status.msg` tag',
    matches: (d) => tagOnlyInAgent(d, 'http.status.msg'),
  },
  {
    name: 'no-cold-start-tag',
    kind: 'intended',
    reason: 'the agent tags the first span of each process `coldStart`; OTel has no such marker outside FaaS',
    matches: (d) => tagOnlyInAgent(d, 'coldStart'),
  },
  {
    name: 'redis-cache-tags',
    kind: 'intended',
    reason: 'on Redis (layer Cache) spans we write cache.type / cache.cmd / cache.op / cache.key and db.statement, which the OAP\'s virtual-cache analysis reads (it needs cache.type); the Node agent writes db.type / db.instance, which feed nothing on a Cache span',
    matches: (d) =>
      d.span.startsWith('Exit/Cache/redis') && (tagOnlyInAgent(d, 'db.type') || tagOnlyInAgent(d, 'db.instance') || (CACHE_TAGS.includes(d.field) && d.agent === ABSENT && d.ours === PRESENT)),
  },
  {
    name: 'mq-consumer-ref-address',
    kind: 'intended',
    reason: "the agent's amqplib plugin injects sw8 before it sets the producer span's peer, so its consumer refs carry an empty networkAddressUsedAtPeer; ours carry the producer's peer, as the OAP expects (MQ node name, 'address = parent Exit peer')",
    matches: (d) => d.field === 'ref.networkAddressUsedAtPeer' && d.span.startsWith('Entry/MQ/') && d.agent === '""' && d.ours === `${AMQP.host}:${AMQP.port}`,
  },
  OTEL_ATTRIBUTES_AS_TAGS,
];

/**
 * The Java agent's Kafka plugin shape (skywalking-java kafka-plugin; docs/skywalking-model.md
 * "Component ids"): producer Exit `Kafka/{topic}/Producer`, component kafka-producer 40, layer MQ, peer = the
 * bootstrap servers; consumer Entry `Kafka/{topic}/Consumer/{group}`, kafka-consumer 41, layer MQ,
 * peer = the bootstrap servers, CrossProcess ref whose address is the producer's peer; tags
 * mq.broker and mq.topic.
 */
const JAVA_KAFKA_REFERENCE: TraceShape = {
  orders: [
    {
      service: 'orders',
      key: 'Entry/Http/http-server',
      spans: [
        { key: 'Exit/MQ/kafka-producer', componentId: 40, operationName: `Kafka/${KAFKA_TOPIC}/Producer`, peer: '{kafka}', parent: 'Entry/Http/http-server', isError: false, tagKeys: ['mq.broker', 'mq.topic'], refs: [] },
      ],
    },
  ],
  payments: [
    {
      service: 'payments',
      key: 'Entry/MQ/kafka-consumer',
      spans: [
        {
          key: 'Entry/MQ/kafka-consumer',
          componentId: 41,
          operationName: `Kafka/${KAFKA_TOPIC}/Consumer/${KAFKA_GROUP}`,
          peer: '{kafka}',
          parent: '-',
          isError: false,
          tagKeys: ['mq.broker', 'mq.topic'],
          refs: [{ refType: 'CrossProcess', parentService: 'orders', parentSpan: 'orders:Exit/MQ/kafka-producer', parentEndpoint: 'set', networkAddressUsedAtPeer: '{kafka}' }],
        },
      ],
    },
  ],
};

const KAFKA_DIFFERENCES: readonly NamedDifference[] = [
  {
    name: 'kafka-peer-is-system-name',
    kind: 'intended',
    reason: '@opentelemetry/instrumentation-kafkajs records no broker address; the peer is the messaging system name `kafka`, so the Exit is still analysed (the OAP skips peerless Exits) and the consumer ref still equals the producer peer',
    matches: (d) => (d.field === 'peer' || d.field === 'ref.networkAddressUsedAtPeer') && d.agent === '{kafka}' && d.ours === 'kafka',
  },
  {
    name: 'kafka-consumer-without-group',
    kind: 'intended',
    reason: '@opentelemetry/instrumentation-kafkajs records no consumer group (messaging.consumer.group.name), so the consumer name lacks the Java agent\'s `/{group}` suffix; instrumentations that record it get the suffix',
    matches: (d) => d.field === 'operationName' && d.agent === `Kafka/${KAFKA_TOPIC}/Consumer/${KAFKA_GROUP}` && d.ours === `Kafka/${KAFKA_TOPIC}/Consumer`,
  },
  OTEL_ATTRIBUTES_AS_TAGS,
];

interface Variant {
  oap: StandInOap;
  norm: Normaliser;
  frontendUrl: string;
  /** Segments expected per request, only to know when to stop waiting (the comparison decides). */
  expectedPerRequest: number;
  /** How long to keep listening after that, to catch extra segments (the agent reports every 1 s). */
  settleMs: number;
}

type OtlpPorts = Component & { grpcPort: number };

const children: ChildService[] = [];
const stops: (() => Promise<void>)[] = [];

/** payments, then orders, then frontend (each needs the next one's port). */
async function startApp(env: Record<string, string>): Promise<Record<'frontend' | 'orders' | 'payments', number>> {
  const start = async (name: string, downstream?: number) => {
    const child = await startChildService(APP, { ...env, SERVICE_NAME: name, ...(downstream ? { DOWNSTREAM: `http://127.0.0.1:${downstream}` } : {}) }, 20_000);
    children.push(child);
    return child.port;
  };
  const payments = await start('payments');
  const orders = await start('orders', payments);
  const frontend = await start('frontend', orders);
  return { frontend, orders, payments };
}

function normaliser(ports: Record<string, number>, exchange: string, kafka?: KafkaMock): Normaliser {
  const known = new Map<string, string>(Object.entries(ports).map(([name, port]) => [`127.0.0.1:${port}`, `127.0.0.1:{${name}}`]));
  for (const b of kafka?.brokers ?? []) known.set(b, '{kafka}');
  if (kafka) known.set(kafka.bootstrap, '{kafka}');
  const fixed = new Set([`${REDIS.host}:${REDIS.port}`, `${AMQP.host}:${AMQP.port}`]);
  return {
    address: (v) => known.get(v) ?? (fixed.has(v) ? v : /^(127\.0\.0\.1|\[::1\]|::ffff:127\.0\.0\.1|localhost):\d+$/.test(v) ? '{client}' : v),
    operation: (v) => v.split(exchange).join('{exchange}'),
  };
}

async function startAgentVariant(): Promise<Variant> {
  const oap = await StandInOap.start();
  stops.push(() => oap.stop());
  const exchange = `golden.agent.${process.pid}`;
  const ports = await startApp({
    INSTRUMENTATION: 'skywalking',
    SW_COLLECTOR: oap.endpoint,
    SW_AGENT_LOGGING_LEVEL: 'error',
    REDIS_HOST: REDIS.host,
    REDIS_PORT: String(REDIS.port),
    AMQP_URL: `amqp://guest:guest@${AMQP.host}:${AMQP.port}`,
    EXCHANGE: exchange,
  });
  return { oap, norm: normaliser(ports, exchange), frontendUrl: `http://127.0.0.1:${ports.frontend}`, expectedPerRequest: 4, settleMs: 1_200 };
}

async function startOtelVariant(): Promise<Variant> {
  const [harness, kafka] = await Promise.all([
    startHarness({ receiversYaml: '  otlp:\n    grpc: { endpoint: "127.0.0.1:0" }', receiverIds: ['otlp'] }).then((h: Harness) => {
      stops.push(() => h.stop());
      return h;
    }),
    startKafkaMock({ topics: { [KAFKA_TOPIC]: 1 } }).then((k) => {
      stops.push(() => k.stop());
      return k;
    }),
  ]);
  const exchange = `golden.otel.${process.pid}`;
  const otlp = harness.collector.service.component<OtlpPorts>('otlp')!;
  const ports = await startApp({
    INSTRUMENTATION: 'otel',
    OTLP_ENDPOINT: `http://127.0.0.1:${otlp.grpcPort}`,
    REDIS_HOST: REDIS.host,
    REDIS_PORT: String(REDIS.port),
    AMQP_URL: `amqp://guest:guest@${AMQP.host}:${AMQP.port}`,
    EXCHANGE: exchange,
    KAFKA_BROKERS: kafka.bootstrap,
    KAFKA_TOPIC,
    KAFKA_GROUP,
  });
  return { oap: harness.oap, norm: normaliser(ports, exchange, kafka), frontendUrl: `http://127.0.0.1:${ports.frontend}`, expectedPerRequest: 5, settleMs: 600 };
}

/** The segments of each request's trace, in request order (a trace = a frontend `GET:/checkout` segment). */
function requestTraces(segments: readonly DecodedSegment[]): DecodedSegment[][] {
  const roots = segments
    .filter((s) => s.service === 'frontend' && s.spansList.some((sp) => sp.spanid === 0 && sp.operationname === 'GET:/checkout'))
    .sort((a, b) => Math.min(...a.spansList.map((s) => s.starttime)) - Math.min(...b.spansList.map((s) => s.starttime)));
  return roots.map((root) => segments.filter((s) => s.traceid === root.traceid));
}

async function run(variant: Variant): Promise<DecodedSegment[][]> {
  for (let i = 0; i < REQUESTS; i++) {
    const res = await fetch(`${variant.frontendUrl}/checkout`);
    assert.equal(res.status, 200, `request ${i + 1}: ${await res.text()}`);
  }
  const segments = variant.oap.segments as DecodedSegment[];
  const complete = () => {
    const traces = requestTraces(segments);
    return traces.length === REQUESTS && traces.every((t) => t.length >= variant.expectedPerRequest);
  };
  // A variant that produces fewer segments shows up in the comparison, not as a timeout here.
  await variant.oap.waitFor(complete, 10_000).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, variant.settleMs));
  return requestTraces(segments);
}

/** Splits our trace shape into the part the Node agent can be compared with and the Kafka part. */
function splitKafka(shape: TraceShape): { rest: TraceShape; kafka: TraceShape } {
  const rest: TraceShape = {};
  const kafka: TraceShape = {};
  const isKafka = (key: string) => /\/kafka-(producer|consumer)/.test(key);
  for (const [service, segments] of Object.entries(shape)) {
    for (const seg of segments) {
      if (isKafka(seg.key)) {
        (kafka[service] ??= []).push(seg);
        continue;
      }
      const kafkaSpans = seg.spans.filter((s) => isKafka(s.key));
      if (kafkaSpans.length > 0) (kafka[service] ??= []).push({ ...seg, spans: kafkaSpans });
      (rest[service] ??= []).push({ ...seg, spans: seg.spans.filter((s) => !isKafka(s.key)) });
    }
  }
  return { rest, kafka };
}

function report(label: string, diffs: Difference[], named: readonly NamedDifference[], diagnostic: (msg: string) => void): void {
  const { unexplained, explained, unused } = explain(diffs, named);
  for (const n of named) {
    const hits = explained.get(n.name);
    if (hits) diagnostic(`${label} ${n.kind} difference "${n.name}" (${hits.length}×): ${n.reason}; e.g. ${describeDifference(hits[0]!)}`);
  }
  assert.deepEqual(unexplained.map(describeDifference), [], `${label}: differences no named difference explains`);
  assert.deepEqual(unused.map((n) => n.name), [], `${label}: named differences that no longer occur (fixed? remove them and their docs/translation.md rows)`);
}

describe('golden: SkyWalking Node agent vs OpenTelemetry through skybridge', { timeout: 60_000 }, () => {
  let agentTraces: DecodedSegment[][] = [];
  let otelTraces: DecodedSegment[][] = [];
  let agent: Variant;
  let otel: Variant;

  before(async () => {
    [agent, otel] = await Promise.all([startAgentVariant(), startOtelVariant()]);
    [agentTraces, otelTraces] = await Promise.all([run(agent), run(otel)]);
  });

  after(async () => {
    // SIGTERM lets each service flush; SIGKILL whatever has not exited 5 s later.
    await Promise.allSettled(
      children.map((c) => {
        const kill = setTimeout(() => c.process.kill('SIGKILL'), 5_000);
        return c.stop().finally(() => clearTimeout(kill));
      }),
    );
    await Promise.allSettled(stops.map((stop) => stop()));
  });

  it('sees every request as one trace in both variants', () => {
    assert.equal(agentTraces.length, REQUESTS, 'agent: one trace per request');
    assert.equal(otelTraces.length, REQUESTS, 'skybridge: one trace per request');
  });

  it('gives the same segment shapes per service and request as the agent, except the named differences', (t) => {
    const diffs: Difference[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const reference = traceShape(agentTraces[i]!, agent.norm);
      if (i === 0) for (const line of summarise(reference)) t.diagnostic(`compared segment: ${line}`);
      const ours = splitKafka(traceShape(otelTraces[i]!, otel.norm)).rest;
      diffs.push(...diffTraces(reference, ours));
    }
    report('vs Node agent:', diffs, AGENT_DIFFERENCES, (m) => t.diagnostic(m));
  });

  it('gives the Java agent\'s Kafka shape for kafkajs, except the named differences', (t) => {
    const diffs: Difference[] = [];
    for (let i = 0; i < REQUESTS; i++) diffs.push(...diffTraces(JAVA_KAFKA_REFERENCE, splitKafka(traceShape(otelTraces[i]!, otel.norm)).kafka));
    report('vs Java Kafka reference:', diffs, KAFKA_DIFFERENCES, (m) => t.diagnostic(m));
  });

  it('notices a changed segment count, component, layer, peer, name, tag or ref (the comparison is not vacuous)', () => {
    const base = traceShape(otelTraces[0]!, otel.norm);
    const mutate = (change: (segments: DecodedSegment[]) => void): string[] => {
      const copy = structuredClone(otelTraces[0]!);
      change(copy);
      return diffTraces(base, traceShape(copy, otel.norm)).map((d) => `${d.service} ${d.span} ${d.field}`);
    };
    const orders = (segs: DecodedSegment[]) => segs.find((s) => s.service === 'orders')!;
    const span = (segs: DecodedSegment[], layer: number) => orders(segs).spansList.find((s) => s.spanlayer === layer && s.spantype === 1)!;
    assert.deepEqual(mutate((segs) => void (span(segs, 5).componentid = 30)), ['orders Exit/Cache/component-30 span', 'orders Exit/Cache/redis span']);
    assert.deepEqual(mutate((segs) => void (span(segs, 5).peer = '10.0.0.1:6379')), ['orders Exit/Cache/redis peer']);
    assert.deepEqual(mutate((segs) => void (span(segs, 5).operationname = 'redis/get')), ['orders Exit/Cache/redis operationName']);
    assert.deepEqual(mutate((segs) => void span(segs, 5).tagsList.push({ key: 'cache.extra', value: '' })), ['orders Exit/Cache/redis tag:cache.extra']);
    assert.deepEqual(mutate((segs) => void (orders(segs).spansList[0]!.refsList[0]!.parentservice = 'elsewhere')), ['orders Entry/Http/http-server ref.parentService']);
    assert.deepEqual(mutate((segs) => void segs.splice(segs.indexOf(orders(segs)), 1)).filter((d) => d.endsWith(' segment')), ['orders  segment']);
  });

  it('fills parentEndpoint with the parent segment\'s first span name', () => {
    for (const trace of otelTraces) {
      const byId = new Map(trace.map((s) => [s.tracesegmentid, s]));
      for (const seg of trace) {
        for (const ref of seg.spansList.flatMap((s) => s.refsList)) {
          const parent = byId.get(ref.parenttracesegmentid);
          assert.ok(parent, `${seg.service}: ref to a segment outside the trace`);
          assert.equal(ref.parentendpoint, parent.spansList.find((s) => s.spanid === 0)!.operationname);
        }
      }
    }
  });

  it('keeps to the OAP rules: skybridge fully; the agent except its empty MQ ref address', () => {
    assertOapRules(otel.oap.segments as DecodedSegment[]);
    const agentProblems = oapRuleViolations(agent.oap.segments as DecodedSegment[]);
    const amqpPeer = `${AMQP.host}:${AMQP.port}`;
    const known = (p: string) => p.includes('RabbitMQ/') && p.endsWith(`networkAddressUsedAtPeer "" != parent Exit peer "${amqpPeer}"`);
    assert.deepEqual(agentProblems.filter((p) => !known(p)), []);
    assert.equal(agentProblems.length, REQUESTS, 'the agent breaks the address rule once per RabbitMQ message');
  });
});
