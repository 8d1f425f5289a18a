import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { otlpConfigSchema } from './config.ts';

describe('otlpConfigSchema', () => {
  it('enables both transports on the OTLP ports with 4MiB limits by default', () => {
    assert.deepEqual(otlpConfigSchema.parse({}), {
      grpc: { endpoint: 'localhost:4317', max_recv_msg_size: 4 * 1024 * 1024, max_concurrent_streams: 8, connections: { max_connection_idle: 300_000, max_connection_age_grace: 30_000, keepalive_time: 7_200_000, keepalive_timeout: 20_000 } },
      http: { endpoint: 'localhost:4318', max_request_body_size: 4 * 1024 * 1024, connections: { max: 4096, header_timeout: 10_000, request_timeout: 60_000, idle_timeout: 60_000 }, path: '/v1/traces' },
    });
  });

  it('disables a transport written as null', () => {
    const cfg = otlpConfigSchema.parse({ grpc: null, http: { max_request_body_size: '512KiB' } });
    assert.equal(cfg.grpc, null);
    assert.equal(cfg.http?.max_request_body_size, 512 * 1024);
  });

  it('refuses to disable both transports, naming the keys and the fix', () => {
    const res = otlpConfigSchema.safeParse({ grpc: null, http: null });
    assert.equal(res.success, false);
    assert.deepEqual(res.error!.issues[0]!.path, ['grpc']);
    assert.match(res.error!.issues[0]!.message, /grpc and http are both null.*Fix: enable at least one transport/);
  });

  it('rejects unknown keys, sizes without units and relative paths', () => {
    assert.equal(otlpConfigSchema.safeParse({ grpc: { port: 4317 } }).success, false);
    assert.equal(otlpConfigSchema.safeParse({ protocols: {} }).success, false);
    assert.equal(otlpConfigSchema.safeParse({ http: { max_request_body_size: 4096 } }).success, false);
    assert.equal(otlpConfigSchema.safeParse({ http: { path: 'v1/traces' } }).success, false);
    assert.equal(otlpConfigSchema.safeParse({ grpc: { endpoint: '4317' } }).success, false);
  });

  it('describes every field (the descriptions are the user docs)', () => {
    type Node = { description?: string; properties?: Record<string, Node>; anyOf?: Node[] };
    // grpc and http are nullable (anyOf object | null); handover is an optional object.
    const root = z.toJSONSchema(otlpConfigSchema, { io: 'input' }) as Node;
    assert.ok(root.description);
    for (const [block, node] of Object.entries(root.properties!)) {
      const object = node.anyOf?.find((n) => n.properties !== undefined) ?? node;
      assert.ok(object.description, `${block} is described`);
      for (const [key, field] of Object.entries(object.properties!)) assert.ok(field.description, `${block}.${key} is described`);
    }
  });
});
