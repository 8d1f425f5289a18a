/**
 * Registers the instances skybridge sends segments for and keeps them listed as alive, as a
 * language agent would (docs/skywalking-model.md "Management"): `reportInstanceProperties` once per
 * instance, and `keepAlive` for every live instance every `keepAliveIntervalMs`. Without keepAlive,
 * a service that only makes outgoing calls has no instance list in the OAP.
 *
 * skybridge cannot see a process exit, so "alive" means "had a segment exported recently": an
 * instance with no segment for `instanceIdleTimeoutMs` is no longer pinged, and the OAP lets it go.
 */
import type { Client, ClientUnaryCall, ServiceError } from '@grpc/grpc-js';
import type { ComponentSettings } from '../../core/component.ts';
import { rawBytes } from '../../core/grpc/raw-method.ts';
import type { InstanceProperties } from '../../core/segments/segment-object.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import { decodeCommands, encodeInstancePingPkg, encodeInstanceProperties, type Command } from './codec.ts';
import { oapMetadata } from './oap-client.ts';

const PROPERTIES_PATH = '/skywalking.v3.ManagementService/reportInstanceProperties';
const KEEP_ALIVE_PATH = '/skywalking.v3.ManagementService/keepAlive';
/** Calls in flight at once during a keepAlive round, so thousands of instances do not open thousands of streams. */
const CONCURRENCY = 8;

/** What the reporter needs from SkyWalkingConfig, in milliseconds. */
export interface ManagementReporterOptions {
  /** Sent as `Authentication` metadata when not empty. */
  token: string;
  /** Deadline of one call. */
  timeoutMs: number;
  keepAliveIntervalMs: number;
  instanceIdleTimeoutMs: number;
  /** Instances remembered at once; new ones past it are not reported (counted, logged). */
  maxInstances: number;
  /** First reports of new instances per second at most; the rest wait for later rounds. */
  newInstancesPerSecond: number;
}

interface InstanceEntry {
  service: string;
  serviceInstance: string;
  layer: string;
  /** Undefined for an instance known only from its segments: it gets keepAlives only. */
  properties: InstanceProperties | undefined;
  /** The OAP accepted `properties`; they are never sent again. */
  propertiesReported: boolean;
  lastSeenMs: number;
  /** A report for this instance is in flight; the next round skips it rather than doubling it. */
  busy: boolean;
  /** Reported to the OAP at least once (a first report is rate-limited; later keepAlives are not). */
  reportedOnce: boolean;
}

function instanceKey(service: string, serviceInstance: string): string {
  return `${service}\n${serviceInstance}`;
}

/**
 * Lifecycle: `add`/`touch` any time; `start` begins the keepAlive rounds; `stop` ends them and
 * cancels calls in flight. The caller owns the gRPC client.
 */
export class ManagementReporter {
  readonly #settings: ComponentSettings;
  readonly #client: Client;
  readonly #options: ManagementReporterOptions;
  readonly #instances = new Map<string, InstanceEntry>();
  readonly #calls = new Set<ClientUnaryCall>();
  readonly #failureLog = new BurstLog();
  readonly #fullLog = new BurstLog();
  /** Token bucket for first reports: refilled at newInstancesPerSecond, holding at most one second's worth. */
  #firstReportTokens: number;
  #tokensAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(settings: ComponentSettings, client: Client, options: ManagementReporterOptions) {
    this.#settings = settings;
    this.#client = client;
    this.#options = options;
    this.#firstReportTokens = options.newInstancesPerSecond;
  }

  /** Instances currently pinged. */
  get size(): number {
    return this.#instances.size;
  }

  /** The `limit` instances with the latest segments, newest first (for the status page; O(instances)). */
  recent(limit: number): { service: string; instance: string; lastSeenMs: number }[] {
    const newest: InstanceEntry[] = [];
    for (const entry of this.#instances.values()) {
      if (newest.length === limit && entry.lastSeenMs <= newest[limit - 1]!.lastSeenMs) continue;
      const at = newest.findIndex((e) => e.lastSeenMs < entry.lastSeenMs);
      newest.splice(at === -1 ? newest.length : at, 0, entry);
      if (newest.length > limit) newest.pop();
    }
    return newest.map((e) => ({ service: e.service, instance: e.serviceInstance, lastSeenMs: e.lastSeenMs }));
  }

  /**
   * An instance met for the first time (the exporter's `onInstance`). Its properties are reported
   * once, at once when running, and retried each round until the OAP accepted them; a second call
   * for the same instance after that is ignored.
   */
  add(props: InstanceProperties): void {
    const key = instanceKey(props.service, props.serviceInstance);
    const entry = this.#instances.get(key);
    if (entry === undefined) {
      this.#remember(key, {
        service: props.service,
        serviceInstance: props.serviceInstance,
        layer: props.layer,
        properties: props,
        propertiesReported: false,
        lastSeenMs: Date.now(),
        busy: false,
        reportedOnce: false,
      });
      return;
    }
    entry.lastSeenMs = Date.now();
    if (entry.propertiesReported) return;
    entry.properties = props;
    entry.layer = props.layer;
    if (this.#running) void this.#report(entry);
  }

  /** A segment of this instance was exported: keep pinging it. Cheap enough to call per segment. */
  touch(service: string, serviceInstance: string): void {
    const key = instanceKey(service, serviceInstance);
    const entry = this.#instances.get(key);
    if (entry !== undefined) {
      entry.lastSeenMs = Date.now();
      return;
    }
    // Seen again after it went idle (or before its onInstance): ping it. Its properties are already
    // stored in the OAP, or come with a later `add`.
    this.#remember(key, {
      service, serviceInstance, layer: '', properties: undefined, propertiesReported: false, lastSeenMs: Date.now(), busy: false, reportedOnce: false,
    });
  }

  /** Keeps a new instance within maxInstances and reports it now if the first-report rate allows. */
  #remember(key: string, entry: InstanceEntry): void {
    if (this.#instances.size >= this.#options.maxInstances) {
      this.#settings.metrics.instancesNotReported.inc({ component: this.#settings.id });
      const total = this.#fullLog.take(1);
      if (total !== undefined) {
        this.#settings.logger.warn(
          { max_instances: this.#options.maxInstances, not_reported: total, service: entry.service.slice(0, 64) },
          'Too many instances to report at once (max_instances); new ones are not reported until others go idle. Their segments are still sent.',
        );
      }
      return;
    }
    this.#instances.set(key, entry);
    if (this.#running && this.#takeFirstReport()) void this.#report(entry);
  }

  #takeFirstReport(): boolean {
    const now = Date.now();
    const rate = this.#options.newInstancesPerSecond;
    this.#firstReportTokens = Math.min(rate, this.#firstReportTokens + ((now - this.#tokensAt) / 1000) * rate);
    this.#tokensAt = now;
    if (this.#firstReportTokens < 1) return false;
    this.#firstReportTokens -= 1;
    return true;
  }

  /** Report every instance known so far, then every `keepAliveIntervalMs`. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#round();
  }

  /** End the rounds and cancel calls in flight. Idempotent; safe without `start`. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const call of this.#calls) call.cancel();
    this.#calls.clear();
  }

  async #round(): Promise<void> {
    const now = Date.now();
    const due: InstanceEntry[] = [];
    for (const [key, entry] of this.#instances) {
      if (now - entry.lastSeenMs > this.#options.instanceIdleTimeoutMs) this.#instances.delete(key);
      // A first report waits for the rate; keepAlives of instances already reported do not.
      else if (!entry.busy && (entry.reportedOnce || this.#takeFirstReport())) due.push(entry);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (this.#running && next < due.length) await this.#report(due[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
    if (!this.#running) return;
    // The next round starts an interval after this one ended, so slow rounds never overlap.
    this.#timer = setTimeout(() => void this.#round(), this.#options.keepAliveIntervalMs);
    this.#timer.unref();
  }

  async #report(entry: InstanceEntry): Promise<void> {
    if (entry.busy) return;
    entry.busy = true;
    try {
      if (entry.properties !== undefined && !entry.propertiesReported) {
        await this.#unary(PROPERTIES_PATH, encodeInstanceProperties(entry.properties));
        entry.propertiesReported = true;
      }
      await this.#unary(KEEP_ALIVE_PATH, encodeInstancePingPkg({ service: entry.service, serviceInstance: entry.serviceInstance, layer: entry.layer }));
      entry.reportedOnce = true;
    } catch (error) {
      if (!this.#running) return;
      this.#settings.metrics.recordLastError(this.#settings.id, `Reporting an instance failed: ${(error as ServiceError).message}`);
      const total = this.#failureLog.take(1);
      if (total !== undefined) {
        const e = error as ServiceError;
        this.#settings.logger.warn(
          { error: e.message, service: entry.service, serviceInstance: entry.serviceInstance, failures: total },
          'Reporting an instance to the OAP failed; it is retried next round.',
        );
      }
    } finally {
      entry.busy = false;
    }
  }

  #unary(path: string, request: Buffer): Promise<Command[]> {
    return new Promise((resolve, reject) => {
      const call = this.#client.makeUnaryRequest<Buffer, Command[]>(
        path,
        rawBytes,
        decodeCommands,
        request,
        oapMetadata(this.#options.token),
        { deadline: Date.now() + this.#options.timeoutMs },
        (error, commands) => {
          this.#calls.delete(call);
          if (error) reject(error);
          else resolve(commands ?? []);
        },
      );
      this.#calls.add(call);
    });
  }
}
