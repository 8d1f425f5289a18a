// Used by scripts/kafka.sh: waits until the broker at HOST:PORT acknowledges a produce request
// (acks=all) to the one-partition topic `skybridge-ready`, retrying until the deadline.
//   node scripts/kafka-ready.mjs HOST:PORT TIMEOUT_SECONDS [BROKER_PID]
// Exit 0: produced. Exit 1: deadline passed. Exit 2: BROKER_PID is gone. Writes only to stderr.
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, timeoutArg = '150', pidArg] = process.argv.slice(2);
if (!bootstrap) {
  console.error('usage: kafka-ready.mjs HOST:PORT TIMEOUT_SECONDS [BROKER_PID]');
  process.exit(64);
}
const deadline = Date.now() + Number(timeoutArg) * 1000;
const brokerPid = pidArg === undefined ? undefined : Number(pidArg);
const TOPIC = 'skybridge-ready';

function brokerAlive() {
  if (brokerPid === undefined) return true;
  try {
    process.kill(brokerPid, 0);
    return true;
  } catch {
    return false;
  }
}

async function attempt() {
  const kafka = new Kafka({
    clientId: 'skybridge-kafka-ready',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await admin.connect();
    // false when it exists already (a restart on the same data dir): fine either way.
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await producer.connect();
    const [meta] = await producer.send({ topic: TOPIC, acks: -1, messages: [{ value: `ready ${new Date().toISOString()}` }] });
    if (meta === undefined || meta.errorCode !== 0) throw new Error(`produce answered ${JSON.stringify(meta)}`);
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

let lastError = 'no attempt yet';
for (;;) {
  if (!brokerAlive()) {
    console.error(`kafka-ready: broker process ${brokerPid} exited`);
    process.exit(2);
  }
  try {
    await attempt();
    process.exit(0);
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (message !== lastError) console.error(`kafka-ready: not yet (${message})`);
    lastError = message;
  }
  if (Date.now() > deadline) {
    console.error(`kafka-ready: gave up; last error: ${lastError}`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}
