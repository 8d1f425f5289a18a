import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { skywalkingConfigSchema } from './config.ts';

describe('skywalking exporter config', () => {
  it('sends with 4 consumers and segments up to 48 MiB by default', () => {
    const config = skywalkingConfigSchema.parse({});
    assert.equal(config.sending_queue.num_consumers, 4);
    assert.equal(config.sending_queue.queue_size, 10_000);
    assert.equal(config.max_segment_size, 48 * 1024 * 1024);
  });

  it('takes num_consumers from 1 to 64 and max_segment_size with its unit', () => {
    assert.equal(skywalkingConfigSchema.parse({ sending_queue: { num_consumers: 1 } }).sending_queue.num_consumers, 1);
    assert.equal(skywalkingConfigSchema.parse({ max_segment_size: '48MiB' }).max_segment_size, 48 * 1024 * 1024);
    assert.throws(() => skywalkingConfigSchema.parse({ sending_queue: { num_consumers: 0 } }), /num_consumers/);
    assert.throws(() => skywalkingConfigSchema.parse({ sending_queue: { num_consumers: 65 } }), /num_consumers/);
    assert.throws(() => skywalkingConfigSchema.parse({ max_segment_size: 4194304 }), /unit/);
  });
});
