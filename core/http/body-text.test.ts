import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyText } from './body-text.ts';

describe('bodyText', () => {
  it('reads ASCII, UTF-8 and invalid UTF-8 exactly as a UTF-8 decode does', () => {
    const bodies = [
      Buffer.from('[{"traceId":"abc","name":"GET /api"}]'),
      Buffer.from('[{"name":"café ☕ 名前"}]'),
      Buffer.from([0x5b, 0x22, 0xff, 0xc3, 0x22, 0x5d]),
      Buffer.alloc(0),
    ];
    for (const body of bodies) {
      assert.equal(bodyText(body), body.toString('utf8'));
      // A view into a larger buffer, as request bodies are.
      const framed = Buffer.concat([Buffer.from('xx'), body, Buffer.from('yy')]);
      assert.equal(bodyText(new Uint8Array(framed.buffer, framed.byteOffset + 2, body.length)), body.toString('utf8'));
    }
  });
});
