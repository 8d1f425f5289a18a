import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, loadConfigText } from './load.ts';

const TEXT = [
  '# skybridge', //                                         1
  'receivers:', //                                          2
  '  otlp:', //                                             3
  '    grpc:', //                                           4
  '      endpoint: "${OTLP_GRPC:0.0.0.0:4317}"', //         5
  'exporters:', //                                          6
  '  skywalking: { endpoint: "${SW_OAP}", port: "${P:1}" }', // 7
  'pipelines:', //                                          8
  '  traces:', //                                           9
  '    receivers:', //                                      10
  '      - otlp', //                                        11
  '    exporters: [skywalking]', //                         12
].join('\n');

describe('loadConfigText', () => {
  it('parses YAML and substitutes the environment', () => {
    const { raw, problems } = loadConfigText(TEXT, 'pipelines.yaml', { SW_OAP: 'oap:11800' });

    assert.deepEqual(problems, []);
    assert.deepEqual(raw, {
      receivers: { otlp: { grpc: { endpoint: '0.0.0.0:4317' } } },
      exporters: { skywalking: { endpoint: 'oap:11800', port: 1 } },
      pipelines: { traces: { receivers: ['otlp'], exporters: ['skywalking'] } },
    });
  });

  it('locates keys, list items and flow-mapping keys, falling back to the nearest ancestor', () => {
    const { locate } = loadConfigText(TEXT, 'pipelines.yaml', {});

    assert.deepEqual(locate(['receivers', 'otlp', 'grpc', 'endpoint']), { line: 5, col: 7 });
    assert.deepEqual(locate(['exporters', 'skywalking', 'port']), { line: 7, col: 40 });
    assert.deepEqual(locate(['pipelines', 'traces', 'receivers', 0]), { line: 11, col: 9 });
    assert.deepEqual(locate(['pipelines', 'traces', 'exporters', 0]), { line: 12, col: 17 });
    assert.deepEqual(locate(['receivers', 'otlp', 'http', 'endpoint']), { line: 3, col: 3 });
    assert.deepEqual(locate(['pipelines', 'traces', 'receivers', 5]), { line: 10, col: 5 });
  });

  it('reports an unset variable with its line', () => {
    const { problems } = loadConfigText(TEXT, 'pipelines.yaml', {});

    assert.deepEqual(problems, [{
      path: 'exporters.skywalking.endpoint',
      message: 'environment variable SW_OAP is not set. Fix: export SW_OAP or give a default, e.g. ${SW_OAP:<value>}.',
      line: 7,
      col: 17,
    }]);
  });

  it('turns YAML syntax errors into problems with line and column', () => {
    const { raw, problems } = loadConfigText('receivers:\n  otlp: {\nexporters:\n  debug: {}\n', 'pipelines.yaml', {});

    assert.equal(raw, undefined);
    assert.ok(problems.length >= 1);
    for (const p of problems) {
      assert.equal(p.path, '');
      assert.match(p.message, /^YAML syntax error: .* Fix: /);
      assert.equal(typeof p.line, 'number');
      assert.equal(typeof p.col, 'number');
    }
  });

  it('reports only the first syntax error, with a hint for an unquoted reference in a flow mapping', () => {
    const { problems } = loadConfigText('exporters:\n  skywalking: { endpoint: ${SW_OAP:oap:11800} }\npipelines: {}\n', 'pipelines.yaml', {});

    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.line, 2);
    assert.match(problems[0]!.message, /Fix: quote values that contain \$\{\.\.\.\} inside \{ \}, e\.g\. endpoint: "\$\{SW_OAP:127\.0\.0\.1:11800\}"\.$/);
  });

  it('rejects a key written twice in one mapping', () => {
    const { problems } = loadConfigText('exporters:\n  debug: {}\n  debug: {}\n', 'pipelines.yaml', {});

    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.line, 3);
    assert.match(problems[0]!.message, /unique.*Fix: keep only one/);
  });

  it('reports an empty file or one with only comments', () => {
    for (const text of ['', '   \n', '# nothing yet\n']) {
      const { raw, problems } = loadConfigText(text, 'pipelines.yaml', {});
      assert.equal(raw, undefined);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!.message, /^pipelines\.yaml is empty\. Fix: define receivers, exporters and pipelines/);
    }
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'skybridge-load-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and loads a file', () => {
    const file = join(dir, 'pipelines.yaml');
    writeFileSync(file, 'exporters:\n  debug: { verbosity: "${V:basic}" }\n');

    const { raw, problems, locate } = loadConfigFile(file, {});

    assert.deepEqual(problems, []);
    assert.deepEqual(raw, { exporters: { debug: { verbosity: 'basic' } } });
    assert.deepEqual(locate(['exporters', 'debug', 'verbosity']), { line: 2, col: 12 });
  });

  it('says a missing file is missing and how to point at the right one', () => {
    const missing = join(dir, 'nope.yaml');
    const { raw, problems, locate } = loadConfigFile(missing, {});

    assert.equal(raw, undefined);
    assert.deepEqual(problems, [{
      path: '',
      message: `config file ${missing} does not exist. Fix: create it, or point at the right one with --config path/to/pipelines.yaml.`,
    }]);
    assert.equal(locate(['receivers']), undefined);
  });

  it('says a directory is not a config file', () => {
    const { problems } = loadConfigFile(dir, {});

    assert.match(problems[0]!.message, /is a directory, not a config file\. Fix: pass the file itself/);
  });
});
