/**
 * The main thread's side of `workers: N`: starts N worker threads, each running every pipeline for
 * its share of trace ids (worker-thread.ts), and carries requests to them and answers back. The
 * receivers stay in the main thread; routed-consumer.ts decides which worker gets which spans.
 */
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry } from 'prom-client';
import type { ConfigSource } from '../collector.ts';
import { UnavailableError } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { StopTap, TraceViewAnswer, TraceViewRequest, TraceViewWorkers } from '../telemetry/trace-view/backend.ts';
import type { TapOptions } from '../telemetry/trace-view/tap-lines.ts';
import { deserializeError, type FromWorker, type ToWorker } from './messages.ts';
import type { SharedHoldingsInit } from './shared-holdings.ts';
import { WindowHub } from './window-hub.ts';

// Run from sources (tsx), a worker needs the loader registered in its own thread first
// (worker-bootstrap.mjs); run from the build (dist/), it starts straight on the compiled module and
// carries no loader, which is most of a worker's fixed memory.
const WORKER_ENTRY = import.meta.url.endsWith('.ts')
  ? new URL('./worker-bootstrap.mjs', import.meta.url)
  : new URL('./worker-thread.js', import.meta.url);

export interface WorkerPoolOptions {
  count: number;
  /** The same config every worker loads (a file path, or the text itself). */
  source: ConfigSource;
  holdings: SharedHoldingsInit;
  logger: Logger;
  /** A worker failed after start, or died: the process cannot keep its promise for that share. */
  onFatal: (component: string, error: Error) => void;
}

/** What the worker thread receives as `workerData`. */
export interface WorkerData {
  index: number;
  count: number;
  source: { file?: string; text?: string; name?: string; env: Record<string, string | undefined> };
  holdings: SharedHoldingsInit;
}

export interface Consumed {
  spanCount: number;
  rejectedSpans: number;
  rejectMessage: string;
}

interface Pending {
  resolve: (message: FromWorker) => void;
  reject: (error: Error) => void;
}

class WorkerHandle {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  valves: string[] = [];
  exporterLines: string[] = [];
  gone = false;

  constructor(worker: Worker) {
    this.worker = worker;
  }

  failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}

export class WorkerPool implements TraceViewWorkers {
  readonly count: number;
  readonly #options: WorkerPoolOptions;
  readonly #handles: WorkerHandle[] = [];
  readonly #windows: WindowHub;
  #nextId = 1;
  #stopping = false;
  /** Open taps of the trace view: tap id → where their lines go. */
  readonly #taps = new Map<number, (lines: string[]) => void>();
  #nextTapId = 1;

  constructor(options: WorkerPoolOptions) {
    this.count = options.count;
    this.#options = options;
    this.#windows = new WindowHub(options.count, (worker, id, kept) => this.#post(worker, { type: 'windows-settled', id, kept }));
  }

  /** Starts every worker; resolves once all built and started their pipelines. */
  async start(): Promise<void> {
    const { source } = this.#options;
    const ready: Promise<void>[] = [];
    for (let index = 0; index < this.count; index++) {
      const workerData: WorkerData = {
        index,
        count: this.count,
        source: { file: source.file, text: source.text, name: source.name, env: { ...(source.env ?? process.env) } },
        holdings: this.#options.holdings,
      };
      const handle = new WorkerHandle(new Worker(WORKER_ENTRY, { workerData }));
      this.#handles.push(handle);
      ready.push(this.#watch(handle, index));
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await this.shutdown(2_000);
      throw error;
    }
  }

  #watch(handle: WorkerHandle, index: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let started = false;
      handle.worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'ready':
            started = true;
            handle.valves = message.valves;
            handle.exporterLines = message.exporterLines;
            resolve();
            return;
          case 'start-failed':
            reject(new Error(message.message));
            return;
          case 'fatal':
            this.#options.onFatal(message.component, new Error(`worker ${index}: ${message.message}`));
            return;
          case 'windows':
            this.#windows.report(index, message);
            return;
          case 'tap-lines':
            this.#taps.get(message.tapId)?.(message.lines);
            return;
          default: {
            const pending = handle.pending.get(message.id);
            if (pending) {
              handle.pending.delete(message.id);
              pending.resolve(message);
            }
          }
        }
      });
      handle.worker.on('error', (error) => {
        this.#options.logger.error({ worker: index, error }, 'A worker thread failed.');
      });
      handle.worker.on('exit', (code) => {
        handle.gone = true;
        this.#windows.gone(index);
        const error = new UnavailableError(`Worker ${index} is not running; retry later.`);
        handle.failAll(error);
        if (!started) reject(new Error(`worker ${index} exited with code ${code} before it started`));
        else if (!this.#stopping) this.#options.onFatal('workers', new Error(`worker ${index} exited with code ${code}`));
      });
    });
  }

  /** The lines the exporters print at start (every worker has the same exporters; the first one's). */
  exporterLines(): string[] {
    return this.#handles[0]?.exporterLines ?? [];
  }

  /** Names a closed valve of the worker in shared slot `slot` (slot 0 is the main thread). */
  valveName(slot: number, index: number): string {
    return `${this.#handles[slot - 1]?.valves[index] ?? 'a holder'} (worker ${slot - 1})`;
  }

  /** Hands `bytes` (an encoded ExportTraceServiceRequest) to `worker`; resolves once its pipelines accepted them. */
  async consume(worker: number, receiver: string, transport: string, bytes: Uint8Array): Promise<Consumed> {
    const transfer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? [bytes.buffer as ArrayBuffer] : [];
    const answer = await this.#request(worker, (id) => ({ type: 'consume', id, receiver, transport, bytes }), transfer);
    if (answer.type === 'refused') throw deserializeError(answer.error);
    if (answer.type !== 'consumed') throw new Error(`worker ${worker} answered ${answer.type} to consume`);
    return answer;
  }

  async holds(worker: number, traceId: string): Promise<boolean> {
    const answer = await this.#request(worker, (id) => ({ type: 'holds', id, traceId }));
    return answer.type === 'held' && answer.held;
  }

  abandon(worker: number, traceIds: string[]): void {
    this.#post(worker, { type: 'abandon', traceIds });
  }

  /** Asks one worker's trace view (core/telemetry/trace-view/backend.ts). */
  async askTraceView(worker: number, request: TraceViewRequest): Promise<TraceViewAnswer> {
    const answer = await this.#request(worker, (id) => ({ type: 'trace-view', id, request }));
    if (answer.type !== 'trace-view' || answer.answer === undefined) throw new Error(`worker ${worker} keeps no traces`);
    return answer.answer;
  }

  /** Every worker sends the lines of what it builds from now on to `onLines`, until the returned stop. */
  tapWorkers(options: TapOptions, onLines: (lines: string[]) => void): StopTap {
    const tapId = this.#nextTapId++;
    this.#taps.set(tapId, onLines);
    for (let worker = 0; worker < this.count; worker++) this.#post(worker, { type: 'tap', tapId, options });
    return () => {
      if (!this.#taps.delete(tapId)) return;
      for (let worker = 0; worker < this.count; worker++) this.#post(worker, { type: 'tap', tapId, options: null });
    };
  }

  /** Every thread's metrics summed (counters, gauges) and merged (histograms), as Prometheus text. */
  async metricsText(own: object[]): Promise<string> {
    const perWorker = await Promise.all(
      this.#handles.map(async (h, worker) => {
        if (h.gone) return [];
        const answer = await this.#request(worker, (id) => ({ type: 'metrics', id }));
        return answer.type === 'metrics' ? answer.metrics : [];
      }),
    );
    return AggregatorRegistry.aggregate([own, ...perWorker]).metrics();
  }

  /** Each worker stops its pipelines (flushing what they hold) within the time left, then exits. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#handles.map(async (h, worker) => {
        if (h.gone) return;
        const exited = new Promise<void>((resolve) => h.worker.once('exit', () => resolve()));
        try {
          await Promise.race([this.#request(worker, (id) => ({ type: 'shutdown', id, timeoutMs })), exited]);
        } catch {
          // It exited on its own, or failed while stopping: nothing more to wait for.
        }
        if (!h.gone) await h.worker.terminate();
      }),
    );
  }

  #request(worker: number, message: (id: number) => ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    const handle = this.#handles[worker]!;
    if (handle.gone) return Promise.reject(new UnavailableError(`Worker ${worker} is not running; retry later.`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      handle.pending.set(id, { resolve, reject });
      handle.worker.postMessage(message(id), transfer);
    });
  }

  #post(worker: number, message: ToWorker): void {
    const handle = this.#handles[worker];
    if (handle && !handle.gone) handle.worker.postMessage(message);
  }
}
