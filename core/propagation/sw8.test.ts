import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { SkyWalkingParent } from './skywalking-continuation.ts';
import { decodeSw8, encodeSw8 } from './sw8.ts';

// The SkyWalking Node agent's own carrier (CommonJS), from the devDependency the stand-in OAP uses.
const require = createRequire(import.meta.url);
const { ContextCarrier } = require('skywalking-backend-js/lib/trace/context/ContextCarrier.js');
const ID = require('skywalking-backend-js/lib/trace/ID.js').default;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const parent: SkyWalkingParent = {
  sampled: true,
  traceId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
  parentSegmentId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  parentSpanId: 3,
  parentService: 'orders',
  parentServiceInstance: 'orders-1@host',
  parentEndpoint: 'POST:/checkout',
  addressUsedAtClient: 'payments:8080',
};
const header = (fields: Partial<Record<'flag' | 'trace' | 'segment' | 'span' | 'service' | 'instance' | 'endpoint' | 'address', string>> = {}) =>
  [
    fields.flag ?? '1',
    fields.trace ?? b64(parent.traceId),
    fields.segment ?? b64(parent.parentSegmentId),
    fields.span ?? '3',
    fields.service ?? b64(parent.parentService),
    fields.instance ?? b64(parent.parentServiceInstance),
    fields.endpoint ?? b64(parent.parentEndpoint),
    fields.address ?? b64(parent.addressUsedAtClient),
  ].join('-');

describe('encodeSw8', () => {
  it('writes 8 dash-joined fields, strings in standard padded Base64', () => {
    const value = encodeSw8(parent);
    assert.equal(value, header());
    assert.equal(value.split('-').length, 8);
  });

  it('writes what the SkyWalking Node agent writes for the same context', () => {
    const carrier = new ContextCarrier(new ID(parent.traceId), new ID(parent.parentSegmentId), 3, 'orders', 'orders-1@host', 'POST:/checkout', 'payments:8080');
    assert.equal(encodeSw8(parent), carrier.value);
  });

  it('keeps non-ASCII text as UTF-8, and the sample flag 0', () => {
    const value = encodeSw8({ ...parent, sampled: false, parentEndpoint: 'GET:/café/ü' });
    assert.ok(value.startsWith('0-'));
    assert.equal(decodeSw8(value)!.parentEndpoint, 'GET:/café/ü');
    assert.equal(decodeSw8(value)!.sampled, false);
  });
});

describe('decodeSw8', () => {
  it('round-trips encodeSw8', () => {
    assert.deepEqual(decodeSw8(encodeSw8(parent)), parent);
    assert.deepEqual(decodeSw8(encodeSw8(parent), { strict: true }), parent);
  });

  it('is read back by the SkyWalking Node agent', () => {
    const carrier = ContextCarrier.from({ sw8: encodeSw8(parent) });
    assert.ok(carrier.isValid());
    assert.equal(String(carrier.traceId), parent.traceId);
    assert.equal(String(carrier.segmentId), parent.parentSegmentId);
    assert.equal(carrier.spanId, 3);
    assert.equal(carrier.clientAddress, parent.addressUsedAtClient);
  });

  it('needs exactly 8 parts', () => {
    assert.equal(decodeSw8(header().split('-').slice(0, 7).join('-')), undefined);
    assert.equal(decodeSw8(`${header()}-extra`), undefined);
    assert.equal(decodeSw8(''), undefined);
    assert.equal(decodeSw8(undefined), undefined);
  });

  it('takes the first of several header fields', () => {
    assert.equal(decodeSw8([header(), 'junk'])?.traceId, parent.traceId);
  });

  it('accepts what the Node agent accepts: empty instance and address, a parseInt-able span id', () => {
    const loose = decodeSw8(header({ instance: '', address: '', span: '7x' }));
    assert.equal(loose?.parentServiceInstance, '');
    assert.equal(loose?.addressUsedAtClient, '');
    assert.equal(loose?.parentSpanId, 7);
  });

  it('rejects empty trace id, segment id, service or endpoint, and bad span ids', () => {
    for (const f of ['trace', 'segment', 'service', 'endpoint'] as const) assert.equal(decodeSw8(header({ [f]: '' })), undefined, f);
    assert.equal(decodeSw8(header({ span: 'x' })), undefined);
    assert.equal(decodeSw8(header({ span: '-1' })), undefined);
  });

  it('in strict mode, applies the Java agent rules', () => {
    const strict = { strict: true };
    assert.equal(decodeSw8(header({ instance: '' }), strict), undefined, 'instance required');
    assert.equal(decodeSw8(header({ address: '' }), strict), undefined, 'address required');
    assert.equal(decodeSw8(header({ span: '7x' }), strict), undefined, 'Integer.parseInt rejects 7x');
    assert.equal(decodeSw8(header({ span: '2147483648' }), strict), undefined, 'past int32');
    assert.equal(decodeSw8(header({ span: '+5' }), strict)?.parentSpanId, 5);
    assert.equal(decodeSw8(header({ trace: b64(parent.traceId).replace(/=+$/, '') + '*' }), strict), undefined, 'outside the alphabet');
    assert.equal(decodeSw8(header({ service: 'b3JkZXJz_' }), strict), undefined, 'base64url is not standard Base64');
    assert.equal(decodeSw8(header({ service: 'b3JkZ' }), strict), undefined, 'a length of 4n+1 is never Base64');
    assert.equal(decodeSw8(header({ service: 'b3JkZXJzMQ' }), strict)?.parentService, 'orders1', 'padding is optional for Java');
  });

  it('reads the sample flag: 0 is not sampled, anything else is', () => {
    assert.equal(decodeSw8(header({ flag: '0' }))!.sampled, false);
    assert.equal(decodeSw8(header({ flag: '1' }))!.sampled, true);
  });

  it('decodes an id written by the Java agent', () => {
    const javaTraceId = '3d8bdf3f8a1b4e2aa57dc2c7f0dbb2a1.97.17000000000000001';
    assert.equal(decodeSw8(header({ trace: b64(javaTraceId) }), { strict: true })!.traceId, javaTraceId);
  });
});
