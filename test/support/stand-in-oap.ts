/**
 * A gRPC server that plays the SkyWalking OAP for tests, on loopback. It takes the exact bytes a
 * client sends and decodes them with SkyWalking's own generated stubs (skywalking-backend-js,
 * google-protobuf), never with skybridge's `.proto` files, so a test that passes proves the OAP's
 * reading of what skybridge wrote, not skybridge agreeing with itself.
 *
 * Decoded objects are the stubs' `toObject()` shape, which is NOT the proto3 JSON mapping:
 * - field names are lower-cased, not camelCased: `traceid`, `tracesegmentid`, `serviceinstance`,
 *   `issizelimited`, `spanid`, `parentspanid`, `starttime`, `endtime`, `operationname`, `spantype`,
 *   `spanlayer`, `componentid`, `iserror`, `skipanalysis`, `reftype`, `parenttracesegmentid`,
 *   `parentserviceinstance`, `parentendpoint`, `networkaddressusedatpeer`;
 * - repeated fields get a `List` suffix: `spansList`, `refsList`, `tagsList`, `logsList`,
 *   `dataList` (in Log), `propertiesList` (in InstanceProperties);
 * - enums are numbers (SpanType Exit = 1); values the stubs predate (SpanLayer GenAI = 7) stay numbers;
 * - int64 times are JS numbers (exact below 2^53).
 *
 * Behaviour copied from the OAP (docs/skywalking-model.md "Services and methods", "Authentication and TLS"): `collect` answers one empty
 * `Commands` when the client ends the stream; with `token` set, a call whose `authentication`
 * metadata differs is closed with PERMISSION_DENIED before the handler sees any message.
 */
import { EventEmitter } from 'node:events';
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type Metadata,
  type sendUnaryData,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import tracingPb from 'skywalking-backend-js/lib/proto/language-agent/Tracing_pb.js';
import managementPb from 'skywalking-backend-js/lib/proto/management/Management_pb.js';
import type * as TracingTypes from 'skywalking-backend-js/lib/proto/language-agent/Tracing_pb.js';
import type * as ManagementTypes from 'skywalking-backend-js/lib/proto/management/Management_pb.js';

/** A segment as SkyWalking's stubs decode it (see the file comment for its field names). */
export type DecodedSegment = TracingTypes.SegmentObject.AsObject;
export type DecodedInstanceProperties = ManagementTypes.InstanceProperties.AsObject;
export type DecodedInstancePing = ManagementTypes.InstancePingPkg.AsObject;

export type OapMethod = 'collect' | 'collectInSync' | 'reportInstanceProperties' | 'keepAlive';

export interface StandInOapOptions {
  /** When set, every call must carry `authentication: <token>` metadata (the OAP's SW_AUTHENTICATION). */
  token?: string;
  /** Loopback by default. */
  host?: string;
  /** 0 (the default) asks the OS for a free port. */
  port?: number;
  /**
   * The largest message the stand-in reads, as the OAP's `maxMessageSize`: a collect stream that
   * carries a larger one is answered RESOURCE_EXHAUSTED (by gRPC itself, like grpc-java in the OAP),
   * after the messages before it were taken. 50 MiB, the OAP's default, when absent.
   */
  maxMessageSize?: number;
  /**
   * Take at most this many segments a second across all collect streams, as a slow or busy OAP
   * does: a stream is paused (so gRPC flow control pushes back on the client) until its next
   * segment's turn. Unlimited when absent.
   */
  segmentsPerSecond?: number;
}

export interface FailureOptions {
  details?: string;
  /** Which methods the failures apply to; all four when absent. */
  methods?: readonly OapMethod[];
}

/** An empty `skywalking.v3.Commands` encodes as zero bytes. */
const EMPTY_COMMANDS = Buffer.alloc(0);
const identity = (bytes: Buffer): Buffer => bytes;

function method(service: string, name: OapMethod, requestStream: boolean) {
  return {
    path: `/skywalking.v3.${service}/${name}`,
    requestStream,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

const TRACE_SERVICE: ServiceDefinition = {
  collect: method('TraceSegmentReportService', 'collect', true),
  collectInSync: method('TraceSegmentReportService', 'collectInSync', false),
};
const MANAGEMENT_SERVICE: ServiceDefinition = {
  reportInstanceProperties: method('ManagementService', 'reportInstanceProperties', false),
  keepAlive: method('ManagementService', 'keepAlive', false),
};

function serviceError(code: GrpcStatus, details: string): Partial<ServiceError> {
  return { code, details, message: details };
}

/**
 * Usage: `const oap = await StandInOap.start({ token })`, point the client at `oap.endpoint`,
 * `await oap.waitForSegments(n)`, inspect `oap.segments`, and `await oap.stop()` at the end.
 */
export class StandInOap {
  /** Decoded segments, in arrival order (duplicates included). */
  readonly segments: DecodedSegment[] = [];
  /** The bytes of each segment message as received, parallel to `segments`. */
  readonly rawSegments: Buffer[] = [];
  /** Decoded `reportInstanceProperties` requests, in arrival order. */
  readonly instanceProperties: DecodedInstanceProperties[] = [];
  /** Decoded `keepAlive` requests, in arrival order. */
  readonly pings: DecodedInstancePing[] = [];
  /** Calls received per method, including those answered with an error. */
  readonly calls: Record<OapMethod, number> = { collect: 0, collectInSync: 0, reportInstanceProperties: 0, keepAlive: 0 };
  /** The `authentication` metadata of each call received (undefined when absent). */
  readonly authentications: (string | undefined)[] = [];
  /** Messages the stubs could not decode (the OAP would log and count them). */
  readonly undecodable: Buffer[] = [];

  readonly host: string;
  #port: number;
  readonly #token: string | undefined;
  readonly #maxMessageSize: number;
  readonly #segmentIntervalMs: number;
  /** With segmentsPerSecond: when the next segment may be taken (ms, Date.now()). */
  #nextSegmentAt = 0;
  #server: Server | undefined;
  readonly #changes = new EventEmitter();
  #failures: { remaining: number; code: GrpcStatus; details: string; methods: ReadonlySet<OapMethod> } | undefined;
  #holding = false;
  #heldReplies: (() => void)[] = [];

  private constructor(options: StandInOapOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#token = options.token;
    this.#maxMessageSize = options.maxMessageSize ?? 50 * 1024 * 1024; // the OAP's default maxMessageSize
    this.#segmentIntervalMs = options.segmentsPerSecond === undefined ? 0 : 1000 / options.segmentsPerSecond;
    this.#changes.setMaxListeners(0);
  }

  /** Listen and return the running stand-in. */
  static async start(options: StandInOapOptions = {}): Promise<StandInOap> {
    const oap = new StandInOap(options);
    await oap.#listen();
    return oap;
  }

  /** The bound port; stays the same across `stop`/`restart`. */
  get port(): number {
    return this.#port;
  }

  /** `host:port` for a client. */
  get endpoint(): string {
    return `${this.host}:${this.#port}`;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Answer the next `n` calls (of `options.methods`, or any) with `code`, without reading their messages. */
  failNext(n: number, code: GrpcStatus, options: FailureOptions = {}): void {
    this.#failures = {
      remaining: n,
      code,
      details: options.details ?? `stand-in OAP failure (${GrpcStatus[code]})`,
      methods: new Set(options.methods ?? ['collect', 'collectInSync', 'reportInstanceProperties', 'keepAlive']),
    };
  }

  /**
   * Keep reading collect streams but do not answer them until `releaseReplies()`: the window in
   * which the OAP already has segments the client does not know are delivered.
   */
  holdReplies(): void {
    this.#holding = true;
  }

  /** Answer every held collect stream and stop holding. */
  releaseReplies(): void {
    this.#holding = false;
    const held = this.#heldReplies;
    this.#heldReplies = [];
    for (const reply of held) reply();
  }

  /** Collect streams that ended and wait for their answer. */
  get heldReplies(): number {
    return this.#heldReplies.length;
  }

  /** Resolves once at least `n` segments (duplicates included) arrived; rejects after `timeoutMs`. */
  waitForSegments(n: number, timeoutMs = 5000): Promise<void> {
    return this.waitFor(() => this.segments.length >= n, timeoutMs, () => `${n} segments (got ${this.segments.length})`);
  }

  /** Resolves once at least `n` keepAlives arrived. */
  waitForPings(n: number, timeoutMs = 5000): Promise<void> {
    return this.waitFor(() => this.pings.length >= n, timeoutMs, () => `${n} keepAlives (got ${this.pings.length})`);
  }

  /**
   * Resolves as soon as `predicate` holds, checked now and after every call the stand-in receives
   * or answers; rejects after `timeoutMs` naming `what` (a function is called at that moment, so it
   * can report counts).
   */
  waitFor(predicate: () => boolean, timeoutMs = 5000, what: string | (() => string) = 'the condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    const describe = typeof what === 'string' ? () => what : what;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Stand-in OAP: timed out after ${timeoutMs}ms waiting for ${describe()}.`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#changes.off('change', check);
      };
      this.#changes.on('change', check);
    });
  }

  /**
   * Go down like a crashed OAP: connections are reset and held or running calls fail on the
   * client's side. The port is kept for `restart`. Idempotent.
   */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    this.#heldReplies = [];
    server.forceShutdown();
  }

  /** Listen again on the same port (after `stop`). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#listen();
  }

  async #listen(): Promise<void> {
    const server = new Server({ 'grpc.max_receive_message_length': this.#maxMessageSize });
    server.addService(TRACE_SERVICE, this.#traceHandlers());
    server.addService(MANAGEMENT_SERVICE, this.#managementHandlers());
    // The old socket of a restart may take a moment to close: retry the bind a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        this.#port = await new Promise<number>((resolve, reject) => {
          server.bindAsync(`${this.host}:${this.#port}`, ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
        });
        break;
      } catch (error) {
        if (attempt >= 50 || this.#port === 0) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    this.#server = server;
  }

  /** Applies the token check and the scheduled failures; returns the error to answer with, if any. */
  #admit(name: OapMethod, metadata: Metadata): Partial<ServiceError> | undefined {
    this.calls[name] += 1;
    const auth = metadata.get('authentication')[0];
    this.authentications.push(auth === undefined ? undefined : String(auth));
    this.#changes.emit('change');
    if (this.#token !== undefined && this.#token !== '' && auth !== this.#token) {
      return serviceError(GrpcStatus.PERMISSION_DENIED, 'Invalid authentication token.');
    }
    const failures = this.#failures;
    if (failures !== undefined && failures.remaining > 0 && failures.methods.has(name)) {
      failures.remaining -= 1;
      return serviceError(failures.code, failures.details);
    }
    return undefined;
  }

  #takeSegment(bytes: Buffer): void {
    try {
      const decoded = tracingPb.SegmentObject.deserializeBinary(new Uint8Array(bytes)).toObject();
      this.rawSegments.push(bytes);
      this.segments.push(decoded);
    } catch {
      this.undecodable.push(bytes);
    }
    this.#changes.emit('change');
  }

  /** With segmentsPerSecond: pause the stream until the next segment's turn. */
  #pace(call: ServerReadableStream<Buffer, Buffer>): void {
    if (this.#segmentIntervalMs === 0) return;
    const now = Date.now();
    this.#nextSegmentAt = Math.max(now, this.#nextSegmentAt) + this.#segmentIntervalMs;
    const wait = this.#nextSegmentAt - now;
    if (wait < 1) return;
    call.pause();
    setTimeout(() => call.resume(), wait);
  }

  #traceHandlers(): UntypedServiceImplementation {
    return {
      collect: (call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        const rejection = this.#admit('collect', call.metadata);
        if (rejection !== undefined) {
          callback(rejection);
          return;
        }
        call.on('data', (bytes: Buffer) => {
          this.#takeSegment(bytes);
          this.#pace(call);
        });
        call.on('error', () => {}); // a cancelled or reset stream; the client sees its own status
        call.on('end', () => {
          const reply = (): void => {
            callback(null, EMPTY_COMMANDS);
            this.#changes.emit('change');
          };
          if (this.#holding) this.#heldReplies.push(reply);
          else reply();
          this.#changes.emit('change');
        });
      },
      collectInSync: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        const rejection = this.#admit('collectInSync', call.metadata);
        if (rejection !== undefined) return callback(rejection);
        try {
          const collection = tracingPb.SegmentCollection.deserializeBinary(new Uint8Array(call.request));
          for (const segment of collection.getSegmentsList()) this.#takeSegment(Buffer.from(segment.serializeBinary()));
        } catch {
          this.undecodable.push(call.request);
        }
        callback(null, EMPTY_COMMANDS);
      },
    };
  }

  #managementHandlers(): UntypedServiceImplementation {
    return {
      reportInstanceProperties: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        const rejection = this.#admit('reportInstanceProperties', call.metadata);
        if (rejection !== undefined) return callback(rejection);
        this.instanceProperties.push(managementPb.InstanceProperties.deserializeBinary(new Uint8Array(call.request)).toObject());
        callback(null, EMPTY_COMMANDS);
        this.#changes.emit('change');
      },
      keepAlive: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        const rejection = this.#admit('keepAlive', call.metadata);
        if (rejection !== undefined) return callback(rejection);
        this.pings.push(managementPb.InstancePingPkg.deserializeBinary(new Uint8Array(call.request)).toObject());
        callback(null, EMPTY_COMMANDS);
        this.#changes.emit('change');
      },
    };
  }
}
