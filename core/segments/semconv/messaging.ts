/**
 * Messaging spans → layer MQ. Producers are Exit spans whose peer is the broker; consumers are
 * Entry spans (the OAP names the MQ node after the ref's networkAddressUsedAtPeer, i.e. the
 * producer's peer). Tags `mq.topic` / `mq.queue` / `mq.broker` feed the OAP's virtual MQ metrics.
 */
import { SpanLayer } from '../segment-object.ts';
import { clientPeer, firstOf, text } from './attribute-lookup.ts';
import { componentForMessagingSystem } from './component-ids.ts';
import type { FamilyTranslator } from './translation.ts';

const DESTINATION = ['messaging.destination.name', 'messaging.destination'] as const;
const GROUP = ['messaging.consumer.group.name', 'messaging.kafka.consumer.group', 'messaging.kafka.consumer_group', 'messaging.rocketmq.client_group'] as const;
const CONSUMED = ['messaging.system', ...DESTINATION, ...GROUP, 'messaging.rabbitmq.destination.routing_key', 'messaging.rabbitmq.routing_key', 'messaging.url'];

/** Display names as the SkyWalking agents write them in operation names. */
const DISPLAY: Record<string, string> = {
  kafka: 'Kafka', rabbitmq: 'RabbitMQ', rocketmq: 'RocketMQ', pulsar: 'Pulsar', activemq: 'ActiveMQ',
  aws_sqs: 'AWS-SQS', 'aws.sqs': 'AWS-SQS', aws_sns: 'AWS-SNS', 'aws.sns': 'AWS-SNS', nats: 'NATS', eventmesh: 'EventMesh',
};

/** Systems whose destination is a queue rather than a topic. */
const QUEUE_SYSTEMS = new Set(['aws_sqs', 'aws.sqs', 'activemq', 'jms', 'servicebus']);

export const translateMessaging: FamilyTranslator = (ctx) => {
  const { attrs, span, serverSide, clientSide } = ctx;
  const system = text(attrs, 'messaging.system').toLowerCase();
  if (!system) return undefined;
  const display = DISPLAY[system] ?? system;
  const destination = firstOf(attrs, DESTINATION);
  const routingKey = firstOf(attrs, ['messaging.rabbitmq.destination.routing_key', 'messaging.rabbitmq.routing_key']);
  const group = firstOf(attrs, GROUP);
  // Instrumentations that do not record the broker address (kafkajs, for one) still need a peer, or
  // the OAP ignores the Exit; the system name stands in for the broker cluster.
  const broker = clientPeer(attrs) || text(attrs, 'messaging.url') || system;
  const tags = [];
  if (system === 'rabbitmq') {
    if (destination) tags.push({ key: 'mq.topic', value: destination });
    if (routingKey) tags.push({ key: 'mq.queue', value: routingKey });
  } else if (destination) {
    tags.push({ key: QUEUE_SYSTEMS.has(system) ? 'mq.queue' : 'mq.topic', value: destination });
  }
  tags.push({ key: 'mq.broker', value: broker });
  // RabbitMQ names carry exchange and routing key, as the Node agent writes them (exchange '' = the default one).
  const target = system === 'rabbitmq' && routingKey ? `${destination}/${routingKey}` : destination || routingKey || span.name;
  let operationName: string | undefined;
  if (clientSide) operationName = `${display}/${target}/Producer`;
  else if (serverSide) operationName = `${display}/${target}/Consumer${group ? `/${group}` : ''}`;
  return {
    operationName,
    peer: broker,
    calledAddress: serverSide ? broker : undefined,
    layer: SpanLayer.MQ,
    componentId: componentForMessagingSystem(system, clientSide),
    tags,
    consumed: CONSUMED,
  };
};
