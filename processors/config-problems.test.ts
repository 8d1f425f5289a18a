/**
 * The processors' cross-field rules reach the user through `skybridge validate` with the YAML
 * path and line of the key at fault, all at once. A regression shows as a problem reported at the
 * processor's root (or not at all) instead of at the key to fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { components } from '../components.ts';
import { ConfigInvalidError, loadAndValidate } from '../core/collector.ts';

describe('processor config problems', () => {
  it('name the key at fault, with its line, every one at once', async () => {
    const yaml = `
receivers: { otlp: {} }
processors:
  batch: { send_batch_size: 512, send_batch_max_size: 100 }
  memory_limiter: { limit: 1GiB, limit_percentage: 50 }
  baggage_filter: { deny_keys: ["/(x/"] }
exporters: { debug: {} }
pipelines: { traces: { receivers: [otlp], processors: [memory_limiter, batch, baggage_filter], exporters: [debug] } }
`;
    await assert.rejects(loadAndValidate({ text: yaml, name: 't.yaml' }, components), (e) => {
      assert.ok(e instanceof ConfigInvalidError);
      assert.match(e.report, /t\.yaml:4:\d+ processors\.batch\.send_batch_max_size: send_batch_max_size \(100\) is below send_batch_size \(512\)/);
      assert.match(e.report, /t\.yaml:5:\d+ processors\.memory_limiter\.limit_percentage: limit and limit_percentage are both set/);
      assert.match(e.report, /t\.yaml:6:\d+ processors\.baggage_filter\.deny_keys\[0\]: "\/\(x\/" is not a valid regular expression/);
      assert.equal(e.problems.length, 3);
      return true;
    });
  });

  it('accept the README examples', async () => {
    const yaml = `
receivers: { otlp: {} }
processors:
  memory_limiter: { check_interval: 1s, limit: 1GiB, spike_limit: 200MiB, retry_after: 1s }
  batch: { send_batch_size: 512, send_batch_max_size: 0, send_batch_max_bytes: 4MiB, timeout: 200ms, wait_for_result: true, max_pending_spans: 65536 }
  baggage_filter:
    allow_keys: [tenant, "user.*"]
    deny_keys: [session.token, "/^auth/"]
    attribute_keys: [tenant, user.email]
    attribute_prefixes: ["baggage.", "sw8.correlation."]
    redact_values: [email, bearer_token, jwt, credit_card, { regex: "EMP-\\\\d{4}", name: employee_id }]
    redaction: mask
    max_entries: 16
    max_value_length: 256
    tag_prefix: ""
exporters: { debug: {} }
pipelines: { traces: { receivers: [otlp], processors: [memory_limiter, baggage_filter, batch], exporters: [debug] } }
`;
    const { config } = await loadAndValidate({ text: yaml, name: 't.yaml' }, components);
    assert.deepEqual([...config.processors.keys()], ['memory_limiter', 'batch', 'baggage_filter']);
  });
});
