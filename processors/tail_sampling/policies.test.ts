import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { components } from '../../components.ts';
import { ConfigInvalidError, loadAndValidate } from '../../core/collector.ts';
import { TraceBuffer, type HeldTrace } from '../../core/traces/trace-buffer.ts';
import { tailSamplingConfigSchema } from './config.ts';
import { compilePattern } from './pattern.ts';
import { PolicySet, type SampledSpan } from './policies.ts';
import { checkoutTrace, wholeBatch } from './testdata/traces.ts';
import type { ThreeServiceTrace } from '../../test/support/span-fixtures.ts';

function held(t: ThreeServiceTrace): HeldTrace<SampledSpan> {
  const buffer = new TraceBuffer<SampledSpan>({ quietPeriodMs: 1, maxWaitMs: 1, maxTraces: 10, maxSpans: 100 }, { onReady() {}, onEvict() {} });
  for (const rs of wholeBatch(t).resourceSpans) {
    for (const ss of rs.scopeSpans) for (const span of ss.spans) buffer.add({ span, scope: ss.scope, resource: rs.resource, resourceSchemaUrl: '', scopeSchemaUrl: '' }, 0);
  }
  return buffer.get(t.traceId)!;
}

function classify(policies: unknown[], t: ThreeServiceTrace, extra: Record<string, unknown> = {}) {
  return new PolicySet(tailSamplingConfigSchema.parse({ policies, ...extra })).classify(held(t));
}

const trace = (o: { error?: boolean; route?: string } = {}) => checkoutTrace({ traceId: 'ab'.repeat(16), startMs: 1_700_000_000_000, ...o });

describe('compilePattern', () => {
  it('matches globs whole, regexes as written, plain text exactly', () => {
    assert.equal(compilePattern('GET:/health*')('GET:/healthz'), true);
    assert.equal(compilePattern('GET:/health*')('POST GET:/healthz'), false);
    assert.equal(compilePattern('pay?ents')('payments'), true);
    assert.equal(compilePattern('a.b')('axb'), false, 'a dot in a glob is a dot');
    assert.equal(compilePattern('/^get:/i')('GET:/x'), true);
    assert.equal(compilePattern('/health/')('GET:/healthz'), true, 'a regex is not anchored unless it says so');
    assert.equal(compilePattern('/health/g')('healthz') && compilePattern('/health/g')('healthz'), true, 'g is ignored: no lastIndex state');
    assert.equal(compilePattern('orders')('orders-v2'), false);
  });
});

describe('PolicySet', () => {
  it('finds errors and slow traces, and reports the trace start for its window', () => {
    assert.deepEqual(classify([{ name: 'errors', type: 'error' }], trace({ error: true })), { verdict: 'keep', policy: 'errors', matched: ['errors'], startMs: 1_700_000_000_000 });
    assert.equal(classify([{ name: 'errors', type: 'error' }], trace()).verdict, 'candidate');
    assert.equal(classify([{ name: 'slow', type: 'latency', latency: { threshold: '45ms' } }], trace()).verdict, 'keep', 'the trace lasts 45 ms');
    assert.equal(classify([{ name: 'slow', type: 'latency', latency: { threshold: '46ms' } }], trace()).verdict, 'candidate');
  });

  it('matches endpoints of entry spans by SkyWalking name or span name, never exit spans', () => {
    const keep = (endpoint: string) => classify([{ name: 'k', type: 'keep', keep: { endpoint } }], trace()).verdict;
    assert.equal(keep('GET:/checkout'), 'keep', 'the endpoint SkyWalking shows');
    assert.equal(keep('POST /pay'), 'keep', 'the span name');
    assert.equal(keep('/^POST:\\/pay$/'), 'keep');
    assert.equal(keep('POST'), 'keep', 'orders SERVER span is named POST');
    assert.equal(classify([{ name: 'k', type: 'keep', keep: { endpoint: 'POST', service: 'frontend' } }], trace()).verdict, 'candidate', "frontend's POST is a CLIENT span");
  });

  it('matches service names with or without namespace, and attributes on span then resource, on one span', () => {
    const t = trace();
    t.batches.orders.resource.attributes['service.namespace'] = 'shop';
    t.batches.orders.resource.attributes['deployment.environment'] = 'canary';
    const verdict = (keep: Record<string, unknown>) => classify([{ name: 'k', type: 'keep', keep }], t).verdict;
    assert.equal(verdict({ service: 'orders' }), 'keep');
    assert.equal(verdict({ service: 'shop::ord*' }), 'keep');
    assert.equal(verdict({ service: 'payments', attributes: { 'http.response.status_code': 200 } }), 'keep');
    assert.equal(verdict({ service: 'frontend', attributes: { 'http.response.status_code': 200 } }), 'candidate', 'both conditions on the same span');
    assert.equal(verdict({ attributes: { 'deployment.environment': 'can*' } }), 'keep', 'resource attribute');
    assert.equal(verdict({ attributes: { 'http.route': '/^\\/pay/' } }), 'keep');
    assert.equal(verdict({ attributes: { 'no.such.key': '*' } }), 'candidate', 'an absent attribute never matches');
  });

  it('lets drop policies win and not evaluate the rest; lists every match otherwise', () => {
    const policies = [
      { name: 'errors', type: 'error' },
      { name: 'payments', type: 'keep', keep: { service: 'payments' } },
      { name: 'health', type: 'drop', drop: { endpoint: '*/healthz' } },
    ];
    assert.deepEqual(classify(policies, trace({ error: true, route: '/healthz' })), { verdict: 'drop', policy: 'health', matched: ['health'], startMs: 1_700_000_000_000 });
    assert.deepEqual(classify(policies, trace({ error: true })).matched, ['errors', 'payments']);
  });

  it('honours an upstream sampled flag only from outside the trace, and only when configured', () => {
    const t = trace();
    assert.equal(classify([], t, { honour_sampled_flag: 'w3c' }).verdict, 'candidate', 'the root has no parent: its flag is the SDK\'s own choice');
    const root = t.batches.frontend.scopeSpans[0]!.spans.find((s) => s.spanId === t.ids.feServer)!;
    root.parentSpanId = '1234567890abcdef';
    assert.deepEqual(classify([], t, { honour_sampled_flag: 'w3c' }).matched, ['honour_sampled_flag']);
    assert.equal(classify([], t, { honour_sampled_flag: 'none' }).verdict, 'candidate');
    root.flags = 0x300;
    assert.equal(classify([], t, { honour_sampled_flag: 'both' }).verdict, 'candidate', 'unsampled upstream');
  });
});

describe('tail_sampling config', () => {
  const validate = async (processor: string) => {
    const yaml = `
receivers: { otlp: { grpc: { endpoint: "127.0.0.1:0" }, http: null } }
processors:
  tail_sampling: ${processor}
exporters: { debug: {} }
pipelines: { traces: { receivers: [otlp], processors: [tail_sampling], exporters: [debug] } }
telemetry: { endpoint: null }
`;
    try {
      await loadAndValidate({ text: yaml, name: 'test.yaml' }, components);
      return [];
    } catch (error) {
      if (!(error instanceof ConfigInvalidError)) throw error;
      return error.problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('has working defaults', async () => {
    assert.deepEqual(await validate('{}'), []);
    const c = tailSamplingConfigSchema.parse({});
    assert.deepEqual(
      { n: c.sample_n_per_3_secs, wait: c.decision_wait, quiet: c.quiet_period, bytes: c.max_buffer_bytes, honour: c.honour_sampled_flag },
      { n: 0, wait: 10_000, quiet: 1_000, bytes: 256 * 1024 * 1024, honour: 'none' },
    );
  });

  it('reports every problem with its path and a fix', async () => {
    const problems = await validate(`
    sample_n_per_3_secs: -1
    decision_wait: 10
    honour_sampled_flag: w3
    policies:
      - { name: errors, type: error }
      - { name: errors2, type: error }
      - { name: other, type: error }
      - { name: slow, type: latency, latency: { threshold: 500 } }
      - { name: bad, type: keep, keep: { endpoint: "/(unclosed/" } }
      - { name: empty, type: drop, drop: {} }
      - { name: typo, type: keeep }
      - { name: extra, type: error, latency: { threshold: 1s } }`);
    const has = (path: string, text: string) => assert.ok(problems.some((p) => p.startsWith(path) && p.includes(text)), `${path} … ${text}\n${problems.join('\n')}`);
    has('processors.tail_sampling.sample_n_per_3_secs', 'at least 0');
    has('processors.tail_sampling.decision_wait', 'with its unit');
    has('processors.tail_sampling.honour_sampled_flag', 'did you mean "w3c"');
    has('processors.tail_sampling.policies[3].latency.threshold', 'duration');
    has('processors.tail_sampling.policies[4].keep.endpoint', 'not a valid regular expression');
    has('processors.tail_sampling.policies[5].drop', 'matches nothing');
    has('processors.tail_sampling.policies[6].type', 'did you mean "keep"');
    has('processors.tail_sampling.policies[7].latency', 'unknown key');
  });

  it('accepts the README example', async () => {
    const readme = (await import('node:fs')).readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const block = /```yaml\nprocessors:\n  tail_sampling:\n([\s\S]*?)\npipelines:/.exec(readme)![1]!;
    const body = block.split('\n').map((l) => l.slice(4)).join('\n');
    assert.deepEqual(await validate(`\n${body.split('\n').map((l) => `    ${l}`).join('\n')}`), []);
    const parsed = tailSamplingConfigSchema.parse((await import('yaml')).parse(body));
    assert.equal(parsed.policies.length, 5);
    assert.equal(parsed.sample_n_per_3_secs, 300);
  });

  it('rejects duplicate and reserved policy names (once each policy is valid on its own)', async () => {
    const problems = await validate(`
    policies:
      - { name: errors, type: error }
      - { name: errors, type: latency, latency: { threshold: 1s } }
      - { name: honour_sampled_flag, type: error }`);
    assert.deepEqual(problems, [
      'processors.tail_sampling.policies[1].name: a policy named "errors" is already defined. Fix: give every policy its own name.',
      'processors.tail_sampling.policies[2].name: "honour_sampled_flag" is reserved for the processor\'s own decisions. Fix: choose another name.',
    ]);
  });
});
