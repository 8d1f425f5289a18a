/**
 * SkyWalking component ids (oap-server component-libraries.yml) for the libraries OpenTelemetry
 * instrumentations name in their scope (`otel.scope.name`, formerly `otel.library.name`), and for
 * the systems the semantic conventions name when the library is unknown. The OAP draws node icons
 * and edge labels from these; an unknown id falls back to "Unknown" there, it never fails.
 */

/** Ids used by name elsewhere. */
export const Component = {
  Unknown: 0,
  HttpClient: 2,
  Dubbo: 3,
  Mysql: 5,
  Redis: 7,
  MongoDB: 9,
  Memcached: 20,
  PostgreSQL: 22,
  GRPC: 23,
  KafkaProducer: 40,
  KafkaConsumer: 41,
  Http: 49,
  Rpc: 50,
  RabbitMQProducer: 52,
  RabbitMQConsumer: 53,
  AWSLambdaTrigger: 124,
} as const;

interface LibraryIds {
  /** For SERVER / CONSUMER / INTERNAL spans. */
  server: number;
  /** For CLIENT / PRODUCER spans. */
  client: number;
}

const both = (id: number): LibraryIds => ({ server: id, client: id });

/**
 * Scope-name prefixes → ids, most specific first. Prefix matching covers versioned Java agent
 * scope names (`io.opentelemetry.okhttp-3.0`) and JS package names alike.
 */
const BY_SCOPE: readonly [prefix: string, ids: LibraryIds][] = [
  // Node.js (@opentelemetry/instrumentation-*); the http server uses the generic `http` id as the
  // SkyWalking Node agent does.
  ['@opentelemetry/instrumentation-http', { server: Component.Http, client: Component.HttpClient }],
  ['@opentelemetry/instrumentation-undici', both(Component.HttpClient)],
  ['@opentelemetry/instrumentation-fetch', both(Component.HttpClient)],
  ['@opentelemetry/instrumentation-express', both(4002)],
  ['@opentelemetry/instrumentation-koa', both(4004)],
  ['@opentelemetry/instrumentation-grpc', both(Component.GRPC)],
  ['@opentelemetry/instrumentation-mysql2', both(Component.Mysql)],
  ['@opentelemetry/instrumentation-mysql', both(Component.Mysql)],
  ['@opentelemetry/instrumentation-pg', both(Component.PostgreSQL)],
  ['@opentelemetry/instrumentation-mongoose', both(4006)],
  ['@opentelemetry/instrumentation-mongodb', both(Component.MongoDB)],
  ['@opentelemetry/instrumentation-ioredis', both(Component.Redis)],
  ['@opentelemetry/instrumentation-redis', both(Component.Redis)],
  ['@opentelemetry/instrumentation-memcached', both(Component.Memcached)],
  ['@opentelemetry/instrumentation-kafkajs', { server: Component.KafkaConsumer, client: Component.KafkaProducer }],
  ['@opentelemetry/instrumentation-amqplib', { server: Component.RabbitMQConsumer, client: Component.RabbitMQProducer }],
  ['@opentelemetry/instrumentation-aws-lambda', both(Component.AWSLambdaTrigger)],
  // Java agent (io.opentelemetry.<library>-<version>)
  ['io.opentelemetry.tomcat', both(1)],
  ['io.opentelemetry.jetty-httpclient', both(18)],
  ['io.opentelemetry.jetty', both(19)],
  ['io.opentelemetry.spring-webmvc', both(14)],
  ['io.opentelemetry.spring-webflux', both(67)],
  ['io.opentelemetry.spring-cloud-gateway', both(61)],
  ['io.opentelemetry.undertow', both(84)],
  ['io.opentelemetry.okhttp', both(12)],
  ['io.opentelemetry.apache-httpclient', both(Component.HttpClient)],
  ['io.opentelemetry.apache-httpasyncclient', both(26)],
  ['io.opentelemetry.java-http-client', both(66)],
  ['io.opentelemetry.http-url-connection', both(66)],
  ['io.opentelemetry.grpc', both(Component.GRPC)],
  ['io.opentelemetry.apache-dubbo', both(Component.Dubbo)],
  ['io.opentelemetry.jedis', both(30)],
  ['io.opentelemetry.lettuce', both(57)],
  ['io.opentelemetry.redisson', both(56)],
  ['io.opentelemetry.kafka', { server: Component.KafkaConsumer, client: Component.KafkaProducer }],
  ['io.opentelemetry.spring-kafka', { server: 95, client: Component.KafkaProducer }],
  ['io.opentelemetry.rabbitmq', { server: Component.RabbitMQConsumer, client: Component.RabbitMQProducer }],
  ['io.opentelemetry.rocketmq', { server: 39, client: 38 }],
  ['io.opentelemetry.pulsar', { server: 74, client: 73 }],
  ['io.opentelemetry.mongo', both(42)],
  ['io.opentelemetry.elasticsearch', both(47)],
  ['io.opentelemetry.cassandra', both(69)],
  ['io.opentelemetry.mybatis', both(109)],
  ['io.opentelemetry.hikaricp', both(116)],
  // Python (opentelemetry.instrumentation.<library>)
  ['opentelemetry.instrumentation.flask', both(7001)],
  ['opentelemetry.instrumentation.requests', both(7002)],
  ['opentelemetry.instrumentation.pymysql', both(7003)],
  ['opentelemetry.instrumentation.django', both(7004)],
  ['opentelemetry.instrumentation.tornado', both(7005)],
  ['opentelemetry.instrumentation.urllib3', both(7006)],
  ['opentelemetry.instrumentation.aiohttp', both(7008)],
  ['opentelemetry.instrumentation.pyramid', both(7009)],
  ['opentelemetry.instrumentation.psycopg', both(7010)],
  ['opentelemetry.instrumentation.celery', both(7011)],
  ['opentelemetry.instrumentation.falcon', both(7012)],
  ['opentelemetry.instrumentation.fastapi', both(7014)],
  ['opentelemetry.instrumentation.asyncpg', both(7016)],
  ['opentelemetry.instrumentation.httpx', both(7019)],
  // Go (go.opentelemetry.io/contrib/instrumentation/...)
  ['go.opentelemetry.io/contrib/instrumentation/net/http', { server: 5004, client: 5005 }],
  ['go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic', both(5006)],
  ['go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc', both(Component.GRPC)],
  // .NET
  ['Microsoft.AspNetCore', both(3001)],
  ['OpenTelemetry.Instrumentation.AspNetCore', both(3001)],
  ['System.Net.Http', both(Component.HttpClient)],
  ['OpenTelemetry.Instrumentation.SqlClient', both(3003)],
  ['OpenTelemetry.Instrumentation.StackExchangeRedis', both(3005)],
];

/** db.system / db.system.name values → ids of the server product (so conjectured nodes get its type). */
const BY_DB_SYSTEM: Record<string, number> = {
  mysql: Component.Mysql,
  mariadb: 86,
  postgresql: Component.PostgreSQL,
  mongodb: Component.MongoDB,
  redis: Component.Redis,
  memcached: Component.Memcached,
  elasticsearch: 47,
  opensearch: 47,
  cassandra: 70,
  clickhouse: 120,
  mssql: 3006,
  'microsoft.sql_server': 3006,
  oracle: 6,
  'oracle.db': 6,
  sqlite: 31,
  h2: 4,
  neo4j: 112,
  influxdb: 89,
  hbase: 94,
  impala: 134,
  dynamodb: 138,
  'aws.dynamodb': 138,
  solr: 64,
};

/** messaging.system values → [consumer id, producer id]. */
const BY_MESSAGING_SYSTEM: Record<string, LibraryIds> = {
  kafka: { server: Component.KafkaConsumer, client: Component.KafkaProducer },
  rabbitmq: { server: Component.RabbitMQConsumer, client: Component.RabbitMQProducer },
  rocketmq: { server: 39, client: 38 },
  pulsar: { server: 74, client: 73 },
  activemq: { server: 46, client: 45 },
  aws_sqs: both(140),
  'aws.sqs': both(140),
  aws_sns: both(139),
  'aws.sns': both(139),
  nats: both(132),
  eventmesh: { server: 137, client: 136 },
};

const BY_RPC_SYSTEM: Record<string, number> = {
  grpc: Component.GRPC,
  apache_dubbo: Component.Dubbo,
  dubbo: Component.Dubbo,
  java_rmi: Component.Rpc,
  dotnet_wcf: Component.Rpc,
  connect_rpc: Component.GRPC,
  jsonrpc: 107,
};

export function componentForScope(scopeName: string, clientSide: boolean): number | undefined {
  if (!scopeName) return undefined;
  for (const [prefix, ids] of BY_SCOPE) {
    if (scopeName.startsWith(prefix)) return clientSide ? ids.client : ids.server;
  }
  return undefined;
}

export function componentForDbSystem(system: string): number | undefined {
  return BY_DB_SYSTEM[system.toLowerCase()];
}

export function componentForMessagingSystem(system: string, clientSide: boolean): number | undefined {
  const ids = BY_MESSAGING_SYSTEM[system.toLowerCase()];
  return ids && (clientSide ? ids.client : ids.server);
}

export function componentForRpcSystem(system: string): number | undefined {
  return BY_RPC_SYSTEM[system.toLowerCase()];
}
