// Regression guard: an error code added to core/errors.ts without a row in docs/errors.md (or a row
// left behind after a code was removed) fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

describe('docs/errors.md', () => {
  it('documents exactly the error codes core/errors.ts defines', () => {
    const source = readFileSync(new URL('../../core/errors.ts', import.meta.url), 'utf8');
    const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const union = /export type ErrorCode =([^;]+);/.exec(source)?.[1] ?? '';
    const defined = [...union.matchAll(/'(SKB_ERR_[A-Z_]+)'/g)].map((m) => m[1]).sort();
    const documented = [...docs.matchAll(/^\| `(SKB_ERR_[A-Z_]+)`/gm)].map((m) => m[1]).sort();
    assert.ok(defined.length > 0);
    assert.deepEqual(documented, defined);
  });
});
