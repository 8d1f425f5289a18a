// One service of the golden comparison app, instrumented either by the official SkyWalking Node
// agent (skywalking-backend-js) or by the OpenTelemetry Node SDK. The application code below the
// instrumentation block is the same for both.
//
//   frontend  GET /checkout  → POST {DOWNSTREAM}/orders
//   orders    POST /orders   → Redis SET, RabbitMQ publish (exchange EXCHANGE, key order.created),
//                               [otel: Kafka produce to KAFKA_TOPIC], POST {DOWNSTREAM}/pay
//   payments  POST /pay      → 200; consumes the RabbitMQ queue [and KAFKA_TOPIC in group KAFKA_GROUP]
//
// env: SERVICE_NAME, INSTRUMENTATION (skywalking | otel), SW_COLLECTOR (host:port, skywalking),
//      OTLP_ENDPOINT (grpc URL, otel), DOWNSTREAM, REDIS_HOST/REDIS_PORT, AMQP_URL, EXCHANGE,
//      KAFKA_BROKERS (comma list; otel only), KAFKA_TOPIC, KAFKA_GROUP,
//      FAILING_PATH (optional, "1"): frontend GET /fail → orders POST /fail, which answers 500, so
//      frontend answers 502 (a request that fails in two services; off unless set)
// Prints "listening <port>" once its server listens and its consumers are subscribed; on SIGTERM it
// flushes what the instrumentation holds and exits.
'use strict';
const SERVICE = process.env.SERVICE_NAME;
// Never outlive the test runner, even if it is killed before it can stop us.
const PARENT = process.ppid;
setInterval(() => process.ppid !== PARENT && process.exit(1), 500).unref();
const INSTANCE = `${SERVICE}-${process.pid}`;
const MODE = process.env.INSTRUMENTATION;

let flushTelemetry = async () => {};
if (MODE === 'skywalking') {
  // Before http / ioredis / amqplib are required, as the agent's README asks.
  const agent = require('skywalking-backend-js').default;
  agent.start({ serviceName: SERVICE, serviceInstance: INSTANCE, collectorAddress: process.env.SW_COLLECTOR });
  flushTelemetry = async () => {
    await agent.flush();
  };
} else if (MODE === 'otel') {
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis');
  const { AmqplibInstrumentation } = require('@opentelemetry/instrumentation-amqplib');
  const { KafkaJsInstrumentation } = require('@opentelemetry/instrumentation-kafkajs');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': SERVICE,
      'service.instance.id': INSTANCE,
      'host.name': require('os').hostname(),
      'process.pid': process.pid,
      'telemetry.sdk.language': 'nodejs',
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_ENDPOINT }), { scheduledDelayMillis: 100 })],
  });
  provider.register();
  registerInstrumentations({
    instrumentations: [new HttpInstrumentation(), new IORedisInstrumentation(), new AmqplibInstrumentation(), new KafkaJsInstrumentation()],
  });
  flushTelemetry = async () => {
    await provider.forceFlush().catch(() => {});
    await provider.shutdown().catch(() => {});
  };
} else {
  throw new Error(`INSTRUMENTATION must be skywalking or otel, not ${MODE}`);
}

const http = require('http');
const Redis = require('ioredis');
const amqp = require('amqplib');

const ROUTING_KEY = 'order.created';
const FAILING_PATH = process.env.FAILING_PATH === '1';
const downstream = process.env.DOWNSTREAM;
const closers = [];

function callDownstream(path) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, downstream), { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

function readBody(req) {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', resolve);
  });
}

async function setUp() {
  if (SERVICE === 'frontend') {
    return async (req) => {
      if (FAILING_PATH && req.method === 'GET' && req.url === '/fail') return (await callDownstream('/fail')) === 200 ? 200 : 502;
      if (req.method !== 'GET' || req.url !== '/checkout') return 404;
      const status = await callDownstream('/orders');
      return status === 200 ? 200 : 502;
    };
  }

  if (SERVICE === 'orders') {
    // No ready check: its INFO command would be a traced call outside any request.
    const redis = new Redis({ host: process.env.REDIS_HOST, port: Number(process.env.REDIS_PORT), enableReadyCheck: false, maxRetriesPerRequest: 1 });
    closers.push(() => redis.quit());
    const connection = await amqp.connect(process.env.AMQP_URL);
    closers.push(() => connection.close());
    const channel = await connection.createChannel();
    await channel.assertExchange(process.env.EXCHANGE, 'direct', { durable: false, autoDelete: true });
    let producer;
    if (process.env.KAFKA_BROKERS) {
      const { Kafka, logLevel } = require('kafkajs');
      const kafka = new Kafka({ clientId: SERVICE, brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
      producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      closers.push(() => producer.disconnect());
    }
    let n = 0;
    return async (req) => {
      if (FAILING_PATH && req.method === 'POST' && req.url === '/fail') {
        await readBody(req);
        return 500;
      }
      if (req.method !== 'POST' || req.url !== '/orders') return 404;
      await readBody(req);
      const id = `order-${process.pid}-${++n}`;
      await redis.set(id, 'created');
      channel.publish(process.env.EXCHANGE, ROUTING_KEY, Buffer.from(JSON.stringify({ id })));
      if (producer) await producer.send({ topic: process.env.KAFKA_TOPIC, messages: [{ key: id, value: JSON.stringify({ id }) }] });
      const status = await callDownstream('/pay');
      return status === 200 ? 200 : 502;
    };
  }

  if (SERVICE === 'payments') {
    const connection = await amqp.connect(process.env.AMQP_URL);
    closers.push(() => connection.close());
    const channel = await connection.createChannel();
    await channel.assertExchange(process.env.EXCHANGE, 'direct', { durable: false, autoDelete: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, process.env.EXCHANGE, ROUTING_KEY);
    await channel.consume(queue, () => {}, { noAck: true });
    if (process.env.KAFKA_BROKERS) {
      const { Kafka, logLevel } = require('kafkajs');
      const kafka = new Kafka({ clientId: SERVICE, brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
      // The mock delays a group's first join by about 3 s: the rebalance timeout must exceed that.
      const consumer = kafka.consumer({ groupId: process.env.KAFKA_GROUP, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10000, maxWaitTimeInMs: 100 });
      await consumer.connect();
      closers.push(() => consumer.disconnect());
      await consumer.subscribe({ topic: process.env.KAFKA_TOPIC, fromBeginning: true });
      const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
      await consumer.run({ eachMessage: async () => {} });
      await joined;
    }
    return async (req) => {
      if (req.method !== 'POST' || req.url !== '/pay') return 404;
      await readBody(req);
      return 200;
    };
  }
  throw new Error(`unknown SERVICE_NAME ${SERVICE}`);
}

setUp().then(
  (handle) => {
    const server = http.createServer((req, res) => {
      handle(req).then(
        (status) => res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status)),
        (error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
      );
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
    process.on('SIGTERM', async () => {
      setTimeout(() => process.exit(0), 3000).unref(); // a client that will not close must not keep us
      server.close();
      for (const close of closers) await Promise.resolve().then(close).catch(() => {});
      await flushTelemetry();
      process.exit(0);
    });
  },
  (error) => {
    process.stderr.write(`${SERVICE} failed to start: ${error.stack || error}\n`);
    process.exit(1);
  },
);
