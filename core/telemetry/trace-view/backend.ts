/**
 * Where the trace view's answers come from: this thread's recorder (`workers: 1`), or every
 * worker thread's, asked over the worker channel (`workers: N`, core/workers/worker-pool.ts). The
 * page and `skybridge tap` see the same thing either way: a trace is built in one thread only
 * (trace ids are routed to one worker), so the workers' answers are merged, never reconciled.
 */
import type { RecordedFlush, TraceRecorder } from './trace-recorder.ts';
import { traceDetail, type TraceDetail } from './trace-json.ts';
import { DEFAULT_SEARCH_LIMIT, searchTraces, type TraceQuery, type TraceSummary } from './trace-summary.ts';
import { tapLines, type TapOptions } from './tap-lines.ts';

export interface TraceSearchResult {
  traces: TraceSummary[];
  kept: { traces: number; spans: number };
}

/** Stops a tap. */
export type StopTap = () => void;

export interface TraceViewBackend {
  search(query: TraceQuery): Promise<TraceSearchResult>;
  find(traceId: string): Promise<TraceDetail[]>;
  /** Calls `onLines` with the JSON lines of everything built from now on, until the returned stop. */
  tap(options: TapOptions, onLines: (lines: string[]) => void): StopTap;
}

/** The view over this thread's recorder. */
export function localBackend(recorder: TraceRecorder): TraceViewBackend {
  return {
    search: async (query) => ({ traces: searchTraces(recorder.newestFirst(), query), kept: { traces: recorder.size, spans: recorder.spans } }),
    find: async (traceId) => recorder.find(traceId).map(traceDetail),
    tap(options, onLines) {
      // Serialised in a later turn than the build that made them: a tap adds only a push to the build.
      let pending: RecordedFlush[] = [];
      let scheduled: NodeJS.Immediate | undefined;
      const writeOut = (): void => {
        scheduled = undefined;
        const lines = pending.flatMap((flush) => tapLines(flush, options));
        pending = [];
        if (lines.length > 0) onLines(lines);
      };
      const unsubscribe = recorder.subscribe((_trace, flush) => {
        pending.push(flush);
        scheduled ??= setImmediate(writeOut);
      });
      return () => {
        unsubscribe();
        if (scheduled) clearImmediate(scheduled);
      };
    },
  };
}

/** What the worker pool offers the trace view (implemented by WorkerPool). */
export interface TraceViewWorkers {
  readonly count: number;
  askTraceView(worker: number, request: TraceViewRequest): Promise<TraceViewAnswer>;
  tapWorkers(options: TapOptions, onLines: (lines: string[]) => void): StopTap;
}

export type TraceViewRequest = { op: 'search'; query: TraceQuery } | { op: 'find'; traceId: string };
export type TraceViewAnswer = TraceSearchResult | TraceDetail[];

/** Answers a request from the main thread with this worker's recorder. */
export function answerTraceView(backend: TraceViewBackend, request: TraceViewRequest): Promise<TraceViewAnswer> {
  return request.op === 'search' ? backend.search(request.query) : backend.find(request.traceId);
}

/** The view over every worker's recorder, merged. */
export function workersBackend(pool: TraceViewWorkers): TraceViewBackend {
  const askAll = (request: TraceViewRequest) => Promise.all(Array.from({ length: pool.count }, (_, worker) => pool.askTraceView(worker, request).catch(() => undefined)));
  return {
    async search(query) {
      const answers = (await askAll({ op: 'search', query })).filter((a): a is TraceSearchResult => a !== undefined && !Array.isArray(a));
      const traces = answers.flatMap((a) => a.traces).sort((a, b) => b.lastMs - a.lastMs);
      return {
        traces: traces.slice(0, query.limit ?? DEFAULT_SEARCH_LIMIT),
        kept: { traces: answers.reduce((n, a) => n + a.kept.traces, 0), spans: answers.reduce((n, a) => n + a.kept.spans, 0) },
      };
    },
    async find(traceId) {
      return (await askAll({ op: 'find', traceId })).flatMap((a) => (Array.isArray(a) ? a : []));
    },
    tap: (options, onLines) => pool.tapWorkers(options, onLines),
  };
}
