import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ComponentSettings } from '../../core/component.ts';
import type { TraceConsumer } from '../../core/consumer.ts';
import { cloneBatch, SpanKind, type Attributes, type Span, type SpanBatch } from '../../core/model/span-batch.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import { batchOf, hexId, resourceSpans, span, threeServiceTrace } from '../../test/support/span-fixtures.ts';
import { baggageFilterConfigSchema } from './config.ts';
import { baggageFilterProcessorFactory } from './factory.ts';
import { compileKeyPattern } from './key-pattern.ts';
import type { BaggageFilterProcessor } from './processor.ts';
import { compileValuePattern } from './redaction.ts';

const sink: TraceConsumer = { mutatesData: false, consume: async () => {} };

function settings(): ComponentSettings {
  return { id: 'baggage_filter', kind: 'processor', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

function create(input: Record<string, unknown>, s = settings()): BaggageFilterProcessor {
  return baggageFilterProcessorFactory.create(s, baggageFilterConfigSchema.parse(input), sink) as BaggageFilterProcessor;
}

function allSpans(batch: SpanBatch): Span[] {
  return batch.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

function byName(batch: SpanBatch, service: string, name: string): Span {
  const rs = batch.resourceSpans.find((r) => r.resource.attributes['service.name'] === service)!;
  return rs.scopeSpans.flatMap((ss) => ss.spans).find((s) => s.name === name)!;
}

/** frontend → orders → payments, with `attrs` on every span of orders (as BaggageSpanProcessor would). */
function tracedBatch(attrs: Attributes): { batch: SpanBatch; ids: ReturnType<typeof threeServiceTrace>['ids'] } {
  const t = threeServiceTrace();
  for (const s of t.batches.orders.scopeSpans[0]!.spans) Object.assign(s.attributes, attrs);
  return { batch: batchOf(t.batches.frontend, t.batches.orders, t.batches.payments), ids: t.ids };
}

function ordersEntry(batch: SpanBatch): Span {
  return allSpans(batch).find((s) => s.kind === SpanKind.SERVER && s.attributes['http.target'] === '/orders')!;
}

async function entryCounts(s: ComponentSettings): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await s.metrics.baggageEntries.get()).values) out[`${v.labels.outcome}/${v.labels.reason}`] = v.value;
  return out;
}

describe('baggage_filter processor', () => {
  it('moves baggage from every span to tags on the entry span of the process that carries it', async () => {
    const s = settings();
    const filter = create({ allow_keys: ['tenant'] }, s);
    const { batch } = tracedBatch({ 'baggage.tenant': 'acme' });
    await filter.consume(batch, { receiver: 'otlp', transport: 'http' });
    const entry = ordersEntry(batch);
    assert.equal(entry.attributes['tenant'], 'acme');
    for (const sp of allSpans(batch)) {
      assert.equal(sp.attributes['baggage.tenant'], undefined, `${sp.name} still carries the raw attribute`);
      if (sp !== entry) assert.equal(sp.attributes['tenant'], undefined, `${sp.name} is not the entry span`);
    }
    assert.deepEqual(await entryCounts(s), { 'kept/allowed': 1 });
  });

  it('leaves the span objects it was given untouched (another branch may hold them)', () => {
    const filter = create({});
    const { batch } = tracedBatch({ 'baggage.tenant': 'acme' });
    const original = cloneBatch(batch);
    const before = allSpans(batch);
    filter.filter(batch);
    assert.deepEqual(before.map((sp) => sp.attributes), allSpans(original).map((sp) => sp.attributes));
  });

  it('passes a batch without baggage through as it is', () => {
    const filter = create({});
    const t = threeServiceTrace();
    const batch = batchOf(t.batches.frontend, t.batches.orders);
    const before = allSpans(batch);
    filter.filter(batch);
    assert.deepEqual(allSpans(batch), before);
    assert.ok(allSpans(batch).every((sp, i) => sp === before[i]));
  });

  it('drops denied keys even when allowed, and keys outside allow_keys', async () => {
    const s = settings();
    const filter = create({ allow_keys: ['tenant', 'session.*'], deny_keys: ['session.token'] }, s);
    const { batch } = tracedBatch({ 'baggage.tenant': 'acme', 'baggage.session.token': 'abc', 'baggage.debug': '1', 'baggage.session.region': 'eu' });
    filter.filter(batch);
    const entry = ordersEntry(batch);
    assert.equal(entry.attributes['tenant'], 'acme');
    assert.equal(entry.attributes['session.region'], 'eu');
    assert.equal(entry.attributes['session.token'], undefined);
    assert.equal(entry.attributes['debug'], undefined);
    assert.ok(allSpans(batch).every((sp) => !Object.keys(sp.attributes).some((k) => k.includes('session.token') || k.includes('debug'))));
    assert.deepEqual(await entryCounts(s), { 'kept/allowed': 2, 'dropped/denied': 1, 'dropped/not_allowed': 1 });
  });

  it('masks a secret value whole with "***", or drops it with redaction: drop', async () => {
    const s = settings();
    const masked = tracedBatch({ 'baggage.user.email': 'a@b.com', 'baggage.auth': 'Bearer abc.def' });
    create({ redact_values: ['email', 'bearer_token'] }, s).filter(masked.batch);
    assert.equal(ordersEntry(masked.batch).attributes['user.email'], '***');
    assert.equal(ordersEntry(masked.batch).attributes['auth'], '***');
    assert.deepEqual(await entryCounts(s), { 'redacted/email': 1, 'redacted/bearer_token': 1 });

    const dropped = tracedBatch({ 'baggage.user.email': 'a@b.com', 'baggage.tenant': 'acme' });
    create({ redact_values: ['email'], redaction: 'drop' }).filter(dropped.batch);
    assert.ok(allSpans(dropped.batch).every((sp) => !JSON.stringify(Object.keys(sp.attributes)).includes('email')));
    assert.equal(ordersEntry(dropped.batch).attributes['tenant'], 'acme');
  });

  it('redacts with all presets by default', () => {
    const { batch } = tracedBatch({
      'baggage.jwt': 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl',
      'baggage.card': '4111 1111 1111 1111',
      'baggage.order': '1234 5678 9012 3456',
      'baggage.mail': 'contact: ops@example.org',
    });
    create({}).filter(batch);
    const tags = ordersEntry(batch).attributes;
    assert.deepEqual([tags['jwt'], tags['card'], tags['order'], tags['mail']], ['***', '***', '1234 5678 9012 3456', '***']);
  });

  it('drops a value longer than max_value_length (UTF-8 bytes) whole, never truncating it', async () => {
    const s = settings();
    const { batch } = tracedBatch({ 'baggage.long': 'x'.repeat(9), 'baggage.wide': 'é'.repeat(5), 'baggage.fits': 'y'.repeat(8) });
    create({ max_value_length: 8 }, s).filter(batch);
    const tags = ordersEntry(batch).attributes;
    assert.equal(tags['long'], undefined);
    assert.equal(tags['wide'], undefined, '5 × "é" is 10 bytes');
    assert.equal(tags['fits'], 'y'.repeat(8));
    assert.ok(!allSpans(batch).some((sp) => Object.values(sp.attributes).some((v) => typeof v === 'string' && v.startsWith('x'))));
    assert.equal((await entryCounts(s))['dropped/too_long'], 2);
  });

  it('keeps at most max_entries tags, in the order the entries were found', async () => {
    const s = settings();
    const { batch } = tracedBatch({ 'baggage.a': '1', 'baggage.b': '2', 'baggage.c': '3' });
    create({ max_entries: 2 }, s).filter(batch);
    const tags = ordersEntry(batch).attributes;
    assert.deepEqual([tags['a'], tags['b'], tags['c']], ['1', '2', undefined]);
    assert.equal((await entryCounts(s))['dropped/too_many'], 1);
  });

  it('names tags with tag_prefix, and reads sw8.correlation.* and listed as-is attributes', () => {
    const { batch } = tracedBatch({ 'sw8.correlation.region': 'eu', tenant: 'acme', 'http.flavor': '1.1' });
    create({ tag_prefix: 'baggage_', attribute_keys: ['tenant'] }).filter(batch);
    const entry = ordersEntry(batch);
    assert.equal(entry.attributes['baggage_region'], 'eu');
    assert.equal(entry.attributes['baggage_tenant'], 'acme');
    assert.equal(entry.attributes['tenant'], undefined);
    assert.equal(entry.attributes['http.flavor'], '1.1', 'attributes not named as baggage stay as they are');
    const internal = allSpans(batch).find((sp) => sp.name === 'validate')!;
    assert.deepEqual(Object.keys(internal.attributes), ['http.flavor']);
  });

  it('puts entries found on a child span onto its process entry span (the frontend sets baggage before its call)', () => {
    const t = threeServiceTrace();
    const feClient = t.batches.frontend.scopeSpans[0]!.spans.find((sp) => sp.kind === SpanKind.CLIENT)!;
    feClient.attributes['baggage.tenant'] = 'acme';
    const batch = batchOf(t.batches.frontend, t.batches.orders);
    create({}).filter(batch);
    assert.equal(byName(batch, 'frontend', 'GET').attributes['tenant'], 'acme');
    assert.equal(byName(batch, 'frontend', 'POST').attributes['tenant'], undefined);
    assert.equal(ordersEntry(batch).attributes['tenant'], undefined, 'another process has its own baggage');
  });

  it('drops entries whose entry span is not in the batch, counting them', async () => {
    const s = settings();
    const traceId = hexId(16);
    // A local child (flags 0x100: parent known to be local) whose parent came in another batch.
    const child = span({ traceId, spanId: hexId(8), parentSpanId: hexId(8), name: 'db', kind: SpanKind.CLIENT, flags: 0x101, attributes: { 'baggage.tenant': 'acme', 'baggage.x': '1' } });
    const batch = batchOf(resourceSpans('orders', [child]));
    create({}, s).filter(batch);
    assert.deepEqual(Object.keys(allSpans(batch)[0]!.attributes), []);
    assert.deepEqual(await entryCounts(s), { 'dropped/no_entry_span': 2 });
  });

  it('finds entry spans without OTLP flags: no parent, a parent in another process, or a server under a client', () => {
    const traceId = hexId(16);
    const ids = { root: hexId(8), call: hexId(8), server: hexId(8), inner: hexId(8) };
    const noFlags = { flags: 0 };
    const frontend = resourceSpans('frontend', [
      span({ traceId, spanId: ids.root, name: 'root', kind: SpanKind.SERVER, ...noFlags, attributes: { 'baggage.a': 'fe' } }),
      span({ traceId, spanId: ids.call, parentSpanId: ids.root, name: 'call', kind: SpanKind.CLIENT, ...noFlags, attributes: { 'baggage.a': 'fe' } }),
    ]);
    const backend = resourceSpans('backend', [
      span({ traceId, spanId: ids.server, parentSpanId: ids.call, name: 'server', kind: SpanKind.SERVER, ...noFlags, attributes: { 'baggage.a': 'be' } }),
      span({ traceId, spanId: ids.inner, parentSpanId: ids.server, name: 'inner', kind: SpanKind.INTERNAL, ...noFlags, attributes: { 'baggage.b': 'be' } }),
    ]);
    const batch = batchOf(frontend, backend);
    create({}).filter(batch);
    assert.deepEqual(byName(batch, 'frontend', 'root').attributes, { a: 'fe' });
    assert.deepEqual(byName(batch, 'frontend', 'call').attributes, {});
    assert.deepEqual(byName(batch, 'backend', 'server').attributes, { a: 'be', b: 'be' });
    assert.deepEqual(byName(batch, 'backend', 'inner').attributes, {});
  });

  it('reads jaeger-client baggage logs (event "baggage" with key and value) and removes them', async () => {
    const s = settings();
    const traceId = hexId(16);
    const ev = (attributes: Attributes) => ({ timeUnixNano: 1n, name: 'baggage', attributes, droppedAttributesCount: 0 });
    const server = span({
      traceId, spanId: hexId(8), name: 'GET /', kind: SpanKind.SERVER, flags: 0,
      events: [
        ev({ key: 'tenant', value: 'acme' }),
        ev({ key: 'cut', value: 'abc', truncated: 'true' }),
        ev({ key: 'refused', value: 'x', invalid: 'true' }),
        { timeUnixNano: 2n, name: 'log', attributes: { message: 'hello' }, droppedAttributesCount: 0 },
      ],
    });
    const batch = batchOf(resourceSpans('jaeger-svc', [server]));
    create({}, s).filter(batch);
    const out = allSpans(batch)[0]!;
    assert.deepEqual(out.attributes, { tenant: 'acme' });
    assert.deepEqual(out.events.map((e) => e.name), ['log']);
    assert.deepEqual(await entryCounts(s), { 'kept/allowed': 1, 'dropped/too_long': 1 });
  });

  it('never overwrites an attribute the entry span has of its own', async () => {
    const s = settings();
    const { batch } = tracedBatch({ 'baggage.http.method': 'DELETE' });
    create({}, s).filter(batch);
    assert.equal(ordersEntry(batch).attributes['http.method'], 'POST');
    assert.deepEqual(await entryCounts(s), { 'dropped/key_conflict': 1 });
  });
});

describe('baggage_filter patterns', () => {
  it('matches keys exactly, by glob, or by /regex/', () => {
    assert.ok(compileKeyPattern('tenant')('tenant'));
    assert.ok(!compileKeyPattern('tenant')('tenant.id'));
    assert.ok(compileKeyPattern('user.*')('user.email'));
    assert.ok(!compileKeyPattern('user.*')('userXemail'), 'the dot in a glob is literal');
    assert.ok(compileKeyPattern('?id')('xid'));
    assert.ok(compileKeyPattern('/^ab[0-9]+$/')('ab12'));
    assert.ok(compileKeyPattern('/^tenant$/i')('Tenant'));
  });

  it('accepts custom value patterns with a name', () => {
    const p = compileValuePattern({ regex: 'EMP-\\d{4}', name: 'employee_id', ignore_case: true });
    assert.equal(p.name, 'employee_id');
    assert.ok(p.test('id emp-1234 here'));
  });
});

describe('baggage_filter config', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(baggageFilterConfigSchema.parse({}), {
      deny_keys: [],
      attribute_prefixes: ['baggage.', 'sw8.correlation.'],
      attribute_keys: [],
      redact_values: ['email', 'bearer_token', 'jwt', 'credit_card'],
      redaction: 'mask',
      max_entries: 16,
      max_value_length: 256,
      tag_prefix: '',
    });
  });

  it('points at a bad pattern by its path', () => {
    const r = baggageFilterConfigSchema.safeParse({ deny_keys: ['ok', '/(unclosed/'] });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ['deny_keys', 1]);
    assert.equal(baggageFilterConfigSchema.safeParse({ redact_values: ['phone'] }).success, false);
    assert.equal(baggageFilterConfigSchema.safeParse({ redact_values: [{ regex: '[' }] }).success, false);
    assert.equal(baggageFilterConfigSchema.safeParse({ redaction: 'truncate' }).success, false);
  });
});
