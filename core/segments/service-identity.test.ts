import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identifyService, instanceProperties } from './service-identity.ts';

describe('identifyService', () => {
  it('names the instance service.instance.id, else pid@host, the host being host.name, else the first host.ip', () => {
    assert.equal(identifyService({ 'service.name': 's', 'service.instance.id': 'i-1', 'host.name': 'h' }).serviceInstance, 'i-1');
    assert.equal(identifyService({ 'service.name': 's', 'process.pid': 42, 'host.name': 'h', 'host.ip': '10.0.0.1' }).serviceInstance, '42@h');
    // Zipkin: all a span says about its process is localEndpoint's address.
    assert.equal(identifyService({ 'service.name': 's', 'host.ip': '10.0.0.1' }).serviceInstance, '10.0.0.1');
    assert.equal(identifyService({ 'service.name': 's', 'host.ip': ['10.0.0.1', '2001:db8::1'] }).serviceInstance, '10.0.0.1');
    assert.equal(identifyService({ 'service.name': 's', 'host.ip': '2001:db8::1', 'process.pid': 7 }).serviceInstance, '7@2001:db8::1');
    assert.equal(identifyService({ 'service.name': 's' }).serviceInstance, 'unknown_instance');
  });

  it('reports a Zipkin address as the instance\'s ipv4 property', () => {
    const props = instanceProperties(identifyService({ 'service.name': 's', 'host.ip': ['10.0.0.1', '2001:db8::1'] })).properties;
    assert.deepEqual(props.filter((p) => p.key === 'ipv4'), [{ key: 'ipv4', value: '10.0.0.1' }]);
  });
});
