import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defineExporter, defineProcessor, defineReceiver } from '../component.ts';
import { loadConfigText } from './load.ts';
import { duration, endpoint, size } from './units.ts';
import { formatProblems, validateConfig, type ComponentFactories, type ConfigProblem } from './validate.ts';

// Fakes shaped like the real components (nested blocks, unit fields, a discriminated union), so
// these tests don't depend on the real factories being written in parallel.
const notBuilt = (): never => {
  throw new Error('validation tests never create components');
};

const otlp = defineReceiver({
  type: 'otlp',
  stability: 'beta',
  description: 'fake OTLP',
  configSchema: z.strictObject({
    grpc: z.strictObject({
      endpoint: endpoint('OTLP/gRPC').default('0.0.0.0:4317'),
      max_recv_msg_size: size({ max: '64MiB' }).prefault('4MiB'),
    }).prefault({}),
    http: z.strictObject({
      endpoint: endpoint('OTLP/HTTP').default('0.0.0.0:4318'),
      timeouts: z.strictObject({ read: duration().prefault('10s') }).prefault({}),
    }).prefault({}),
  }),
  create: notBuilt,
});

const zipkin = defineReceiver({
  type: 'zipkin',
  stability: 'beta',
  description: 'fake Zipkin',
  configSchema: z.strictObject({ endpoint: endpoint('Zipkin HTTP').default('0.0.0.0:9411') }),
  create: notBuilt,
});

const batch = defineProcessor({
  type: 'batch',
  stability: 'beta',
  description: 'fake batch',
  configSchema: z.strictObject({
    send_batch_size: z.number().int().min(1).max(10_000).default(512),
    timeout: duration({ min: '1ms' }).prefault('200ms'),
  }),
  create: notBuilt,
});

const tailSampling = defineProcessor({
  type: 'tail_sampling',
  stability: 'alpha',
  description: 'fake tail sampling',
  configSchema: z.strictObject({
    decision_wait: duration().prefault('5s'),
    policies: z.array(z.discriminatedUnion('type', [
      z.strictObject({ type: z.literal('error') }),
      z.strictObject({ type: z.literal('latency'), threshold: duration() }),
    ])).default([]),
  }),
  create: notBuilt,
});

const skywalking = defineExporter({
  type: 'skywalking',
  stability: 'beta',
  description: 'fake SkyWalking',
  configSchema: z.strictObject({
    endpoint: endpoint('the OAP gRPC port'),
    token: z.string().default(''),
    retry_on_failure: z.strictObject({
      enabled: z.boolean().default(true),
      max_elapsed: duration().prefault('5m'),
    }).prefault({}),
  }),
  create: notBuilt,
});

const debug = defineExporter({
  type: 'debug',
  stability: 'stable',
  description: 'fake debug',
  configSchema: z.strictObject({
    verbosity: z.enum(['basic', 'normal', 'detailed']).default('basic'),
    port: z.union([z.string(), z.number()]).optional(),
  }),
  create: notBuilt,
});

const factories: ComponentFactories = {
  receivers: [otlp, zipkin],
  processors: [batch, tailSampling],
  exporters: [skywalking, debug],
};

/** Load + validate as the CLI does, with every problem in one list. */
function check(yaml: string, env: Record<string, string> = {}) {
  const loaded = loadConfigText(yaml, 'pipelines.yaml', env);
  const result = validateConfig(loaded.raw, factories, loaded.locate, loaded.problems);
  return { ...result, problems: [...loaded.problems, ...result.problems] };
}

function byPath(problems: readonly ConfigProblem[]): Map<string, ConfigProblem> {
  return new Map(problems.map((p) => [p.path, p]));
}

const MINIMAL = `
receivers:
  otlp:
exporters:
  debug:
pipelines:
  traces:
    receivers: [otlp]
    exporters: [debug]
`;

describe('validateConfig', () => {
  it('reports every problem in a broken config at once, each at its key path and line', () => {
    const yaml = [
      'receivers:', //                                1
      '  otlp:', //                                   2
      '    grpc:', //                                 3
      '      endpiont: 0.0.0.0:4317', //              4  unknown key, depth 3
      '      max_recv_msg_size: 4 parsecs', //        5  bad size (unit-typed field)
      '    http:', //                                 6
      '      timeouts: { read: 10s, write: 5s }', //  7  unknown key, depth 4
      '  zipkn: {}', //                               8  unknown type
      'processors:', //                               9
      '  batch:', //                                  10
      '    send_batch_size: abc', //                  11 wrong type
      '    timeout: 200', //                          12 bare number for a duration
      '  tail_sampling:', //                          13
      '    policies:', //                             14
      '      - type: eror', //                        15 bad discriminator
      'exporters:', //                                16
      '  skywalking:', //                             17
      '    endpoint: oap', //                         18 custom refinement
      '    retry_on_failure: { enabled: "yes" }', //  19 wrong type in nested block
      '  debug:', //                                  20
      '    verbosity: loud', //                       21 not in enum
      'extra: 1', //                                  22 unknown top-level key
      'pipelines:', //                                23
      '  traces:', //                                 24
      '    receivers: [otlp, zipkin]', //             25 undefined reference
      '    processors: [batch, batch]', //            26 duplicate
      '    exporters: [skywalking, logging]', //      27 undefined reference
      '  metrics:', //                                28 unsupported signal
      '    receivers: [otlp]', //                     29
      '    exporters: [debug]', //                    30
    ].join('\n');

    const { config, problems } = check(yaml);

    assert.equal(config, undefined);
    const lines = Object.fromEntries(problems.map((p) => [p.path, p.line]));
    assert.deepEqual(lines, {
      'receivers.otlp.grpc.endpiont': 4,
      'receivers.otlp.grpc.max_recv_msg_size': 5,
      'receivers.otlp.http.timeouts.write': 7,
      'receivers.zipkn': 8,
      'processors.batch.send_batch_size': 11,
      'processors.batch.timeout': 12,
      'processors.tail_sampling.policies[0].type': 15,
      'exporters.skywalking.endpoint': 18,
      'exporters.skywalking.retry_on_failure.enabled': 19,
      'exporters.debug.verbosity': 21,
      extra: 22,
      'pipelines.traces.receivers[1]': 25,
      'pipelines.traces.processors[1]': 26,
      'pipelines.traces.exporters[1]': 27,
      'pipelines.metrics': 28,
    });
    const at = byPath(problems);
    assert.equal(at.get('receivers.otlp.grpc.endpiont')?.col, 7);
    assert.equal(at.get('receivers.otlp.http.timeouts.write')?.col, 30);
    assert.equal(at.get('receivers.otlp.grpc.endpiont')?.message,
      'unknown key `endpiont` (did you mean `endpoint`?). Fix: remove it, or use one of: endpoint, max_recv_msg_size.');
    assert.equal(at.get('receivers.otlp.http.timeouts.write')?.message, 'unknown key `write`. Fix: remove it, or use one of: read.');
    assert.match(at.get('receivers.otlp.grpc.max_recv_msg_size')!.message, /^expected a size such as .* got "4 parsecs"\. Fix:/);
    assert.match(at.get('receivers.zipkn')!.message, /^unknown receiver type "zipkn" \(did you mean "zipkin"\?\); known receiver types: otlp, zipkin\. Fix: use "zipkin"\.$/);
    assert.equal(at.get('processors.batch.send_batch_size')?.message, 'expected number, got string "abc". Fix: write a number without quotes.');
    assert.equal(at.get('processors.batch.timeout')?.message, 'expected a duration such as "200ms", "10s" or "5m", got 200. Fix: write the number with its unit (ms, s, m, h).');
    assert.equal(at.get('processors.tail_sampling.policies[0].type')?.message,
      'unknown type string "eror" (did you mean "error"?). Fix: use one of: error, latency.');
    assert.match(at.get('exporters.skywalking.endpoint')!.message, /^expected "host:port" for the OAP gRPC port\. Fix:/);
    assert.equal(at.get('exporters.skywalking.retry_on_failure.enabled')?.message,
      'expected boolean, got string "yes". Fix: write true or false.');
    assert.equal(at.get('exporters.debug.verbosity')?.message,
      'string "loud" is not allowed. Fix: use one of: basic, normal, detailed.');
    assert.match(at.get('extra')!.message, /^unknown top-level key `extra`\. Fix: remove it, or use one of: receivers, processors, exporters, pipelines, telemetry, admission, workers\.$/);
    assert.match(at.get('pipelines.traces.receivers[1]')!.message, /^"zipkin" is not defined under receivers \(defined: otlp, zipkn\)\. Did you mean "zipkn"\? Fix:/);
    assert.match(at.get('pipelines.traces.processors[1]')!.message, /^"batch" is listed twice \(also at \[0\]\)\. Fix: remove one/);
    assert.equal(at.get('pipelines.traces.exporters[1]')?.message,
      '"logging" is not defined under exporters (defined: skywalking, debug). Fix: define it under exporters or remove it from the pipeline.');
    assert.match(at.get('pipelines.metrics')!.message, /^only traces pipelines are supported; "metrics" is a metrics pipeline\. Fix:/);
    for (const p of problems) assert.match(p.message, /Fix: /, `${p.path} should say how to fix it`);
  });

  it('applies defaults, parses units to ms and bytes, and freezes each component config', () => {
    const { config, problems, warnings } = check(`
receivers:
  otlp:
    grpc: { max_recv_msg_size: 16MiB }
  zipkin/edge:
processors:
  batch: { timeout: 1.5s }
exporters:
  skywalking: { endpoint: "\${SW_OAP:127.0.0.1:11800}" }
  debug: {}
pipelines:
  traces:
    receivers: [otlp]
    processors: [batch]
    exporters: [skywalking]
  traces/local:
    receivers: [otlp]
    exporters: [debug]
`);

    assert.deepEqual(problems, []);
    assert.ok(config);
    assert.deepEqual(config.receivers.get('otlp')?.config, {
      grpc: { endpoint: '0.0.0.0:4317', max_recv_msg_size: 16 * 1024 * 1024 },
      http: { endpoint: '0.0.0.0:4318', timeouts: { read: 10_000 } },
    });
    assert.deepEqual(config.processors.get('batch')?.config, { send_batch_size: 512, timeout: 1500 });
    assert.deepEqual(config.exporters.get('skywalking')?.config, {
      endpoint: '127.0.0.1:11800',
      token: '',
      retry_on_failure: { enabled: true, max_elapsed: 300_000 },
    });
    const zipkinEdge = config.receivers.get('zipkin/edge');
    assert.equal(zipkinEdge?.type, 'zipkin');
    assert.equal(zipkinEdge?.name, 'edge');
    assert.equal(zipkinEdge?.factory, zipkin);
    assert.equal(config.receivers.get('otlp')?.name, '');
    const grpc = (config.receivers.get('otlp')?.config as { grpc: { endpoint: string } }).grpc;
    assert.ok(Object.isFrozen(grpc));
    assert.throws(() => { grpc.endpoint = '0.0.0.0:1'; }, TypeError);
    assert.deepEqual([...config.pipelines.values()], [
      { id: 'traces', receivers: ['otlp'], processors: ['batch'], exporters: ['skywalking'] },
      { id: 'traces/local', receivers: ['otlp'], processors: [], exporters: ['debug'] },
    ]);
    assert.deepEqual(config.telemetry, { endpoint: 'localhost:8888', log_level: 'info', trace_view: { enabled: true, max_traces: 100, max_spans: 10_000, max_bytes: 8 * 1024 * 1024, max_spans_per_trace: 500 } });
    assert.deepEqual(warnings, ['receivers.zipkin/edge is defined but used by no pipeline; it will not be started.']);
  });

  it('suggests the closest known type and keeps the instance name', () => {
    const { problems } = check(MINIMAL.replace('  otlp:\n', '  otlp:\n  zipkim/edge: {}\n  kafka: {}\n'));

    assert.equal(byPath(problems).get('receivers.zipkim/edge')?.message,
      'unknown receiver type "zipkim" (did you mean "zipkin"?); known receiver types: otlp, zipkin. Fix: use "zipkin/edge".');
    assert.equal(byPath(problems).get('receivers.kafka')?.message,
      'unknown receiver type "kafka"; known receiver types: otlp, zipkin. Fix: use one of the known types.');
  });

  it('rejects ids that are not type or type/name in lower_snake_case', () => {
    const { problems } = check(MINIMAL.replace('  otlp:\n', '  otlp:\n  OTLP-Edge: {}\n'));

    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.path, 'receivers.OTLP-Edge');
    assert.match(problems[0]!.message, /not a valid receiver id; .* Fix: rename it e\.g\. "otlp_edge"\.$/);
  });

  it('reports unknown keys at every depth, including inside list items', () => {
    const { problems } = check(`
receivers:
  otlp:
    grpcc: {}
    http: { timeouts: { reed: 1s } }
processors:
  tail_sampling:
    policies: [{ type: latency, threshold: 1s, treshold: 2s }]
exporters:
  debug: { verbosity: basic, colour: true }
pipelines:
  traces: { receivers: [otlp], processors: [tail_sampling], exporters: [debug], exporter: [debug] }
telemetry: { log_levle: debug }
`);

    assert.deepEqual(problems.map((p) => p.path).sort(), [
      'exporters.debug.colour',
      'pipelines.traces.exporter',
      'processors.tail_sampling.policies[0].treshold',
      'receivers.otlp.grpcc',
      'receivers.otlp.http.timeouts.reed',
      'telemetry.log_levle',
    ]);
    const at = byPath(problems);
    assert.match(at.get('receivers.otlp.grpcc')!.message, /did you mean `grpc`\?.*use one of: grpc, http\.$/);
    // The union member that fits the item (type: latency) supplies the allowed keys.
    assert.equal(at.get('processors.tail_sampling.policies[0].treshold')?.message,
      'unknown key `treshold` (did you mean `threshold`?). Fix: remove it, or use one of: type, threshold.');
    assert.match(at.get('telemetry.log_levle')!.message, /did you mean `log_level`\?.*use one of: endpoint, log_level, tls, trace_view\.$/);
    assert.match(at.get('pipelines.traces.exporter')!.message, /did you mean `exporters`\?/);
    assert.equal(at.get('receivers.otlp.http.timeouts.reed')?.line, 5);
  });

  it('checks pipeline references against what each section defines', () => {
    const { problems } = check(`
receivers:
  otlp:
exporters:
  debug:
pipelines:
  traces:
    receivers: otlp
    exporters: [skywalking]
  traces/b:
    processors: [batch, 7]
    exporters: []
  logs/x:
    receivers: [otlp]
    exporters: [debug]
`);

    const at = byPath(problems);
    assert.equal(at.get('pipelines.traces.exporters[0]')?.message,
      '"skywalking" is not defined under exporters (defined: debug). Fix: define it under exporters or remove it from the pipeline.');
    assert.equal(at.get('pipelines.traces.receivers')?.message,
      'expected a list of receivers ids, got string "otlp". Fix: write it as a list: [otlp].');
    assert.equal(at.get('pipelines.traces/b.receivers')?.message,
      'no receivers listed; a pipeline needs at least one. Fix: add receivers: [otlp].');
    // A missing key points at the pipeline that lacks it.
    assert.equal(at.get('pipelines.traces/b.receivers')?.line, 10);
    assert.match(at.get('pipelines.traces/b.processors[0]')!.message, /^"batch" is not defined under processors \(defined: none\)/);
    assert.match(at.get('pipelines.traces/b.processors[1]')!.message, /^expected the id of one of the processors, got number 7/);
    assert.match(at.get('pipelines.traces/b.exporters')!.message, /^the list is empty/);
    assert.match(at.get('pipelines.logs/x')!.message, /^only traces pipelines are supported; "logs\/x" is a logs pipeline/);
    assert.equal(problems.length, 7);
  });

  it('requires at least one pipeline and suggests one from what is defined', () => {
    const { problems, config } = check('receivers: { zipkin: {} }\nexporters: { debug: {} }\n');

    assert.equal(config, undefined);
    assert.deepEqual(problems.map((p) => [p.path, p.message]), [[
      'pipelines',
      'no pipelines are defined, so nothing would run. Fix: add one, e.g. pipelines: { traces: { receivers: [zipkin], exporters: [debug] } }.',
    ]]);
  });

  it('treats an empty component block as all defaults', () => {
    const { config, problems } = check(MINIMAL);

    assert.deepEqual(problems, []);
    assert.deepEqual(config?.exporters.get('debug')?.config, { verbosity: 'basic' });
  });

  it('reports a missing required key, too-small values and unions', () => {
    const { problems } = check(`
receivers: { otlp: { grpc: { max_recv_msg_size: 1GiB } } }
processors: { batch: { send_batch_size: 0, timeout: 0ms } }
exporters: { skywalking: { token: 12345 }, debug: { port: true } }
pipelines: { traces: { receivers: [otlp], processors: [batch], exporters: [skywalking, debug] } }
`);

    assert.deepEqual(Object.fromEntries(problems.map((p) => [p.path, p.message])), {
      'receivers.otlp.grpc.max_recv_msg_size': '1GiB is above the maximum 64MiB. Fix: use at most 64MiB.',
      'processors.batch.send_batch_size': 'must be at least 1, got number 0. Fix: use a value at least 1.',
      'processors.batch.timeout': '0ms is below the minimum 1ms. Fix: use at least 1ms.',
      'exporters.skywalking.endpoint': '`endpoint` is required but missing (expected string). Fix: add it.',
      'exporters.skywalking.token': 'expected string, got number 12345. Fix: quote it: "12345".',
      'exporters.debug.port': 'expected string or number, got boolean true. Fix: write string or number.',
    });
    // The missing key points at the block it belongs in.
    assert.equal(byPath(problems).get('exporters.skywalking.endpoint')?.line, 4);
  });

  it('validates the telemetry block and lets null turn the endpoint off', () => {
    const ok = check(`${MINIMAL}telemetry: { endpoint: null, log_level: debug }\n`);
    assert.deepEqual(ok.config?.telemetry, { endpoint: null, log_level: 'debug', trace_view: { enabled: true, max_traces: 100, max_spans: 10_000, max_bytes: 8 * 1024 * 1024, max_spans_per_trace: 500 } });

    const bad = check(`${MINIMAL}telemetry: { endpoint: "8888", log_level: verbose }\n`);
    assert.deepEqual(bad.problems.map((p) => p.path), ['telemetry.endpoint', 'telemetry.log_level']);
    assert.match(bad.problems[1]!.message, /^string "verbose" is not allowed\. Fix: use one of: trace, debug, info, warn, error, fatal, silent\.$/);
  });

  it('reports an unset variable once, not again as an invalid value', () => {
    const { problems } = check(`
receivers: { otlp: }
exporters:
  skywalking:
    endpoint: \${SW_OAP}
pipelines: { traces: { receivers: [otlp], exporters: [skywalking] } }
`);

    assert.deepEqual(problems, [{
      path: 'exporters.skywalking.endpoint',
      message: 'environment variable SW_OAP is not set. Fix: export SW_OAP or give a default, e.g. ${SW_OAP:<value>}.',
      line: 5,
      col: 5,
    }]);
  });

  it('rejects a document that is not a mapping', () => {
    assert.match(validateConfig(['a'], factories).problems[0]!.message, /^expected a mapping with the keys receivers, .* got a list of 1 item\./);
    assert.match(validateConfig(undefined, factories).problems[0]!.message, /^the config is empty\./);
    assert.match(validateConfig({ receivers: [] }, factories).problems[0]!.message, /^expected a mapping of receiver ids/);
  });
});

describe('formatProblems', () => {
  it('prints one problem per line in file order and a summary', () => {
    const text = formatProblems('pipelines.yaml', [
      { path: 'pipelines', message: 'no pipelines are defined. Fix: add one.' },
      { path: 'exporters.skywalking.endpoint', message: 'expected "host:port". Fix: add the port.', line: 12, col: 5 },
      { path: 'receivers.otlp', message: 'bad. Fix: fix it.', line: 3, col: 3 },
      { path: '', message: 'YAML syntax error. Fix: indent.', line: 7, col: 1 },
    ]);

    assert.equal(text, [
      'pipelines.yaml:3:3 receivers.otlp: bad. Fix: fix it.',
      'pipelines.yaml:7:1: YAML syntax error. Fix: indent.',
      'pipelines.yaml:12:5 exporters.skywalking.endpoint: expected "host:port". Fix: add the port.',
      'pipelines.yaml pipelines: no pipelines are defined. Fix: add one.',
      '4 problems in pipelines.yaml; nothing was started.',
    ].join('\n'));
  });

  it('says "1 problem" for one', () => {
    assert.equal(formatProblems('p.yaml', [{ path: 'x', message: 'm' }]).split('\n').at(-1), '1 problem in p.yaml; nothing was started.');
  });
});
