/**
 * The fuzzing harness: one skybridge with every receiver, in this process, fed mutations of the
 * real clients' requests (seeds.ts, mutators.ts) over real sockets. A case fails when the answer to
 * garbage is not the sender's fault (anything but 2xx, 400, 413, 415, 431, or 429 with Retry-After
 * when the pipeline is full and admission refuses before decoding; gRPC OK, INVALID_ARGUMENT or
 * RESOURCE_EXHAUSTED without a retry hint), when no answer comes within the timeout (a hang), or
 * when the process stops serving: after each target a valid seed must still be accepted. Memory is
 * checked over the whole run. `npm run fuzz` runs it by hand, longer (run.ts); the test suite runs
 * a short fixed-seed budget (fuzz.test.ts).
 */
import { createSocket } from 'node:dgram';
import { Client, credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { components } from '../../components.ts';
import { startCollector, type RunningCollector } from '../../core/collector.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { freePort } from '../support/skybridge-process.ts';
import { makeSeeds, type Seeds } from './seeds.ts';
import { mutateBytes, mutateHeader, mutateJson, mutateProtobuf, Rng } from './mutators.ts';

const ANSWER_TIMEOUT_MS = 10_000;
// 431: Node's HTTP server refusing headers over its 16 KiB limit, before skybridge sees the request.
const SENDER_FAULT_HTTP = new Set([400, 413, 415, 431]);
const SENDER_FAULT_GRPC = new Set([GrpcStatus.OK, GrpcStatus.INVALID_ARGUMENT, GrpcStatus.RESOURCE_EXHAUSTED]);

export interface FuzzOptions {
  /** Mutations per target. */
  cases: number;
  seed: number;
  /** Only these targets (names as in the report). */
  only?: readonly string[];
  onProgress?: (line: string) => void;
}

export interface TargetReport {
  name: string;
  cases: number;
  /** Answers seen, by status (HTTP code, gRPC status name, `sent` for UDP). */
  answers: Record<string, number>;
  findings: string[];
  ms: number;
}

export interface FuzzReport {
  targets: TargetReport[];
  rssBeforeMiB: number;
  rssPeakMiB: number;
}

type Mutator = (rng: Rng, input: Buffer, others: readonly Buffer[]) => Buffer;

interface Target {
  name: string;
  seeds: Buffer[];
  mutate: Mutator;
  /**
   * Sends one input; resolves with the answer's name, or a finding when the answer is wrong. `rng`
   * mutates what else the request carries (headers); without it the request goes as it is.
   */
  send(input: Buffer, rng?: Rng): Promise<{ answer: string; finding?: string }>;
}

interface Ports {
  otlpHttp: number;
  otlpGrpc: number;
  zipkin: number;
  jaegerHttp: number;
  jaegerGrpc: number;
  jaegerCompact: number;
  jaegerBinary: number;
  w3c: number;
}

async function startSkybridge(): Promise<{ collector: RunningCollector; ports: Ports }> {
  const ports: Ports = {
    otlpHttp: await freePort(), otlpGrpc: await freePort(), zipkin: await freePort(), jaegerHttp: await freePort(),
    jaegerGrpc: await freePort(), jaegerCompact: await freePort(), jaegerBinary: await freePort(), w3c: await freePort(),
  };
  const yaml = `
receivers:
  otlp:
    grpc: { endpoint: "127.0.0.1:${ports.otlpGrpc}" }
    http: { endpoint: "127.0.0.1:${ports.otlpHttp}" }
  zipkin: { endpoint: "127.0.0.1:${ports.zipkin}" }
  jaeger:
    protocols:
      thrift_compact: { endpoint: "127.0.0.1:${ports.jaegerCompact}" }
      thrift_binary: { endpoint: "127.0.0.1:${ports.jaegerBinary}" }
      thrift_http: { endpoint: "127.0.0.1:${ports.jaegerHttp}" }
      grpc: { endpoint: "127.0.0.1:${ports.jaegerGrpc}" }
  w3c: { endpoint: "127.0.0.1:${ports.w3c}" }
exporters:
  debug: { output: /dev/null }
pipelines:
  traces:
    receivers: [otlp, zipkin, jaeger, w3c]
    exporters: [debug]
telemetry: { endpoint: null, log_level: silent }
`;
  const collector = await startCollector({ text: yaml, name: 'fuzz.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
  return { collector, ports };
}

async function httpPost(port: number, path: string, body: Buffer, headers: Record<string, string>): Promise<{ answer: string; finding?: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers, body: new Uint8Array(body), signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
    const text = await res.text();
    // 429 with Retry-After is admission refusing before it decodes anything (an exporter's output
    // is full): about capacity, not the content, and what the sender must hear then. Counted apart.
    const backpressure = res.status === 429 && res.headers.get('retry-after') !== null;
    const ok = (res.status >= 200 && res.status < 300) || SENDER_FAULT_HTTP.has(res.status) || backpressure;
    const leak = /\bat [\w.<>]+ \(|node:internal|\.ts:\d+/.test(text) ? 'a stack trace in the answer' : undefined;
    return { answer: backpressure ? '429 backpressure' : String(res.status), ...(!ok ? { finding: `answered ${res.status}: ${text.slice(0, 200)}` } : leak ? { finding: leak } : {}) };
  } catch (err) {
    return { answer: 'error', finding: `no answer: ${(err as Error).message}` };
  }
}

function grpcCall(client: Client, path: string, body: Buffer): Promise<{ answer: string; finding?: string }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, new Metadata(), { deadline: Date.now() + ANSWER_TIMEOUT_MS }, (err: ServiceError | null) => {
      const code = err ? err.code : GrpcStatus.OK;
      const name = GrpcStatus[code] ?? String(code);
      const retryHint = err?.metadata?.get('grpc-status-details-bin').length ? ' with a retry hint' : '';
      if (!SENDER_FAULT_GRPC.has(code) || retryHint) resolve({ answer: name, finding: `answered ${name}${retryHint}: ${err?.details?.slice(0, 200)}` });
      else resolve({ answer: name });
    });
  });
}

function targetsFor(seeds: Seeds, ports: Ports, clients: { otlp: Client; jaeger: Client }, udpSend: (port: number, b: Buffer) => Promise<void>): Target[] {
  const json = { 'Content-Type': 'application/json' };
  return [
    { name: 'otlp/http protobuf', seeds: seeds.otlpProtobuf, mutate: mutateProtobuf, send: (b) => httpPost(ports.otlpHttp, '/v1/traces', b, { 'Content-Type': 'application/x-protobuf' }) },
    { name: 'otlp/http json', seeds: seeds.otlpJson, mutate: mutateJson, send: (b) => httpPost(ports.otlpHttp, '/v1/traces', b, json) },
    { name: 'otlp/grpc', seeds: seeds.otlpProtobuf, mutate: mutateProtobuf, send: (b) => grpcCall(clients.otlp, '/opentelemetry.proto.collector.trace.v1.TraceService/Export', b) },
    { name: 'zipkin json v2', seeds: seeds.zipkinV2, mutate: mutateJson, send: (b) => httpPost(ports.zipkin, '/api/v2/spans', b, json) },
    { name: 'zipkin json v1', seeds: seeds.zipkinV1, mutate: mutateJson, send: (b) => httpPost(ports.zipkin, '/api/v1/spans', b, json) },
    { name: 'zipkin proto3', seeds: seeds.zipkinProto3, mutate: mutateProtobuf, send: (b) => httpPost(ports.zipkin, '/api/v2/spans', b, { 'Content-Type': 'application/x-protobuf' }) },
    { name: 'zipkin thrift', seeds: seeds.zipkinThrift, mutate: mutateBytes, send: (b) => httpPost(ports.zipkin, '/api/v1/spans', b, { 'Content-Type': 'application/x-thrift' }) },
    { name: 'jaeger thrift http', seeds: seeds.jaegerThriftHttp, mutate: mutateBytes, send: (b) => httpPost(ports.jaegerHttp, '/api/traces', b, { 'Content-Type': 'application/x-thrift' }) },
    { name: 'jaeger grpc', seeds: seeds.jaegerGrpc, mutate: mutateProtobuf, send: (b) => grpcCall(clients.jaeger, '/jaeger.api_v2.CollectorService/PostSpans', b) },
    { name: 'jaeger udp compact', seeds: seeds.jaegerCompact, mutate: mutateBytes, send: async (b) => (await udpSend(ports.jaegerCompact, b.subarray(0, 65_000)), { answer: 'sent' }) },
    { name: 'jaeger udp binary', seeds: seeds.jaegerBinaryUdp, mutate: mutateBytes, send: async (b) => (await udpSend(ports.jaegerBinary, b.subarray(0, 65_000)), { answer: 'sent' }) },
    {
      name: 'w3c body and headers',
      seeds: seeds.w3cBody,
      mutate: mutateJson,
      send: (b, rng) => {
        const headers: Record<string, string> = { ...json, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', baggage: 'tenant=acme,user=a%20b', sw8: '1-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-MWFiYw==-3-c2Vydmlj-aW5zdGFuY2U=-L2NhcnQ=-ZWRnZTo4MA==' };
        if (rng) for (const name of Object.keys(headers)) if (name !== 'Content-Type' && rng.int(3) === 0) headers[name] = mutateHeader(rng, headers[name]!);
        return httpPost(ports.w3c, '/v1/w3c/spans', b, headers);
      },
    },
  ];
}

function rssMiB(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seeds = await makeSeeds();
  const { collector, ports } = await startSkybridge();
  const otlp = new Client(`127.0.0.1:${ports.otlpGrpc}`, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
  const jaeger = new Client(`127.0.0.1:${ports.jaegerGrpc}`, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
  const udp = createSocket('udp4');
  const udpSend = (port: number, b: Buffer) => new Promise<void>((resolve) => udp.send(b, port, '127.0.0.1', () => resolve()));
  const rssBeforeMiB = rssMiB();
  let rssPeakMiB = rssBeforeMiB;
  const reports: TargetReport[] = [];
  try {
    for (const target of targetsFor(seeds, ports, { otlp, jaeger }, udpSend)) {
      if (options.only && !options.only.includes(target.name)) continue;
      const rng = new Rng(options.seed ^ hash(target.name));
      const report: TargetReport = { name: target.name, cases: 0, answers: {}, findings: [], ms: 0 };
      const started = Date.now();
      for (let i = 0; i < options.cases; i++) {
        const input = target.mutate(rng, rng.pick(target.seeds), target.seeds);
        const { answer, finding } = await target.send(input, rng);
        report.cases++;
        report.answers[answer] = (report.answers[answer] ?? 0) + 1;
        if (finding && report.findings.length < 20) report.findings.push(`case ${i} (${input.length} bytes, first 32: ${input.subarray(0, 32).toString('hex')}): ${finding}`);
        if (i % 50 === 0) rssPeakMiB = Math.max(rssPeakMiB, rssMiB());
      }
      // Still serving: the valid seed is accepted.
      const check = await target.send(target.seeds[0]!);
      if (check.finding || !/^(2\d\d|OK|sent)$/.test(check.answer)) report.findings.push(`after the run, a valid request was answered ${check.answer}${check.finding ? `: ${check.finding}` : ''}`);
      report.ms = Date.now() - started;
      reports.push(report);
      options.onProgress?.(`${target.name}: ${report.cases} cases in ${report.ms} ms, ${JSON.stringify(report.answers)}, ${report.findings.length} findings`);
    }
    // The UDP receivers never answer: they must have gone on decoding (the valid seeds were accepted).
    const metrics = await collector.metricsText();
    for (const transport of ['thrift_compact', 'thrift_binary']) {
      if (options.only && !options.only.some((t) => t.includes(transport === 'thrift_compact' ? 'compact' : 'binary'))) continue;
      const accepted = new RegExp(`skybridge_receiver_accepted_spans_total\\{component="jaeger",transport="${transport}"\\} (\\d+)`).exec(metrics);
      const report = reports.find((r) => r.name === (transport === 'thrift_compact' ? 'jaeger udp compact' : 'jaeger udp binary'));
      if (report && !(accepted && Number(accepted[1]) > 0)) report.findings.push(`no span accepted over ${transport}: the receiver stopped decoding`);
    }
  } finally {
    otlp.close();
    jaeger.close();
    udp.close();
    await collector.shutdown(5_000);
  }
  return { targets: reports, rssBeforeMiB, rssPeakMiB: Math.max(rssPeakMiB, rssMiB()) };
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
