import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { span } from '../../../test/support/span-fixtures.ts';
import { SpanKind, StatusCode, type Attributes, type SpanKind as Kind } from '../../model/span-batch.ts';
import { SpanLayer } from '../segment-object.ts';
import { templatePath } from './http.ts';
import { translateSpan } from './translate-span.ts';

const T = '0af7651916cd43dd8448eb211c80319c';
function tr(kind: Kind, attributes: Attributes, scope = '', name = 'op') {
  return translateSpan(span({ traceId: T, spanId: 'b7ad6b7169203331', name, kind, attributes }), { name: scope, version: '', attributes: {}, droppedAttributesCount: 0 });
}
const tag = (t: { tags: { key: string; value: string }[] }, key: string) => t.tags.find((x) => x.key === key)?.value;

describe('translateSpan', () => {
  it('maps a MySQL client span (current semconv) to layer Database with db.type, db.instance, db.statement', () => {
    const t = tr(SpanKind.CLIENT, { 'db.system.name': 'mysql', 'db.namespace': 'shop', 'db.query.text': 'SELECT * FROM orders WHERE id = ?', 'db.operation.name': 'SELECT', 'server.address': 'db', 'server.port': 3306 }, '@opentelemetry/instrumentation-mysql2');
    assert.equal(t.layer, SpanLayer.Database);
    assert.equal(t.componentId, 5);
    assert.equal(t.peer, 'db:3306');
    assert.equal(t.operationName, 'mysql/SELECT');
    assert.equal(tag(t, 'db.type'), 'mysql');
    assert.equal(tag(t, 'db.instance'), 'shop');
    assert.equal(tag(t, 'db.statement'), 'SELECT * FROM orders WHERE id = ?');
    assert.equal(tag(t, 'db.query.text'), undefined, 'not repeated under its OTel key');
  });

  it('maps an older PostgreSQL span (db.system, db.name, net.peer.*) and a connection string peer', () => {
    const t = tr(SpanKind.CLIENT, { 'db.system': 'postgresql', 'db.name': 'billing', 'db.statement': 'select 1', 'net.peer.name': 'pg', 'net.peer.port': 5432 });
    assert.equal(t.componentId, 22);
    assert.equal(t.peer, 'pg:5432');
    const cs = tr(SpanKind.CLIENT, { 'db.system': 'mssql', 'db.connection_string': 'Server=sql01,1433;Database=x' });
    assert.equal(cs.peer, 'sql01:1433');
    assert.equal(cs.componentId, 3006);
  });

  it('maps Redis to layer Cache with cache.type/cmd/op/key', () => {
    const get = tr(SpanKind.CLIENT, { 'db.system': 'redis', 'db.statement': 'get cart:42', 'net.peer.name': 'cache', 'net.peer.port': 6379 }, '@opentelemetry/instrumentation-ioredis', 'get');
    assert.equal(get.layer, SpanLayer.Cache);
    assert.equal(get.componentId, 7);
    assert.equal(get.peer, 'cache:6379');
    assert.equal(get.operationName, 'redis/get');
    assert.deepEqual(get.tags.slice(0, 4), [
      { key: 'cache.type', value: 'redis' }, { key: 'cache.cmd', value: 'get' }, { key: 'cache.op', value: 'read' }, { key: 'cache.key', value: 'cart:42' },
    ]);
    const set = tr(SpanKind.CLIENT, { 'db.system.name': 'redis', 'db.operation.name': 'SET', 'server.address': 'cache' });
    assert.equal(tag(set, 'cache.op'), 'write');
  });

  it('maps Kafka producer and consumer spans to layer MQ with topic, broker and SkyWalking-style names', () => {
    const p = tr(SpanKind.PRODUCER, { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders', 'server.address': 'kafka-1', 'server.port': 9092 }, '@opentelemetry/instrumentation-kafkajs');
    assert.equal(p.layer, SpanLayer.MQ);
    assert.equal(p.componentId, 40);
    assert.equal(p.peer, 'kafka-1:9092');
    assert.equal(p.operationName, 'Kafka/orders/Producer');
    assert.equal(tag(p, 'mq.topic'), 'orders');
    assert.equal(tag(p, 'mq.broker'), 'kafka-1:9092');
    const c = tr(SpanKind.CONSUMER, { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders', 'messaging.consumer.group.name': 'billing' }, '@opentelemetry/instrumentation-kafkajs');
    assert.equal(c.componentId, 41);
    assert.equal(c.operationName, 'Kafka/orders/Consumer/billing');
    assert.equal(c.peer, 'kafka', 'the system stands in for a broker address the instrumentation did not record');
    const r = tr(SpanKind.PRODUCER, { 'messaging.system': 'rabbitmq', 'messaging.destination.name': 'events', 'messaging.rabbitmq.destination.routing_key': 'order.paid', 'net.peer.name': 'mq', 'net.peer.port': 5672 });
    assert.equal(r.componentId, 52);
    assert.equal(tag(r, 'mq.topic'), 'events');
    assert.equal(tag(r, 'mq.queue'), 'order.paid');
  });

  it('maps gRPC client and server spans to layer RPCFramework with rpc.status_code and OTel error rules', () => {
    const c = tr(SpanKind.CLIENT, { 'rpc.system': 'grpc', 'rpc.service': 'shop.Payments', 'rpc.method': 'Charge', 'rpc.grpc.status_code': 5, 'server.address': 'pay', 'server.port': 50051 });
    assert.equal(c.layer, SpanLayer.RPCFramework);
    assert.equal(c.componentId, 23);
    assert.equal(c.operationName, 'shop.Payments/Charge');
    assert.equal(c.peer, 'pay:50051');
    assert.equal(tag(c, 'rpc.status_code'), '5');
    assert.equal(c.isError, true);
    const s = tr(SpanKind.SERVER, { 'rpc.system': 'grpc', 'rpc.service': 'shop.Payments', 'rpc.method': 'Charge', 'rpc.grpc.status_code': 5 });
    assert.equal(s.isError, false, 'NOT_FOUND is the client\'s problem on the server side');
    const d = tr(SpanKind.CLIENT, { 'rpc.system': 'apache_dubbo', 'rpc.service': 'org.shop.Api', 'rpc.method': 'find', 'server.address': '10.0.0.1', 'server.port': 20880 });
    assert.equal(d.componentId, 3);
    assert.equal(d.operationName, 'org.shop.Api.find()');
  });

  it('gives a client span that names only peer.service that name as peer, whatever its family', () => {
    assert.equal(tr(SpanKind.CLIENT, { 'rpc.system': 'grpc', 'rpc.service': 'inv.Inv', 'rpc.method': 'Reserve', 'peer.service': 'inventory' }).peer, 'inventory');
    assert.equal(tr(SpanKind.CLIENT, { 'peer.service': 'inventory' }).peer, 'inventory');
    assert.equal(tr(SpanKind.SERVER, { 'rpc.system': 'grpc', 'peer.service': 'inventory' }).peer, '', 'server spans take no peer from it');
  });

  it('uses route templates for HTTP endpoint names and templates ids out of raw paths', () => {
    assert.equal(tr(SpanKind.SERVER, { 'http.request.method': 'get', 'http.route': '/users/:id', 'url.path': '/users/42' }).operationName, 'GET:/users/:id');
    assert.equal(tr(SpanKind.SERVER, { 'http.method': 'GET', 'http.target': '/users/42/orders/6fa459ea-ee8a-3ca4-894e-db77e160355e?x=1' }).operationName, 'GET:/users/{id}/orders/{id}');
    assert.equal(templatePath('/static/app.js'), '/static/app.js');
  });

  it('names the component after the instrumentation library when the scope says which', () => {
    assert.equal(tr(SpanKind.SERVER, { 'http.method': 'GET', 'http.route': '/' }, 'io.opentelemetry.tomcat-10.0').componentId, 1);
    assert.equal(tr(SpanKind.CLIENT, { 'http.method': 'GET', 'url.full': 'https://api.example.com/x' }, 'io.opentelemetry.okhttp-3.0').componentId, 12);
    assert.equal(tr(SpanKind.CLIENT, { 'http.method': 'GET', 'url.full': 'https://api.example.com/x' }).peer, 'api.example.com:443');
    assert.equal(tr(SpanKind.INTERNAL, {}, '@opentelemetry/instrumentation-express', 'middleware - query').componentId, 4002);
  });

  it('keeps unknown instrumentation analysable: its name, layer Unknown, attributes as tags', () => {
    const t = tr(SpanKind.INTERNAL, { 'job.id': 7, 'job.tags': ['a', 'b'] }, 'my-lib', 'nightly-report');
    assert.equal(t.operationName, 'nightly-report');
    assert.equal(t.layer, SpanLayer.Unknown);
    assert.equal(t.componentId, 0);
    assert.deepEqual(t.tags, [{ key: 'job.id', value: '7' }, { key: 'job.tags', value: '["a","b"]' }]);
  });

  it('turns exception events into error logs and keeps the status description', () => {
    const s = span({ traceId: T, spanId: 'b7ad6b7169203331', name: 'work', kind: SpanKind.INTERNAL, status: { code: StatusCode.ERROR, message: 'boom' },
      events: [{ name: 'exception', timeUnixNano: 1_700_000_000_123_456_789n, droppedAttributesCount: 0, attributes: { 'exception.type': 'TypeError', 'exception.message': 'x is undefined', 'exception.stacktrace': 'TypeError: x\n at f' } }] });
    const t = translateSpan(s, { name: '', version: '', attributes: {}, droppedAttributesCount: 0 });
    assert.equal(t.isError, true);
    assert.deepEqual(t.logs, [{ time: 1_700_000_000_123, data: [{ key: 'event', value: 'error' }, { key: 'error.kind', value: 'TypeError' }, { key: 'message', value: 'x is undefined' }, { key: 'stack', value: 'TypeError: x\n at f' }] }]);
    assert.equal(tag(t, 'status.message'), 'boom');
  });

  it('maps FaaS server spans to layer FAAS and keeps GenAI at Unknown unless the OAP accepts it', () => {
    const f = tr(SpanKind.SERVER, { 'faas.trigger': 'http', 'faas.name': 'checkout-fn', 'cloud.provider': 'aws', 'http.method': 'POST' });
    assert.equal(f.layer, SpanLayer.FAAS);
    assert.equal(f.operationName, 'checkout-fn');
    assert.equal(f.componentId, 124);
    const g = tr(SpanKind.CLIENT, { 'gen_ai.system': 'openai', 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' });
    assert.equal(g.layer, SpanLayer.Unknown);
    assert.equal(g.operationName, 'chat gpt-4o');
    assert.equal(g.peer, 'openai');
    const g7 = translateSpan(span({ traceId: T, spanId: 'b7ad6b7169203331', name: 'x', kind: SpanKind.CLIENT, attributes: { 'gen_ai.system': 'openai' } }), { name: '', version: '', attributes: {}, droppedAttributesCount: 0 }, { genAiLayer: true });
    assert.equal(g7.layer, SpanLayer.GenAI);
  });

  it('takes the HTTP method from the span name when a Zipkin client recorded only http.path', () => {
    const t = tr(SpanKind.SERVER, { 'http.path': '/orders/42' }, '', 'get');
    assert.equal(t.layer, SpanLayer.Http);
    assert.equal(t.operationName, 'GET:/orders/{id}');
    assert.equal(tag(t, 'http.method'), 'GET');
  });

  it('reads Zipkin HTTP spans: Brave\'s `method /route` names, and http.* tags without any method', () => {
    const brave = tr(SpanKind.SERVER, { 'http.path': '/users/42', 'http.status_code': '503' }, '', 'get /users/{id}');
    assert.deepEqual([brave.layer, brave.operationName, tag(brave, 'http.method'), brave.isError], [SpanLayer.Http, 'GET:/users/{id}', 'GET', true]);
    const client = tr(SpanKind.CLIENT, { 'http.url': 'http://orders:8080/orders/7?x=1', 'http.status_code': '200' }, '', 'call-orders');
    assert.deepEqual([client.layer, client.operationName, client.peer, tag(client, 'http.method')], [SpanLayer.Http, '/orders/{id}', 'orders:8080', undefined]);
    const pathOnly = tr(SpanKind.SERVER, { 'http.path': '/health' }, '', 'health-check');
    assert.deepEqual([pathOnly.layer, pathOnly.operationName], [SpanLayer.Http, '/health']);
    const statusOnly = tr(SpanKind.SERVER, { 'http.status_code': '200' }, '', 'post');
    assert.deepEqual([statusOnly.layer, statusOnly.operationName, tag(statusOnly, 'http.method')], [SpanLayer.Http, 'post', 'POST']);
    // OTel spans are untouched: no Zipkin key, no method → not HTTP.
    assert.equal(tr(SpanKind.SERVER, {}, '', 'get').layer, SpanLayer.Unknown);
  });
});

