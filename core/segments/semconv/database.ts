/**
 * Database and cache client spans. Cache systems (Redis, Memcached, ...) → layer Cache with the
 * `cache.*` tags the OAP's virtual-cache analysis reads; every other `db.system` → layer Database
 * with `db.type` (the key of the OAP's slow-SQL thresholds), `db.instance` and `db.statement`.
 */
import { SpanLayer } from '../segment-object.ts';
import { clientPeer, firstOf, hostPort, text } from './attribute-lookup.ts';
import { componentForDbSystem } from './component-ids.ts';
import type { FamilyTranslator } from './translation.ts';

const SYSTEM = ['db.system.name', 'db.system'] as const;
const STATEMENT = ['db.query.text', 'db.statement'] as const;
const NAMESPACE = ['db.namespace', 'db.name', 'db.redis.database_index', 'db.mongodb.collection'] as const;
const OPERATION = ['db.operation.name', 'db.operation'] as const;
const CONSUMED = [...SYSTEM, ...STATEMENT, 'db.namespace', 'db.name', ...OPERATION, 'db.connection_string'];

const CACHE_SYSTEMS = new Set(['redis', 'memcached', 'valkey', 'hazelcast', 'ehcache', 'couchbase', 'geode', 'coherence']);

const CACHE_READS = new Set([
  'get', 'gets', 'mget', 'getrange', 'getbit', 'strlen', 'exists', 'ttl', 'pttl', 'type', 'keys', 'scan', 'dump',
  'hget', 'hgetall', 'hmget', 'hexists', 'hlen', 'hkeys', 'hvals', 'hscan', 'hstrlen',
  'lrange', 'llen', 'lindex', 'smembers', 'sismember', 'smismember', 'scard', 'srandmember', 'sscan', 'sdiff', 'sinter', 'sunion',
  'zrange', 'zrangebyscore', 'zrevrange', 'zrevrangebyscore', 'zscore', 'zcard', 'zcount', 'zrank', 'zrevrank', 'zscan', 'zmscore',
  'xrange', 'xrevrange', 'xread', 'xlen', 'bitcount', 'geopos', 'geodist', 'georadius', 'geosearch', 'pfcount',
]);
const CACHE_WRITES = new Set([
  'set', 'setex', 'psetex', 'setnx', 'mset', 'msetnx', 'getset', 'getdel', 'getex', 'append', 'setrange', 'setbit',
  'del', 'unlink', 'incr', 'incrby', 'incrbyfloat', 'decr', 'decrby', 'expire', 'pexpire', 'expireat', 'persist', 'rename',
  'hset', 'hmset', 'hsetnx', 'hdel', 'hincrby', 'hincrbyfloat', 'lpush', 'rpush', 'lpushx', 'rpushx', 'lpop', 'rpop', 'lset', 'lrem', 'ltrim', 'linsert',
  'sadd', 'srem', 'spop', 'smove', 'zadd', 'zrem', 'zincrby', 'zpopmin', 'zpopmax', 'zremrangebyscore', 'zremrangebyrank',
  'xadd', 'xdel', 'xtrim', 'pfadd', 'geoadd', 'publish', 'add', 'replace', 'prepend', 'cas', 'delete', 'touch', 'flushdb', 'flushall',
]);

/** `host:port` from a connection string such as `mysql://user@db:3306/shop` or `Server=db,1433;...`. */
function peerFromConnectionString(cs: string): string {
  if (!cs) return '';
  try {
    const url = new URL(cs);
    if (url.hostname) return hostPort(url.hostname, url.port);
  } catch {
    // Not a URL: try the key=value forms (ADO.NET, JDBC-ish).
  }
  const m = /(?:server|host|data source|address)\s*=\s*([^;,\s]+)(?:[,:](\d+))?/i.exec(cs);
  return m ? hostPort(m[1]!, m[2] ?? '') : '';
}

export const translateDatabase: FamilyTranslator = (ctx) => {
  const { attrs, span } = ctx;
  const system = firstOf(attrs, SYSTEM).toLowerCase();
  if (!system) return undefined;
  const statement = firstOf(attrs, STATEMENT);
  const namespace = firstOf(attrs, NAMESPACE);
  const peer = clientPeer(attrs) || peerFromConnectionString(text(attrs, 'db.connection_string')) || (ctx.clientSide ? `${system}-local` : '');
  const componentId = componentForDbSystem(system);

  if (CACHE_SYSTEMS.has(system)) {
    const words = statement.trim().split(/\s+/);
    const command = (firstOf(attrs, OPERATION) || words[0] || span.name.split(/\s+/)[0] || '').toLowerCase();
    const op = CACHE_READS.has(command) ? 'read' : CACHE_WRITES.has(command) ? 'write' : '';
    const tags = [{ key: 'cache.type', value: system }];
    if (command) tags.push({ key: 'cache.cmd', value: command });
    if (op) tags.push({ key: 'cache.op', value: op });
    const key = words[1];
    if (key && key !== '?') tags.push({ key: 'cache.key', value: key });
    if (statement) tags.push({ key: 'db.statement', value: statement });
    return { operationName: command ? `${system}/${command}` : undefined, peer, layer: SpanLayer.Cache, componentId, tags, consumed: CONSUMED };
  }

  const operation = firstOf(attrs, OPERATION);
  const tags = [{ key: 'db.type', value: system }];
  if (namespace) tags.push({ key: 'db.instance', value: namespace });
  if (statement) tags.push({ key: 'db.statement', value: statement });
  return {
    operationName: operation ? `${system}/${operation}` : undefined,
    peer,
    layer: SpanLayer.Database,
    componentId,
    tags,
    consumed: CONSUMED,
  };
};
