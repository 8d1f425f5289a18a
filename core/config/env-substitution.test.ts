import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { substituteEnv } from './env-substitution.ts';

const sub = (value: unknown, env: Record<string, string> = {}) => substituteEnv(value, env);

describe('substituteEnv', () => {
  it('takes everything after the first colon as the default, colons included', () => {
    const { value, problems } = sub({ endpoint: '${SW_OAP:127.0.0.1:11800}' });

    assert.deepEqual(value, { endpoint: '127.0.0.1:11800' });
    assert.deepEqual(problems, []);
  });

  it('prefers the variable over the default, and counts a variable set to "" as set', () => {
    const env = { SW_OAP: 'oap:11800', EMPTY: '' };

    assert.deepEqual(sub(['${SW_OAP:127.0.0.1:11800}', '${EMPTY:fallback}', '${SW_OAP}'], env).value, ['oap:11800', '', 'oap:11800']);
  });

  it('gives ${VAR:} an empty default that stays a string', () => {
    assert.deepEqual(sub({ token: '${SW_AGENT_AUTHENTICATION:}' }).value, { token: '' });
  });

  it('keeps numbers and booleans typed when the whole value is one reference', () => {
    const { value } = sub({ port: '${PORT:4317}', ratio: '${R:0.25}', insecure: '${TLS_OFF:false}', name: '${N:abc}', nothing: '${X:null}' }, { TLS_OFF: 'true' });

    assert.deepEqual(value, { port: 4317, ratio: 0.25, insecure: true, name: 'abc', nothing: 'null' });
  });

  it('interpolates references inside longer text as strings', () => {
    const { value } = sub({ endpoint: '${HOST:localhost}:${PORT:4317}', url: 'http://${HOST}/v1' }, { HOST: 'collector' });

    assert.deepEqual(value, { endpoint: 'collector:4317', url: 'http://collector/v1' });
  });

  it('turns $${ into a literal ${ without reading the variable', () => {
    const { value, problems } = sub({ a: '$${HOME}', b: 'cost: $${X:1} and ${Y:2}' }, { HOME: '/root' });

    assert.deepEqual(value, { a: '${HOME}', b: 'cost: ${X:1} and 2' });
    assert.deepEqual(problems, []);
  });

  it('reports an unset variable without a default at its key path and leaves the value as written', () => {
    const { value, problems } = sub({ exporters: { skywalking: { endpoint: '${SW_OAP}' } }, pipelines: { traces: { receivers: ['${R}'] } } });

    assert.deepEqual(value, { exporters: { skywalking: { endpoint: '${SW_OAP}' } }, pipelines: { traces: { receivers: ['${R}'] } } });
    assert.deepEqual(problems.map((p) => [p.path, p.message]), [
      ['exporters.skywalking.endpoint', 'environment variable SW_OAP is not set. Fix: export SW_OAP or give a default, e.g. ${SW_OAP:<value>}.'],
      ['pipelines.traces.receivers[0]', 'environment variable R is not set. Fix: export R or give a default, e.g. ${R:<value>}.'],
    ]);
  });

  it('never substitutes keys and leaves non-string values alone', () => {
    const { value } = sub({ '${KEY}': 1, n: 2, b: false, z: null }, { KEY: 'k' });

    assert.deepEqual(value, { '${KEY}': 1, n: 2, b: false, z: null });
  });

  it('reports malformed references', () => {
    const { problems } = sub({ a: '${UNCLOSED', b: '${1BAD}', c: '${A:${B}}' });

    assert.deepEqual(problems.map((p) => p.path), ['a', 'b', 'c']);
    assert.match(problems[0]!.message, /^unterminated variable reference .* Fix:/);
    assert.match(problems[1]!.message, /is not a variable name\. Fix:/);
    assert.match(problems[2]!.message, /nests a reference inside a default, which is not supported\. Fix:/);
  });

  it('reads process.env when no environment is given', () => {
    process.env.SKYBRIDGE_TEST_ENV_SUBST = '9411';
    try {
      assert.deepEqual(substituteEnv({ port: '${SKYBRIDGE_TEST_ENV_SUBST}' }).value, { port: 9411 });
    } finally {
      delete process.env.SKYBRIDGE_TEST_ENV_SUBST;
    }
  });

  it('does not change the input', () => {
    const input = { a: '${A:1}' };
    sub(input);
    assert.deepEqual(input, { a: '${A:1}' });
  });
});
