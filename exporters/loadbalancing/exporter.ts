/**
 * The agent side of an agent → gateway deployment without Kafka: every span goes over OTLP/gRPC to
 * the gateway that owns its trace id on a consistent-hash ring (hash-ring.ts), so a trace's spans
 * meet on one gateway even when they reach different agents.
 *
 * Ack point: `consume` resolves once every gateway it sent to answered OK, so the sender is told
 * "OK" only when the spans are on their gateway. Nothing is held here between tries; when no
 * gateway takes them within `protocol.otlp.timeout`, the sender gets a retryable error and resends.
 *
 * Failures: a call that fails for the connection's sake (unreachable, deadline) counts against the
 * gateway; after `eject_after_failures` in a row it leaves the ring, its traces move to the next
 * gateway on the ring, and it is probed every `probe_interval` until it answers and rejoins. A
 * gateway that answers RESOURCE_EXHAUSTED is full, not gone: the sender is refused at once with
 * the same retryable status. INVALID_ARGUMENT means the spans are bad: the sender gets it too.
 *
 * Ring changes (gateways added or removed by DNS, ejected or rejoining): a trace this agent already
 * sent keeps its gateway while that gateway is in the ring, until no span of it was sent for
 * `sticky_traces.ttl`; new traces follow the new ring. That keeps traces in flight whole when all
 * of a trace's spans pass through one agent. README.md says what it does not cover yet.
 */
import { Metadata, status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import type { ComponentSettings, Exporter, Host } from '../../core/component.ts';
import type { ConsumeContext } from '../../core/consumer.ts';
import { InvalidInputError, OverloadedError, UnavailableError } from '../../core/errors.ts';
import { rawBytes } from '../../core/grpc/raw-method.ts';
import { encodeExportTraceServiceRequest } from '../../core/model/otlp-protobuf-encoder.ts';
import { countSpans, type SpanBatch } from '../../core/model/span-batch.ts';
import { splitByTrace } from '../../core/model/split-by-trace.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import { createGrpcClient } from '../../core/grpc/client.ts';
import type { LoadbalancingConfig } from './config.ts';
import { HashRing, traceKey } from '../../core/routing/hash-ring.ts';
import { createResolver, type Resolver } from '../../core/routing/resolver.ts';

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
/** First wait before a retry to the same gateway; doubles per attempt. */
const RETRY_BASE_MS = 50;

interface Sticky {
  endpoint: string;
  atMs: number;
}

class CallFailed extends Error {
  constructor(
    readonly endpoint: string,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class LoadbalancingExporter implements Exporter {
  readonly mutatesData = false;
  readonly #settings: ComponentSettings;
  readonly #config: LoadbalancingConfig;
  readonly #resolver: Resolver;
  /** The gateways the resolver named, healthy or not. */
  #members: string[] = [];
  /** The ring of members not ejected. */
  #ring = new HashRing([]);
  readonly #clients = new Map<string, Client>();
  readonly #failures = new Map<string, number>();
  readonly #probes = new Map<string, NodeJS.Timeout>();
  /** Trace id → the gateway it went to, oldest first (re-inserted when used). */
  readonly #sticky = new Map<string, Sticky>();
  readonly #failureLog = new BurstLog();
  #closing = false;

  constructor(settings: ComponentSettings, config: LoadbalancingConfig, resolver?: Resolver) {
    this.#settings = settings;
    this.#config = config;
    this.#resolver = resolver ?? createResolver(config.resolver, settings.logger);
  }

  describe(): string[] {
    return [`OTLP/gRPC to the gateway owning each trace id (${this.#resolver.describe()})`];
  }

  /** The gateways in the ring now (for tests and the status page). */
  get ring(): readonly string[] {
    return this.#ring.endpoints;
  }

  async start(_host: Host): Promise<void> {
    const otlp = this.#config.protocol.otlp;
    if (otlp.token !== '' && otlp.tls.insecure) {
      this.#settings.logger.warn('The gateways\' token is sent without TLS (protocol.otlp.tls.insecure is true): anyone on the network path can read it.');
    }
    await this.#resolver.start((endpoints) => this.#setMembers(endpoints));
  }

  async consume(batch: SpanBatch, _ctx: ConsumeContext): Promise<void> {
    const id = this.#settings.id;
    if (this.#closing) throw new UnavailableError(`Exporter ${id} is shutting down.`);
    const spans = countSpans(batch);
    this.#settings.metrics.exporterIncomingSpans.inc({ component: id }, spans);
    const deadline = Date.now() + this.#config.protocol.otlp.timeout;
    await this.#sendTraces(splitByTrace(batch), deadline);
    this.#settings.metrics.exporterSentSpans.inc({ component: id }, spans);
  }

  /** Sends each trace to its gateway; traces of an ejected gateway go round again to their new one. */
  async #sendTraces(traces: Map<string, SpanBatch>, deadline: number): Promise<void> {
    const byGateway = new Map<string, Map<string, SpanBatch>>();
    for (const [traceId, traceBatch] of traces) {
      const endpoint = this.#route(traceId);
      if (endpoint === undefined) throw new UnavailableError(`Exporter ${this.#settings.id}: no gateway is available (${this.#members.length} known, all failing).`);
      let group = byGateway.get(endpoint);
      if (!group) byGateway.set(endpoint, (group = new Map()));
      group.set(traceId, traceBatch);
    }
    await Promise.all([...byGateway].map(([endpoint, group]) => this.#sendGroup(endpoint, group, deadline)));
  }

  async #sendGroup(endpoint: string, group: Map<string, SpanBatch>, deadline: number): Promise<void> {
    const bytes = encodeExportTraceServiceRequest({ resourceSpans: [...group.values()].flatMap((b) => b.resourceSpans) });
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.#export(endpoint, bytes, deadline);
        this.#failures.set(endpoint, 0);
        this.#noteRejected(endpoint, response);
        return;
      } catch (error) {
        const failed = error as CallFailed;
        if (failed.code === GrpcStatus.RESOURCE_EXHAUSTED) throw new OverloadedError(`Gateway ${endpoint} is full: ${failed.message}`);
        if (failed.code === GrpcStatus.INVALID_ARGUMENT) throw new InvalidInputError(`Gateway ${endpoint} refused the spans: ${failed.message}`);
        this.#noteFailure(endpoint, failed);
        if (Date.now() >= deadline || this.#closing) {
          throw new UnavailableError(`Exporter ${this.#settings.id}: gateway ${endpoint} did not take the spans in time: ${failed.message}`);
        }
        if (!this.#ring.endpoints.includes(endpoint)) {
          // Ejected: these traces now belong to other gateways (forget their old owner first).
          for (const traceId of group.keys()) this.#sticky.delete(traceId);
          return this.#sendTraces(group, deadline);
        }
        await sleep(Math.min(RETRY_BASE_MS * 2 ** attempt, Math.max(0, deadline - Date.now())));
      }
    }
  }

  /** The gateway for a trace: the one it went to before, while that one is in the ring; else the ring's. */
  #route(traceId: string): string | undefined {
    const ttl = this.#config.sticky_traces.ttl;
    const now = Date.now();
    const known = this.#sticky.get(traceId);
    let endpoint: string | undefined;
    if (known && now - known.atMs <= ttl && this.#ring.endpoints.includes(known.endpoint)) endpoint = known.endpoint;
    else endpoint = this.#ring.ownerOf(traceKey(traceId));
    if (endpoint !== undefined && ttl > 0 && this.#config.sticky_traces.max_traces > 0) {
      this.#sticky.delete(traceId);
      this.#sticky.set(traceId, { endpoint, atMs: now });
      for (const [oldest, entry] of this.#sticky) {
        if (this.#sticky.size <= this.#config.sticky_traces.max_traces && now - entry.atMs <= ttl) break;
        this.#sticky.delete(oldest);
      }
    }
    return endpoint;
  }

  #export(endpoint: string, bytes: Uint8Array, deadline: number): Promise<Buffer> {
    const client = this.#client(endpoint);
    const request = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(EXPORT_PATH, rawBytes, rawBytes, request, this.#metadata(), { deadline }, (error: ServiceError | null, response?: Buffer) => {
        if (error) reject(new CallFailed(endpoint, error.code, error.details || error.message));
        else resolve(response ?? Buffer.alloc(0));
      });
    });
  }

  /** Per call: grpc-js may add to a Metadata it is given. */
  #metadata(): Metadata {
    const metadata = new Metadata();
    const token = this.#config.protocol.otlp.token;
    if (token !== '') metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  }

  #client(endpoint: string): Client {
    let client = this.#clients.get(endpoint);
    if (!client) {
      client = createGrpcClient({ endpoint, tls: this.#config.protocol.otlp.tls, reconnectBackoffMs: { initial: 100, max: this.#config.probe_interval } });
      this.#clients.set(endpoint, client);
    }
    return client;
  }

  /** partial_success.rejected_spans (field 1.1) of an ExportTraceServiceResponse: counted and logged. */
  #noteRejected(endpoint: string, response: Buffer): void {
    if (response.length === 0) return;
    let rejected = 0;
    let message = '';
    try {
      const r = protobuf.Reader.create(response);
      while (r.pos < r.len) {
        const tag = r.uint32();
        if (tag !== 10) {
          r.skipType(tag & 7);
          continue;
        }
        const end = r.uint32() + r.pos;
        while (r.pos < end) {
          const inner = r.uint32();
          if (inner === 8) rejected = Number(r.int64());
          else if (inner === 18) message = r.string();
          else r.skipType(inner & 7);
        }
      }
    } catch {
      return;
    }
    if (rejected <= 0) return;
    this.#settings.metrics.recordDrop(this.#settings.id, 'export_rejected', rejected);
    this.#settings.logger.warn({ gateway: endpoint, rejected, message }, 'A gateway accepted a request but rejected some of its spans.');
  }

  #noteFailure(endpoint: string, failed: CallFailed): void {
    const failures = (this.#failures.get(endpoint) ?? 0) + 1;
    this.#failures.set(endpoint, failures);
    const count = this.#failureLog.take();
    if (count !== undefined) this.#settings.logger.warn({ gateway: endpoint, code: failed.code, error: failed.message, failures: count }, 'A call to a gateway failed.');
    if (failures >= this.#config.eject_after_failures && this.#ring.endpoints.includes(endpoint) && !this.#closing) this.#eject(endpoint);
  }

  #eject(endpoint: string): void {
    this.#ring = new HashRing(this.#ring.endpoints.filter((e) => e !== endpoint));
    this.#settings.logger.warn({ gateway: endpoint, ring: this.#ring.endpoints }, 'Took a gateway out of the ring after failed calls; probing it until it answers.');
    const probe = setInterval(() => {
      this.#export(endpoint, new Uint8Array(0), Date.now() + this.#config.probe_interval).then(
        () => this.#rejoin(endpoint),
        () => undefined,
      );
    }, this.#config.probe_interval);
    probe.unref();
    this.#probes.set(endpoint, probe);
  }

  #rejoin(endpoint: string): void {
    const probe = this.#probes.get(endpoint);
    if (probe) clearInterval(probe);
    this.#probes.delete(endpoint);
    this.#failures.set(endpoint, 0);
    if (!this.#members.includes(endpoint) || this.#closing) return;
    this.#ring = new HashRing([...this.#ring.endpoints, endpoint]);
    this.#settings.logger.info({ gateway: endpoint, ring: this.#ring.endpoints }, 'A gateway answers again and is back in the ring.');
  }

  #setMembers(endpoints: string[]): void {
    const previous = this.#members;
    this.#members = [...endpoints].sort();
    for (const gone of previous.filter((e) => !this.#members.includes(e))) {
      const probe = this.#probes.get(gone);
      if (probe) clearInterval(probe);
      this.#probes.delete(gone);
      this.#failures.delete(gone);
      const client = this.#clients.get(gone);
      this.#clients.delete(gone);
      // Calls in flight to it finish (or fail over) first.
      if (client) setTimeout(() => client.close(), this.#config.protocol.otlp.timeout).unref();
    }
    this.#ring = new HashRing(this.#members.filter((e) => !this.#probes.has(e)));
    this.#settings.logger.info({ gateways: this.#members, ring: this.#ring.endpoints }, 'Gateways changed.');
  }

  #shutdown: Promise<void> | undefined;

  shutdown(_deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#closing = true;
      this.#resolver.stop();
      for (const probe of this.#probes.values()) clearInterval(probe);
      this.#probes.clear();
      for (const client of this.#clients.values()) client.close();
      this.#clients.clear();
    })());
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
