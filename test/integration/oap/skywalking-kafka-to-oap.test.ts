/**
 * skybridge's `skywalking_kafka` exporter against the REAL peers: a Kafka 4.x broker
 * (scripts/kafka.sh) and the SkyWalking OAP 10.1.0 (scripts/oap.sh) with its kafka-fetcher on that
 * broker, namespace `skb`. No gRPC between skybridge and the OAP: segments go to
 * `skb-skywalking-segments`, instance reports and keepAlives to `skb-skywalking-managements`, and the
 * OAP reads them from there. Everything asserted is the OAP's own GraphQL answer.
 *
 * The traffic is the golden app (test/integration/golden/app/service.cjs) in OpenTelemetry mode,
 * three Node processes exporting OTLP/gRPC to one skybridge:
 *
 *   frontend GET /checkout ── HTTP ──> orders POST /orders ── HTTP ──> payments POST /pay
 *                                        ├── Redis SET (127.0.0.1:6379)
 *                                        ├── RabbitMQ publish (127.0.0.1:5672) ──> payments consumer
 *                                        └── Kafka produce (the same real broker) ──> payments consumer (group)
 *
 * Checked at the OAP:
 * 1. services: frontend, orders, payments in layer GENERAL (normal); Redis, RabbitMQ and Kafka as
 *    conjectured peers in VIRTUAL_CACHE / VIRTUAL_MQ;
 * 2. instances: one per service, named as the process's service.instance.id, with language NODEJS
 *    and the hostname / Process No. attributes: those come only from InstanceProperties on the
 *    managements topic (a segment names an instance but carries no properties), and they are still
 *    there at the end, after several keepAlive rounds on the same topic;
 * 3. traces: both checkouts in queryBasicTraces; for each, queryTrace gives all 5 segments (frontend,
 *    orders, payments' HTTP, RabbitMQ and Kafka consumers) and 10 spans, every ref resolves to an Exit
 *    span of the same trace, and the four cross-process links are the expected ones;
 * 4. topology: the HTTP calls (CLIENT and SERVER), the calls to Redis, RabbitMQ and Kafka, and the
 *    MQ nodes to payments;
 * 5. getEndpointDependencies of orders' POST:/orders: GET:/checkout upstream, payments' three
 *    endpoints downstream;
 * 6. nothing lost between skybridge and the OAP: the segments skybridge counts as produced are
 *    exactly the distinct segments the OAP returns for the two traces.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { startChildService, type ChildService } from '../../support/child-service.ts';
import { startKafka, type KafkaBroker } from '../../support/kafka-broker.ts';
import { lastMinutes, pollOap, startOap, type RealOap } from '../../support/oap.ts';
import { endpointDependencies, findEndpoints, globalTopology, listInstances, listServices, namedCalls, queryBasicTraces, queryTrace, type OapInstance, type OapSpan, type TopologyCall } from '../../support/oap-graphql.ts';
import { metricSum, scrapeMetrics } from '../../support/skybridge-cli.ts';
import { freePort, SkybridgeProcess } from '../../support/skybridge-process.ts';

const APP = fileURLToPath(new URL('../golden/app/service.cjs', import.meta.url));
const NAMESPACE = 'skb';
const APP_TOPIC = 'orders-created';
const APP_GROUP = 'payments-workers';
const REDIS = '127.0.0.1:6379';
const AMQP = '127.0.0.1:5672';
const REQUESTS = 2;
const SERVICES = ['frontend', 'orders', 'payments'] as const;

describe('skywalking_kafka exporter → real Kafka broker → real OAP kafka-fetcher', { timeout: 360_000 }, () => {
  let kafka: KafkaBroker | undefined;
  let oap: RealOap | undefined;
  let skybridge: SkybridgeProcess | undefined;
  const children = new Map<string, ChildService>();
  const exchange = `skb.kafka-oap.${process.pid}`;

  before(async () => {
    kafka = await startKafka();
    // The app's own topic (its producer does not auto-create); the OAP creates its two topics itself.
    const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: APP_TOPIC, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    oap = await startOap({ kafka: kafka.bootstrap, kafkaNamespace: NAMESPACE });
    const otlpPort = await freePort();
    skybridge = await SkybridgeProcess.start(
      'skywalking-kafka',
      `
receivers:
  otlp: { grpc: { endpoint: "127.0.0.1:${otlpPort}" }, http: null }
exporters:
  skywalking_kafka:
    brokers: "${kafka.bootstrap}"
    namespace: ${NAMESPACE}
    keep_alive_interval: 1s
    assembly: { quiet_period: 300ms, max_wait: 5s }
pipelines:
  traces: { receivers: [otlp], exporters: [skywalking_kafka] }
`,
    );
    const env = {
      INSTRUMENTATION: 'otel',
      OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
      REDIS_HOST: REDIS.split(':')[0]!,
      REDIS_PORT: REDIS.split(':')[1]!,
      AMQP_URL: `amqp://guest:guest@${AMQP}`,
      EXCHANGE: exchange,
      KAFKA_BROKERS: kafka.bootstrap,
      KAFKA_TOPIC: APP_TOPIC,
      KAFKA_GROUP: APP_GROUP,
    };
    // payments, then orders, then frontend: each needs the next one's port.
    let downstream: number | undefined;
    for (const name of ['payments', 'orders', 'frontend']) {
      const child = await startChildService(APP, { ...env, SERVICE_NAME: name, ...(downstream ? { DOWNSTREAM: `http://127.0.0.1:${downstream}` } : {}) }, 30_000);
      children.set(name, child);
      downstream = child.port;
    }
  });

  after(async () => {
    for (const name of ['frontend', 'orders', 'payments']) await children.get(name)?.stop().catch(() => {});
    await skybridge?.stop();
    await oap?.stop();
    await kafka?.stop();
  });

  it('the OAP shows services, instances, traces with their refs, topology and endpoint dependencies', async (t) => {
    const o = oap!;
    const started = Date.now();
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`http://127.0.0.1:${children.get('frontend')!.port}/checkout`);
      assert.equal(res.status, 200, `checkout ${i + 1}: ${await res.text()}`);
    }
    const pid = (name: string) => String(children.get(name)!.process.pid);
    const port = (name: string) => children.get(name)!.port;

    // 1. Services: the three instrumented ones in GENERAL, the peers as conjectured services.
    const services = await pollOap(o, 'services and their peers', async () => {
      const byName = new Map((await listServices(o)).map((s) => [s.name, s]));
      return [...SERVICES, REDIS, AMQP, 'kafka'].every((n) => byName.has(n)) ? byName : undefined;
    });
    t.diagnostic(`services listed ${Date.now() - started} ms after the first request`);
    for (const name of SERVICES) {
      const s = services.get(name)!;
      assert.deepEqual(s.layers, ['GENERAL'], `${name} layers`);
      assert.equal(s.normal, true, `${name} is an instrumented service`);
    }
    for (const [name, layer] of [[REDIS, 'VIRTUAL_CACHE'], [AMQP, 'VIRTUAL_MQ'], ['kafka', 'VIRTUAL_MQ']] as const) {
      const s = services.get(name)!;
      assert.deepEqual(s.layers, [layer], `${name} layers`);
      assert.equal(s.normal, false, `${name} is a conjectured peer`);
    }
    const general = await listServices(o, 'GENERAL');
    assert.deepEqual(general.map((s) => s.name).sort(), [...SERVICES].sort(), 'layer GENERAL holds exactly the three services');
    const serviceId = (name: string) => services.get(name)!.id;

    // 2. Instances, with the properties only InstanceProperties (key register-<instance>) carries.
    for (const name of SERVICES) {
      const instances = await pollOap(o, `${name}'s instance with its reported properties`, async () => {
        const listed = await listInstances(o, serviceId(name), lastMinutes());
        return listed.some((i) => i.language !== 'UNKNOWN' && i.attributes.length > 0) ? listed : undefined;
      });
      assert.equal(instances.length, 1, `${name}: ${JSON.stringify(instances)}`);
      const [instance] = instances as [OapInstance];
      assert.equal(instance.name, `${name}-${pid(name)}`, 'named as the service.instance.id resource attribute');
      assert.equal(instance.language, 'NODEJS', 'from the language property (telemetry.sdk.language)');
      const attributes = Object.fromEntries(instance.attributes.map((a) => [a.name, a.value]));
      assert.equal(attributes.hostname, hostname(), `${name} attributes ${JSON.stringify(instance.attributes)}`);
      assert.equal(attributes['Process No.'], pid(name), `${name} attributes ${JSON.stringify(instance.attributes)}`);
    }

    // 3. Both traces, whole: 5 segments, 10 spans, every ref resolving inside the trace.
    const roots = await pollOap(o, `${REQUESTS} checkout traces in queryBasicTraces`, async () => {
      const traces = await queryBasicTraces(o, { serviceId: serviceId('frontend'), duration: lastMinutes(), pageSize: 20 });
      return traces.length >= REQUESTS ? traces : undefined;
    });
    assert.equal(roots.length, REQUESTS);
    const segmentIds = new Set<string>();
    for (const root of roots) {
      assert.deepEqual(root.endpointNames, ['GET:/checkout']);
      assert.equal(root.traceIds.length, 1);
      const traceId = root.traceIds[0]!;
      const segments = await pollOap(o, `trace ${traceId}: 5 segments`, async () => {
        const traces = await queryBasicTraces(o, { traceId, duration: lastMinutes(), pageSize: 20 });
        return traces.length >= 5 ? traces : undefined;
      });
      assert.deepEqual(segments.map((s) => s.endpointNames[0]).sort(), [
        'GET:/checkout',
        'Kafka/orders-created/Consumer',
        'POST:/orders',
        'POST:/pay',
        `RabbitMQ/${exchange}/order.created/Consumer`,
      ]);
      const spans = await pollOap(o, `trace ${traceId}: 10 spans`, async () => {
        const found = await queryTrace(o, traceId);
        return found.length >= 10 ? found : undefined;
      });
      assert.equal(spans.length, 10, JSON.stringify(spans));
      assert.equal(new Set(spans.map((s) => `${s.segmentId}/${s.spanId}`)).size, 10, 'no span twice');
      for (const s of spans) {
        assert.equal(s.traceId, traceId);
        assert.equal(s.isError, false, `${s.serviceCode} ${s.endpointName}`);
        assert.equal(s.serviceInstanceName, `${s.serviceCode}-${pid(s.serviceCode)}`);
        segmentIds.add(s.segmentId);
      }
      assert.equal(new Set(spans.map((s) => s.segmentId)).size, 5);

      const find = (what: string, p: (s: OapSpan) => boolean): OapSpan => {
        const found = spans.filter(p);
        assert.equal(found.length, 1, `${what} in ${JSON.stringify(spans)}`);
        return found[0]!;
      };
      const feEntry = find('frontend Entry', (s) => s.serviceCode === 'frontend' && s.type === 'Entry');
      const feExit = find('frontend HTTP Exit', (s) => s.serviceCode === 'frontend' && s.type === 'Exit');
      const ordEntry = find('orders Entry', (s) => s.serviceCode === 'orders' && s.type === 'Entry');
      const ordHttp = find('orders HTTP Exit', (s) => s.serviceCode === 'orders' && s.type === 'Exit' && s.component === 'HttpClient');
      const ordRedis = find('orders Redis Exit', (s) => s.serviceCode === 'orders' && s.component === 'Redis');
      const ordRabbit = find('orders RabbitMQ Exit', (s) => s.serviceCode === 'orders' && s.component === 'rabbitmq-producer');
      const ordKafka = find('orders Kafka Exit', (s) => s.serviceCode === 'orders' && s.component === 'kafka-producer');
      const payHttp = find('payments HTTP Entry', (s) => s.serviceCode === 'payments' && s.component === 'http');
      const payRabbit = find('payments RabbitMQ Entry', (s) => s.serviceCode === 'payments' && s.component === 'rabbitmq-consumer');
      const payKafka = find('payments Kafka Entry', (s) => s.serviceCode === 'payments' && s.component === 'kafka-consumer');

      assert.deepEqual([feEntry.spanId, feEntry.parentSpanId, feEntry.endpointName, feEntry.layer], [0, -1, 'GET:/checkout', 'Http']);
      assert.deepEqual(feEntry.refs, [], 'the trace starts at frontend');
      assert.deepEqual([feExit.parentSpanId, feExit.peer, feExit.endpointName], [0, `127.0.0.1:${port('orders')}`, '/orders']);
      assert.equal(ordEntry.endpointName, 'POST:/orders');
      assert.deepEqual([ordRedis.type, ordRedis.layer, ordRedis.peer, ordRedis.endpointName], ['Exit', 'Cache', REDIS, 'redis/set']);
      assert.deepEqual([ordRabbit.type, ordRabbit.layer, ordRabbit.peer], ['Exit', 'MQ', AMQP]);
      assert.deepEqual([ordKafka.type, ordKafka.layer, ordKafka.peer, ordKafka.endpointName], ['Exit', 'MQ', 'kafka', `Kafka/${APP_TOPIC}/Producer`]);
      assert.deepEqual([ordHttp.peer, ordHttp.endpointName], [`127.0.0.1:${port('payments')}`, '/pay']);
      for (const exit of [ordHttp, ordRedis, ordRabbit, ordKafka]) {
        assert.equal(exit.segmentId, ordEntry.segmentId);
        assert.equal(exit.parentSpanId, ordEntry.spanId, `${exit.endpointName} is a child of orders' Entry`);
      }
      assert.deepEqual([payHttp.type, payHttp.endpointName], ['Entry', 'POST:/pay']);
      assert.deepEqual([payRabbit.type, payRabbit.layer, payRabbit.peer], ['Entry', 'MQ', AMQP]);
      assert.deepEqual([payKafka.type, payKafka.layer, payKafka.endpointName], ['Entry', 'MQ', `Kafka/${APP_TOPIC}/Consumer`]);

      // Every ref points at an Exit span of this trace; the four links are the expected ones.
      const bySpan = new Map(spans.map((s) => [`${s.segmentId}/${s.spanId}`, s]));
      for (const s of spans) {
        for (const ref of s.refs) {
          const parent = bySpan.get(`${ref.parentSegmentId}/${ref.parentSpanId}`);
          assert.ok(parent, `${s.serviceCode} ${s.endpointName}: ref ${JSON.stringify(ref)} resolves in the trace`);
          assert.equal(parent.type, 'Exit');
          assert.equal(ref.traceId, traceId);
        }
      }
      const ref = (parent: OapSpan) => [{ traceId, parentSegmentId: parent.segmentId, parentSpanId: parent.spanId, type: 'CROSS_PROCESS' }];
      assert.deepEqual(ordEntry.refs, ref(feExit), 'orders ← frontend over HTTP');
      assert.deepEqual(payHttp.refs, ref(ordHttp), 'payments ← orders over HTTP');
      assert.deepEqual(payRabbit.refs, ref(ordRabbit), 'payments ← orders through RabbitMQ');
      assert.deepEqual(payKafka.refs, ref(ordKafka), 'payments ← orders through Kafka');
    }

    // 4. The service topology.
    const expectedCalls: [string, string, TopologyCall['detectPoints']][] = [
      ['frontend', 'orders', ['CLIENT', 'SERVER']],
      ['orders', 'payments', ['CLIENT', 'SERVER']],
      ['orders', REDIS, ['CLIENT']],
      ['orders', AMQP, ['CLIENT']],
      ['orders', 'kafka', ['CLIENT']],
      [AMQP, 'payments', ['SERVER']],
      ['kafka', 'payments', ['SERVER']],
    ];
    const topology = await pollOap(o, 'every call in the global topology', async () => {
      const graph = await globalTopology(o, lastMinutes());
      const has = ([from, to, points]: [string, string, TopologyCall['detectPoints']]) =>
        graph.calls.some((c) => c.source === serviceId(from) && c.target === serviceId(to) && points.every((p) => c.detectPoints.includes(p)));
      return expectedCalls.every(has) ? graph : undefined;
    });
    const node = (name: string) => topology.nodes.find((n) => n.name === name);
    assert.deepEqual([node(REDIS)?.type, node(REDIS)?.isReal], ['Redis', false]);
    assert.deepEqual([node(AMQP)?.type, node(AMQP)?.isReal], ['RabbitMQ', false]);
    assert.deepEqual([node('kafka')?.type, node('kafka')?.isReal], ['Kafka', false]);
    for (const name of SERVICES) assert.equal(node(name)?.isReal, true, name);

    // 5. Endpoint dependencies of orders' POST:/orders.
    const endpoints = await findEndpoints(o, serviceId('orders'), 'POST:/orders', 20);
    const ordersEndpoint = endpoints.find((e) => e.name === 'POST:/orders');
    assert.ok(ordersEndpoint, JSON.stringify(endpoints));
    const downstream = ['POST:/pay', `RabbitMQ/${exchange}/order.created/Consumer`, `Kafka/${APP_TOPIC}/Consumer`];
    const deps = await pollOap(o, 'endpoint dependencies of POST:/orders', async () => {
      const graph = await endpointDependencies(o, ordersEndpoint.id, lastMinutes());
      return graph.calls.length >= 1 + downstream.length ? graph : undefined;
    });
    assert.deepEqual(
      namedCalls(deps, (n) => `${n.serviceName} ${n.name}`).map((c) => `${c.source} → ${c.target}`).sort(),
      ['frontend GET:/checkout → orders POST:/orders', ...downstream.map((d) => `orders POST:/orders → payments ${d}`)].sort(),
    );
    for (const n of deps.nodes) assert.equal(n.isReal, true, `${n.serviceName} ${n.name}`);

    // 6. Every segment skybridge produced to Kafka is at the OAP, and nothing else.
    const samples = await scrapeMetrics(skybridge!.telemetryPort);
    const produced = metricSum(samples, 'skybridge_exporter_sent_segments_total', { component: 'skywalking_kafka' });
    assert.equal(produced, REQUESTS * 5, 'skybridge produced 5 segments per checkout');
    assert.equal(segmentIds.size, produced, 'the OAP holds every produced segment');
    assert.equal(metricSum(samples, 'skybridge_kafka_messages_total', { component: 'skywalking_kafka', outcome: 'produce_failed' }), 0);

    // KeepAlives (InstancePingPkg, keyed by the instance, every second meanwhile) kept the
    // instances and did not wipe their properties.
    for (const name of SERVICES) {
      const instances = await listInstances(o, serviceId(name), lastMinutes());
      assert.deepEqual(instances.map((i) => [i.name, i.language, i.attributes.find((a) => a.name === 'Process No.')?.value]), [[`${name}-${pid(name)}`, 'NODEJS', pid(name)]]);
    }

    // The OAP found the namespaced topics on the broker (it creates them at start if missing).
    const admin = new Kafka({ brokers: kafka!.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      for (const topic of [`${NAMESPACE}-skywalking-segments`, `${NAMESPACE}-skywalking-managements`]) assert.ok(topics.includes(topic), `${topic} in ${topics.join(', ')}`);
      assert.ok(!topics.includes('skywalking-segments'), 'nothing went to the un-namespaced topic');
    } finally {
      await admin.disconnect();
    }
    t.diagnostic(`all checks passed ${Date.now() - started} ms after the first request`);
  });
});
