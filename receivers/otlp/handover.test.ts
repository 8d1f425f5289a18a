import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { otlpConfigSchema } from './config.ts';

describe('otlp receiver handover config', () => {
  it('is off unless configured, and takes the same resolvers as the loadbalancing exporter', () => {
    assert.equal(otlpConfigSchema.parse({}).handover, undefined);
    const cfg = otlpConfigSchema.parse({ handover: { resolver: { dns: { hostname: 'gw.svc' } }, self: '10.0.0.5:4317' } });
    assert.equal(cfg.handover!.grace, 15_000);
    assert.equal(cfg.handover!.resolver.dns!.port, 4317);
    assert.throws(() => otlpConfigSchema.parse({ handover: { resolver: { dns: { hostname: 'gw.svc' } } } }));
  });
});
