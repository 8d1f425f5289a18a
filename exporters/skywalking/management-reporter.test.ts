import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ComponentSettings } from '../../core/component.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { Metrics } from '../../core/telemetry/metrics.ts';
import type { InstanceProperties } from '../../core/segments/segment-object.ts';
import { StandInOap } from '../../test/support/stand-in-oap.ts';
import { createOapClient } from './oap-client.ts';
import { ManagementReporter, type ManagementReporterOptions } from './management-reporter.ts';

function settings(): ComponentSettings {
  return { id: 'skywalking', kind: 'exporter', logger: createLogger({ level: 'silent' }), metrics: new Metrics() };
}

function props(service: string, serviceInstance: string): InstanceProperties {
  return {
    service,
    serviceInstance,
    layer: 'GENERAL',
    properties: [{ key: 'language', value: 'java' }, { key: 'ipv4', value: '10.0.0.5' }],
  };
}

describe('ManagementReporter', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function rig(oapOptions: Parameters<typeof StandInOap.start>[0], options: Partial<ManagementReporterOptions> = {}) {
    const oap = await StandInOap.start(oapOptions);
    const client = createOapClient({ endpoint: oap.endpoint, tls: { insecure: true }, reconnectBackoffMs: { initial: 10, max: 100 } });
    const reporter = new ManagementReporter(settings(), client, {
      token: '', timeoutMs: 2000, keepAliveIntervalMs: 30, instanceIdleTimeoutMs: 60_000, maxInstances: 10_000, newInstancesPerSecond: 100, ...options,
    });
    cleanups.push(async () => {
      reporter.stop();
      client.close();
      await oap.stop();
    });
    return { oap, reporter };
  }

  const pingsOf = (oap: StandInOap, serviceInstance: string): number => oap.pings.filter((p) => p.serviceinstance === serviceInstance).length;

  it('lists the most recently seen instances first, as many as asked (the status page)', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000 });
    const { reporter } = await rig({});
    for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) {
      t.mock.timers.setTime(1_000 + i * 10);
      reporter.add(props('svc', name));
    }
    t.mock.timers.setTime(2_000);
    reporter.touch('svc', 'b');
    assert.deepEqual(reporter.recent(3), [
      { service: 'svc', instance: 'b', lastSeenMs: 2_000 },
      { service: 'svc', instance: 'd', lastSeenMs: 1_030 },
      { service: 'svc', instance: 'c', lastSeenMs: 1_020 },
    ]);
    assert.equal(reporter.recent(10).length, 4);
  });

  it('reports properties once per instance and keeps pinging every instance', async () => {
    const { oap, reporter } = await rig({ token: 'tkn' }, { token: 'tkn' });
    reporter.add(props('checkout', 'checkout-1'));
    reporter.add(props('checkout', 'checkout-1')); // a repeat is not a new instance
    reporter.start();
    reporter.add(props('cart', 'cart-1')); // met while running: reported at once

    await oap.waitFor(() => pingsOf(oap, 'checkout-1') >= 3 && pingsOf(oap, 'cart-1') >= 3, 5000, () => 'three rounds of keepAlive');
    assert.deepEqual(
      oap.instanceProperties.map((p) => p.serviceinstance).sort(),
      ['cart-1', 'checkout-1'],
    );
    assert.deepEqual(oap.instanceProperties.find((p) => p.serviceinstance === 'checkout-1'), {
      service: 'checkout',
      serviceinstance: 'checkout-1',
      propertiesList: [{ key: 'language', value: 'java' }, { key: 'ipv4', value: '10.0.0.5' }],
      layer: 'GENERAL',
    });
    assert.deepEqual(oap.pings.find((p) => p.serviceinstance === 'cart-1'), { service: 'cart', serviceinstance: 'cart-1', layer: 'GENERAL' });
    assert.ok(oap.authentications.every((a) => a === 'tkn'), 'the token goes with every call');
  });

  it('retries properties the OAP did not take, until it does', async () => {
    const { oap, reporter } = await rig({});
    oap.failNext(2, GrpcStatus.UNAVAILABLE, { methods: ['reportInstanceProperties'] });
    reporter.add(props('checkout', 'checkout-1'));
    reporter.start();

    await oap.waitFor(() => oap.instanceProperties.length === 1, 5000, () => 'the properties');
    await oap.waitForPings(3);
    assert.equal(oap.calls.reportInstanceProperties, 3);
    assert.equal(oap.instanceProperties.length, 1);
  });

  it('pings instances known only from their segments', async () => {
    const { oap, reporter } = await rig({});
    reporter.start();
    reporter.touch('gateway', 'gateway-1');

    await oap.waitForPings(2);
    assert.deepEqual(oap.pings[0], { service: 'gateway', serviceinstance: 'gateway-1', layer: '' });
    assert.equal(oap.instanceProperties.length, 0);
  });

  it('stops pinging an instance whose segments stopped for longer than the idle timeout', async () => {
    const { oap, reporter } = await rig({}, { instanceIdleTimeoutMs: 100 });
    reporter.add(props('batch-job', 'job-1'));
    reporter.add(props('api', 'api-1'));
    reporter.start();
    // api-1 keeps exporting segments; job-1 went away.
    const busy = setInterval(() => reporter.touch('api', 'api-1'), 10);
    cleanups.push(() => clearInterval(busy));

    await oap.waitFor(() => reporter.size === 1, 5000, () => 'job-1 to expire');
    const jobPings = pingsOf(oap, 'job-1');
    const apiPings = pingsOf(oap, 'api-1');
    await oap.waitFor(() => pingsOf(oap, 'api-1') >= apiPings + 3, 5000, () => 'three more api-1 pings');
    assert.equal(pingsOf(oap, 'job-1'), jobPings);
  });

  it('caps what a flood of made-up instances costs the OAP: new reports per second and instances remembered', async () => {
    const { oap, reporter } = await rig({}, { keepAliveIntervalMs: 200, maxInstances: 300, newInstancesPerSecond: 50 });
    reporter.start();
    for (let i = 0; i < 1000; i++) reporter.add(props(`svc-${i}`, `inst-${i}`));
    assert.equal(reporter.size, 300, 'only max_instances are remembered');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // At most one second's burst (50) plus about a second of refill, not 1,000 (or 300) at once.
    // (No lower bound: on a loaded machine the first calls may still be on their way.)
    const firstSecond = oap.instanceProperties.length;
    assert.ok(firstSecond <= 110, `properties reported in the first second: ${firstSecond}`);
    await oap.waitFor(() => oap.instanceProperties.length === 300, 10_000, () => `all 300 remembered instances reported in time (${oap.instanceProperties.length})`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(new Set(oap.instanceProperties.map((p) => p.serviceinstance)).size, 300, 'each once');
    // Once reported, instances keep being pinged every round without waiting for the rate.
    const pings = oap.pings.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(oap.pings.length - pings >= 300, `a keepAlive round covers every instance: ${oap.pings.length - pings}`);
  });
});
