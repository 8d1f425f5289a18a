/**
 * The `sample_n_per_3_secs` budget, decided so that every replica fed the same traces keeps the
 * same ones, whatever order and timing they arrive in.
 *
 * - A trace belongs to the 3-second window its earliest span started in (span time, the same on
 *   every replica; not arrival time, which is not). Window w covers [3w, 3w + 3) seconds.
 * - Window w closes on the local clock at its end plus a grace (`decision_wait`), so traces that
 *   start near its end still reach the collector and become ready in time to compete.
 * - Must-keep traces are passed on as soon as they are ready and `reserve` a slot of their window.
 * - Every other trace is a candidate. When w closes it keeps the N − reserved candidates with the
 *   highest trace-id randomness (W3C Level 2: the rightmost 56 bits of the trace id; the whole id
 *   breaks ties). That is a top-k, a function of the window's set of traces alone.
 * - It is applied as traces arrive rather than at the close: a window holds at most N − reserved
 *   members, and a candidate below all of them, or pushed out by a better one or by a must-keep
 *   trace, is dropped at once. The slots only shrink and the bar only rises, so a trace dropped
 *   early would be dropped at the close too; only the kept ones wait for the close.
 * - A trace that becomes ready after its window closed (clock skew, very slow delivery) joins the
 *   oldest window still open; one that starts implausibly far ahead joins the next window. Those
 *   two are the only cases where replicas can disagree.
 */

export const WINDOW_MS = 3_000;

/**
 * Sort key for a trace: its 56 random bits as 14 lower-case hex digits (fixed width, so string
 * order is number order), then the whole id.
 */
export function tracePriority(traceId: string): string {
  return traceId.slice(-14) + traceId;
}

interface Member {
  readonly priority: string;
  readonly traceId: string;
}

interface Window {
  readonly index: number;
  readonly closesAtMs: number;
  /** Slots already spent: must-keep traces, and traces kept early (evicted, oversized). */
  reserved: number;
  /** Candidates kept so far, highest priority first; never more than N − reserved. */
  readonly members: Member[];
}

export interface ClosedWindow {
  index: number;
  /** Candidates kept at the close. */
  kept: string[];
  /** Slots spent before the close (must-keep and early keeps). */
  reserved: number;
}

export interface Offer {
  admitted: boolean;
  /** Members pushed out by this one: drop them now. */
  pushedOut: string[];
}

export class WindowBudget {
  readonly #perWindow: number;
  readonly #graceMs: number;
  readonly #windows = new Map<number, Window>();
  readonly #memberOf = new Map<string, number>();
  /** Highest window index closed so far: never reopened, even if the clock steps back. */
  #closedThrough = Number.NEGATIVE_INFINITY;

  constructor(perWindow: number, graceMs: number) {
    this.#perWindow = perWindow;
    this.#graceMs = graceMs;
  }

  /** Candidates held across all open windows. */
  get members(): number {
    return this.#memberOf.size;
  }

  get openWindows(): number {
    return this.#windows.size;
  }

  /** The window a trace that started at `startMs` competes in, deciding at local time `now`. */
  windowFor(startMs: number, now: number): number {
    const oldestOpen = Math.max(Math.floor((now - this.#graceMs) / WINDOW_MS), this.#closedThrough + 1);
    const newest = Math.floor(now / WINDOW_MS) + 1;
    const w = Math.floor(startMs / WINDOW_MS);
    return w < oldestOpen ? oldestOpen : w > newest ? Math.max(newest, oldestOpen) : w;
  }

  /** The window a candidate is a member of, if it is one. */
  memberWindow(traceId: string): number | undefined {
    return this.#memberOf.get(traceId);
  }

  /** Would `traceId` get a slot in window `w` now? */
  wouldAdmit(w: number, traceId: string): boolean {
    const win = this.#windows.get(w);
    if (!win) return this.#perWindow > 0;
    const slots = this.#slots(win);
    if (slots === 0) return false;
    return win.members.length < slots || tracePriority(traceId) > win.members[win.members.length - 1]!.priority;
  }

  /** A candidate asks for a slot in window `w`. */
  offer(w: number, traceId: string): Offer {
    const win = this.#open(w);
    const slots = this.#slots(win);
    const priority = tracePriority(traceId);
    const members = win.members;
    if (slots === 0 || (members.length >= slots && priority <= members[members.length - 1]!.priority)) return { admitted: false, pushedOut: [] };
    // Binary search for the first member below the newcomer (members are sorted high → low).
    let lo = 0;
    let hi = members.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (members[mid]!.priority > priority) lo = mid + 1;
      else hi = mid;
    }
    members.splice(lo, 0, { priority, traceId });
    this.#memberOf.set(traceId, w);
    return { admitted: true, pushedOut: this.#trim(win) };
  }

  /** A must-keep trace (or one kept early) spends a slot of window `w`; returns members pushed out. */
  reserve(w: number): string[] {
    const win = this.#open(w);
    win.reserved++;
    return this.#trim(win);
  }

  /** Takes a member out of its window (it became must-keep, matched a drop policy or left early). */
  withdraw(traceId: string): number | undefined {
    const w = this.#memberOf.get(traceId);
    if (w === undefined) return undefined;
    this.#memberOf.delete(traceId);
    const members = this.#windows.get(w)?.members;
    const at = members?.findIndex((m) => m.traceId === traceId) ?? -1;
    if (at >= 0) members!.splice(at, 1);
    return w;
  }

  /** Closes every window whose close time has come, oldest first. */
  closeDue(now: number): ClosedWindow[] {
    const due = [...this.#windows.values()].filter((w) => w.closesAtMs <= now);
    return this.#close(due);
  }

  /** Closes every open window (shutdown). */
  closeAll(): ClosedWindow[] {
    return this.#close([...this.#windows.values()]);
  }

  #close(windows: Window[]): ClosedWindow[] {
    windows.sort((a, b) => a.index - b.index);
    return windows.map((win) => {
      this.#windows.delete(win.index);
      if (win.index > this.#closedThrough) this.#closedThrough = win.index;
      for (const m of win.members) this.#memberOf.delete(m.traceId);
      return { index: win.index, kept: win.members.map((m) => m.traceId), reserved: win.reserved };
    });
  }

  #open(w: number): Window {
    let win = this.#windows.get(w);
    if (!win) {
      win = { index: w, closesAtMs: (w + 1) * WINDOW_MS + this.#graceMs, reserved: 0, members: [] };
      this.#windows.set(w, win);
    }
    return win;
  }

  #slots(win: Window): number {
    return Math.max(0, this.#perWindow - win.reserved);
  }

  #trim(win: Window): string[] {
    const slots = this.#slots(win);
    const out: string[] = [];
    while (win.members.length > slots) {
      const m = win.members.pop()!;
      this.#memberOf.delete(m.traceId);
      out.push(m.traceId);
    }
    return out;
  }
}
