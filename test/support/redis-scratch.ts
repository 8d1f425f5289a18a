/**
 * A fresh key prefix on the local Redis (127.0.0.1:6379, or SKYBRIDGE_TEST_REDIS_URL) for one test,
 * and the clean-up that deletes every key under it.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.SKYBRIDGE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RedisScratch {
  url: string;
  /** Unique per call: `skybridge-test-<hex>`. */
  prefix: string;
  /** A plain connection for assertions. */
  redis: Redis;
  /** Keys under the prefix. */
  keys(): Promise<string[]>;
  /** Delete every key under the prefix and disconnect. */
  cleanup(): Promise<void>;
}

export async function redisScratch(): Promise<RedisScratch> {
  const prefix = `skybridge-test-${randomBytes(6).toString('hex')}`;
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  const keys = async (): Promise<string[]> => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found;
  };
  return {
    url: TEST_REDIS_URL,
    prefix,
    redis,
    keys,
    async cleanup() {
      const found = await keys();
      if (found.length > 0) await redis.del(...found);
      redis.disconnect();
    },
  };
}
