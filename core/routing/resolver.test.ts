import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../telemetry/logger.ts';
import { TestDnsServer } from '../../test/support/dns-server.ts';
import { loadbalancingConfigSchema } from '../../exporters/loadbalancing/config.ts';
import { createResolver } from './resolver.ts';

const logger = createLogger({ level: 'silent' });

describe('loadbalancing resolvers', () => {
  it('static: reports the list once', async () => {
    const config = loadbalancingConfigSchema.parse({ resolver: { static: { hostnames: ['gw-2:4317', 'gw-1:4317'] } } });
    const seen: string[][] = [];
    const r = createResolver(config.resolver, logger);
    await r.start((e) => seen.push(e));
    assert.deepEqual(seen, [['gw-2:4317', 'gw-1:4317']]);
    r.stop();
  });

  it('dns: every address on the port, again on change, the last list kept on failure or an empty answer', async () => {
    const config = loadbalancingConfigSchema.parse({ resolver: { dns: { hostname: 'gw.obs.svc', port: 4317, interval: '100ms' } } });
    const answers: (string[] | Error)[] = [['10.0.0.2', '10.0.0.1'], ['10.0.0.1', '10.0.0.2'], new Error('SERVFAIL'), [], ['10.0.0.1', 'fd00::3']];
    const seen: string[][] = [];
    const r = createResolver(config.resolver, logger, async (hostname) => {
      assert.equal(hostname, 'gw.obs.svc');
      const next = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (next instanceof Error) throw next;
      return next;
    });
    await r.start((e) => seen.push(e));
    await new Promise((resolve) => setTimeout(resolve, 650));
    r.stop();
    assert.deepEqual(seen, [
      ['10.0.0.1:4317', '10.0.0.2:4317'],
      ['10.0.0.1:4317', '[fd00::3]:4317'],
    ]);
  });

  it('dns with a nameserver: asks that server for A and AAAA records', async () => {
    const server = await TestDnsServer.start();
    const seen: string[][] = [];
    try {
      server.records.set('gateways.consul', ['127.0.0.21', '127.0.0.22']);
      const config = loadbalancingConfigSchema.parse({ resolver: { dns: { hostname: 'gateways.consul', port: 4317, interval: '100ms', nameserver: server.address } } });
      const r = createResolver(config.resolver, logger);
      await r.start((e) => seen.push(e));
      server.records.set('gateways.consul', ['127.0.0.22']);
      await new Promise((resolve) => setTimeout(resolve, 400));
      r.stop();
    } finally {
      await server.close();
    }
    assert.deepEqual(seen, [['127.0.0.21:4317', '127.0.0.22:4317'], ['127.0.0.22:4317']]);
  });

  it('refuses a config with both resolvers, or neither', () => {
    assert.throws(() => loadbalancingConfigSchema.parse({ resolver: {} }), /exactly one of resolver.static and resolver.dns/);
    assert.throws(() => loadbalancingConfigSchema.parse({ resolver: { static: { hostnames: ['a:1'] }, dns: { hostname: 'x' } } }), /exactly one/);
  });
});
