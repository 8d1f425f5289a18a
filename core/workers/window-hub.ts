/**
 * The main thread's half of a `sample_n_per_3_secs` budget shared by N workers
 * (processors/tail_sampling/window-arbiter.ts is the workers' half). Each worker closes its windows
 * on its own clock and reports its kept candidates and the slots it spent early; once every worker
 * has closed window w (its `through` reached w), the hub keeps the best N − Σ reserved of all the
 * reported candidates, by the same priority one process would use, and tells each worker which of
 * its own survive. So the budget means N traces per window for the whole process, as with one
 * worker, and the set kept is the one a single process fed the same traces would keep.
 *
 * A worker's early drops stay right: it dropped only candidates below its own top N − r, and the
 * process-wide bar is at least as high.
 */
import { tracePriority } from '../../processors/tail_sampling/budget.ts';
import type { FromWorker, WindowReport } from './messages.ts';

type WindowsMessage = Extract<FromWorker, { type: 'windows' }>;

/** Longest a window waits for a worker that stopped reporting (stalled, or gone without saying). */
const STRAGGLER_WAIT_MS = 6_000;

interface OpenWindow {
  perWindow: number;
  reports: { worker: number; report: WindowReport }[];
  firstReportAt: number;
}

interface WaitingMessage {
  worker: number;
  id: number;
  remaining: Set<number>;
  kept: string[];
}

interface ProcessorState {
  through: number[];
  windows: Map<number, OpenWindow>;
  waiting: WaitingMessage[];
}

export class WindowHub {
  readonly #workers: number;
  readonly #answer: (worker: number, id: number, kept: string[]) => void;
  readonly #processors = new Map<string, ProcessorState>();
  readonly #gone = new Set<number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(workers: number, answer: (worker: number, id: number, kept: string[]) => void) {
    this.#workers = workers;
    this.#answer = answer;
  }

  report(worker: number, message: WindowsMessage, now = Date.now()): void {
    const state = this.#state(message.processor);
    state.through[worker] = Math.max(state.through[worker]!, message.through);
    if (message.windows.length > 0) {
      const waiting: WaitingMessage = { worker, id: message.id, remaining: new Set(), kept: [] };
      for (const report of message.windows) {
        let open = state.windows.get(report.index);
        if (!open) state.windows.set(report.index, (open = { perWindow: message.perWindow, reports: [], firstReportAt: now }));
        open.reports.push({ worker, report });
        waiting.remaining.add(report.index);
      }
      state.waiting.push(waiting);
    }
    this.#settle(state, now);
    this.#armStragglerTimer();
  }

  /** A worker exited: it closes nothing more, so no window waits for it. */
  gone(worker: number): void {
    this.#gone.add(worker);
    for (const state of this.#processors.values()) this.#settle(state, Date.now());
  }

  #state(processor: string): ProcessorState {
    let state = this.#processors.get(processor);
    if (!state) this.#processors.set(processor, (state = { through: new Array<number>(this.#workers).fill(Number.NEGATIVE_INFINITY), windows: new Map(), waiting: [] }));
    return state;
  }

  #settle(state: ProcessorState, now: number): void {
    const due = [...state.windows.keys()]
      .filter((w) => now - state.windows.get(w)!.firstReportAt >= STRAGGLER_WAIT_MS || state.through.every((t, worker) => t >= w || this.#gone.has(worker)))
      .sort((a, b) => a - b);
    for (const w of due) {
      const open = state.windows.get(w)!;
      state.windows.delete(w);
      const reserved = open.reports.reduce((n, r) => n + r.report.reserved, 0);
      const slots = Math.max(0, open.perWindow - reserved);
      const all = open.reports.flatMap(({ worker, report }) => report.kept.map((traceId) => ({ worker, traceId, priority: tracePriority(traceId) })));
      all.sort((a, b) => (a.priority > b.priority ? -1 : a.priority < b.priority ? 1 : 0));
      const keptBy = new Map<number, string[]>();
      for (const c of all.slice(0, slots)) {
        const list = keptBy.get(c.worker);
        if (list) list.push(c.traceId);
        else keptBy.set(c.worker, [c.traceId]);
      }
      for (const waiting of state.waiting) {
        if (!waiting.remaining.delete(w)) continue;
        waiting.kept.push(...(keptBy.get(waiting.worker) ?? []));
      }
    }
    const done = state.waiting.filter((m) => m.remaining.size === 0);
    state.waiting = state.waiting.filter((m) => m.remaining.size > 0);
    for (const m of done) this.#answer(m.worker, m.id, m.kept);
  }

  #armStragglerTimer(): void {
    const pending = [...this.#processors.values()].some((s) => s.windows.size > 0);
    if (!pending || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      for (const state of this.#processors.values()) this.#settle(state, Date.now());
      this.#armStragglerTimer();
    }, 1_000);
    this.#timer.unref();
  }
}
