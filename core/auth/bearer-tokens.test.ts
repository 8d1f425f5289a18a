import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../telemetry/logger.ts';
import { bearerAuthSchema, BearerTokens } from './bearer-tokens.ts';

const logger = createLogger({ level: 'silent' });

describe('BearerTokens', () => {
  it('accepts exactly the configured tokens under the Bearer scheme', () => {
    const tokens = new BearerTokens(bearerAuthSchema.parse({ tokens: ['alpha-token', 'beta-token'] }), logger);
    assert.equal(tokens.accepts('Bearer alpha-token'), true);
    assert.equal(tokens.accepts('bearer  beta-token '), true);
    for (const bad of [undefined, '', 'Bearer', 'Bearer alpha', 'Bearer alpha-token-x', 'Basic alpha-token', 'alpha-token']) {
      assert.equal(tokens.accepts(bad), false, String(bad));
    }
    tokens.stop();
  });

  it('reads tokens_file, ignores comments and blank lines, and picks up a changed file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'skb-tokens-')), 'tokens');
    writeFileSync(file, '# agents\nfirst-token\n\n');
    const tokens = new BearerTokens(bearerAuthSchema.parse({ tokens_file: file, reload_interval: '1s' }), logger);
    assert.equal(tokens.accepts('Bearer first-token'), true);
    assert.equal(tokens.accepts('Bearer # agents'), false);
    writeFileSync(file, 'second-token\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    assert.equal(tokens.accepts('Bearer second-token'), true);
    assert.equal(tokens.accepts('Bearer first-token'), false, 'a removed token stops working');
    tokens.stop();
  });

  it('needs at least one token source, and fails at start on an unreadable file', () => {
    assert.equal(bearerAuthSchema.safeParse({}).success, false);
    assert.throws(() => new BearerTokens(bearerAuthSchema.parse({ tokens_file: '/nonexistent/tokens' }), logger), /Cannot read auth.tokens_file \/nonexistent\/tokens/);
  });
});
