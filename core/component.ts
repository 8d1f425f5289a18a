/**
 * The one shape every receiver, processor and exporter has. A component folder exports a factory
 * built with `defineReceiver` / `defineProcessor` / `defineExporter`; `receivers/index.ts` and its
 * siblings list the factories explicitly (no registration by import side effect).
 */
import type { z } from 'zod';
import type { AdmissionLedger } from './admission/admission-ledger.ts';
import type { TraceConsumer } from './consumer.ts';
import type { DeadLetterAccess } from './queue/durable-retry/dead-letters.ts';
import type { Logger } from './telemetry/logger.ts';
import type { Metrics } from './telemetry/metrics.ts';
import type { TraceRecorder } from './telemetry/trace-view/trace-recorder.ts';

export type Stability = 'development' | 'alpha' | 'beta' | 'stable';
export type ComponentKind = 'receiver' | 'processor' | 'exporter';

/** What the runtime hands a component at creation (the Collector's "Settings"; `Config` is what the user wrote). */
export interface ComponentSettings {
  /** Full id as written in pipelines.yaml: `type` or `type/name`. */
  readonly id: string;
  readonly kind: ComponentKind;
  /** A child logger bound to `{ component: id }`. */
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * The process's admission ledger (core/admission/): a component that keeps data after `consume`
   * resolved opens an account on it. Absent outside a pipeline (unit tests): use
   * `ledgerOf(settings)`, which then gives an unbounded ledger.
   */
  readonly admission?: AdmissionLedger;
  /**
   * Present in a worker thread of `workers: N` (core/workers/): settles sampling windows for the
   * whole process, so a per-window budget means the same with N workers as with one.
   */
  readonly windows?: WindowCoordinator;
  /**
   * Keeps the last few assembled traces for the trace view (/traces) and `skybridge tap`
   * (core/telemetry/trace-view/). Absent when the view is off or the pipelines run in workers.
   */
  readonly traceRecorder?: TraceRecorder;
}

/** A closed sampling window as one worker saw it. */
export interface ClosedWindowReport {
  index: number;
  /** Slots spent before the close (must-keep traces, early keeps). */
  reserved: number;
  /** Kept candidates, best first. */
  kept: string[];
}

export interface WindowCoordinator {
  /**
   * Reports the windows this worker closed (every window up to `through` is closed here) and
   * resolves with the trace ids among their candidates that keep a slot process-wide.
   */
  settle(processor: string, perWindow: number, through: number, closed: ClosedWindowReport[]): Promise<string[]>;
}

/** Runtime services a started component may use. */
export interface Host {
  /** Report an error after start that makes the component unable to go on (e.g. a port lost). */
  reportFatal(componentId: string, error: Error): void;
}

export interface Component {
  /**
   * Called once, exporters first and receivers last. Resolve once ready to accept data (ports bound,
   * clients created); long work (connecting to a peer) continues in the background.
   */
  start(host: Host): Promise<void>;
  /**
   * Stop accepting, flush what is held to the next stage (or destination), release resources.
   * Must resolve by the time `deadline` aborts, counting what it had to give up as
   * `shutdown_timeout` drops. Idempotent and safe to call without `start`.
   */
  shutdown(deadline: AbortSignal): Promise<void>;
  /**
   * Optional: human-readable lines printed at start, e.g. "OTLP/gRPC on 0.0.0.0:4317" or
   * "segments as JSON lines on stdout", so a newcomer knows where to send and where to look.
   */
  describe?(): string[];
}

export type Receiver = Component;
export interface Processor extends Component, TraceConsumer {}
export interface Exporter extends Component, TraceConsumer {}

interface FactoryBase<S extends z.ZodType> {
  /** lower_snake_case; equals the folder name and the YAML key. */
  readonly type: string;
  readonly stability: Stability;
  /** One line for `skybridge components` and docs. */
  readonly description: string;
  /** The single source of types, defaults, bounds and descriptions. Must reject unknown keys. */
  readonly configSchema: S;
}

export interface ReceiverFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  readonly kind: 'receiver';
  create(settings: ComponentSettings, config: z.output<S>, next: TraceConsumer): Receiver;
}

export interface ProcessorFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  readonly kind: 'processor';
  create(settings: ComponentSettings, config: z.output<S>, next: TraceConsumer): Processor;
}

export interface ExporterFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  readonly kind: 'exporter';
  create(settings: ComponentSettings, config: z.output<S>): Exporter;
  /**
   * Optional: the exporter's dead-letter queue, for `skybridge dlq`; `undefined` when this config
   * keeps none (no `redis` block). Starts nothing: the caller opens and closes what it gets.
   */
  deadLetters?(exporterId: string, config: z.output<S>): DeadLetterAccess | undefined;
}

export type AnyFactory = ReceiverFactory | ProcessorFactory | ExporterFactory;

export function defineReceiver<S extends z.ZodType>(f: Omit<ReceiverFactory<S>, 'kind'>): ReceiverFactory<S> {
  return { kind: 'receiver', ...f };
}
export function defineProcessor<S extends z.ZodType>(f: Omit<ProcessorFactory<S>, 'kind'>): ProcessorFactory<S> {
  return { kind: 'processor', ...f };
}
export function defineExporter<S extends z.ZodType>(f: Omit<ExporterFactory<S>, 'kind'>): ExporterFactory<S> {
  return { kind: 'exporter', ...f };
}

/** `otlp/edge` → { type: 'otlp', name: 'edge' }. */
export function parseComponentId(id: string): { type: string; name: string } | undefined {
  const m = /^([a-z][a-z0-9_]*)(?:\/([A-Za-z0-9_.-]+))?$/.exec(id);
  if (!m) return undefined;
  return { type: m[1]!, name: m[2] ?? '' };
}

/**
 * Runs `fn` on the first call only; every later call returns the first call's promise, whatever its
 * arguments (otel-js BindOnceFuture). Makes a `shutdown(deadline)` idempotent:
 * `readonly shutdown = once(async (deadline: AbortSignal) => { ... })`.
 */
export function once<A extends unknown[], T>(fn: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  let p: Promise<T> | undefined;
  return (...args) => (p ??= fn(...args));
}
