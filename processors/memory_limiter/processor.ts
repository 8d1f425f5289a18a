import type { ComponentSettings, Processor } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { OverloadedError } from '../../core/errors.ts';
import { countSpans, type SpanBatch } from '../../core/model/span-batch.ts';
import type { MemoryLimiterConfig } from './config.ts';
import { resolveLimits, type MemoryLimits } from './limits.ts';
import { processMemory, type MemorySource } from './memory-source.ts';

/** 0 below the soft limit, 1 above it, 2 above the hard limit (the `skybridge_memory_limiter_state` gauge). */
export const MemoryState = { OK: 0, SOFT: 1, HARD: 2 } as const;
export type MemoryState = (typeof MemoryState)[keyof typeof MemoryState];

/** What tests (and embedders) may replace. */
export interface MemoryLimiterDeps {
  memory?: MemorySource;
  /**
   * Forces a full garbage collection. Defaults to `globalThis.gc`, which Node only defines when
   * started with `--expose-gc` (e.g. `NODE_OPTIONS=--expose-gc`); without it the limiter still
   * refuses but cannot force a collection.
   */
  gc?: (() => void) | undefined;
}

/** Forced collections that did not bring memory under the hard limit back off up to this many checks. */
const MAX_GC_SKIP = 32;
const MIB = 1024 * 1024;

/**
 * Refuses spans with a retryable OverloadedError while process memory (RSS) is above the soft
 * limit, and additionally forces a garbage collection above the hard limit. Memory is measured every
 * `check_interval`, not per call. Ack point: it holds nothing; `consume` resolves when the next
 * stage accepted the batch.
 */
export class MemoryLimiterProcessor implements Processor {
  readonly mutatesData = false;
  readonly #settings: ComponentSettings;
  readonly #config: MemoryLimiterConfig;
  readonly #next: TraceConsumer;
  readonly #memory: MemorySource;
  readonly #gc: (() => void) | undefined;
  readonly #limits: MemoryLimits;
  #state: MemoryState = MemoryState.OK;
  #timer: NodeJS.Timeout | undefined;
  /** Checks to let pass before the next forced GC; doubles while forced GCs do not help. */
  #gcBackoff = 1;
  #checksUntilGc = 0;
  #warnedNoGc = false;
  #stopped = false;

  constructor(settings: ComponentSettings, config: MemoryLimiterConfig, next: TraceConsumer, deps: MemoryLimiterDeps = {}) {
    this.#settings = settings;
    this.#config = config;
    this.#next = next;
    this.#memory = deps.memory ?? processMemory;
    this.#gc = 'gc' in deps ? deps.gc : (globalThis as { gc?: () => void }).gc;
    this.#limits = resolveLimits(config, () => this.#memory.total());
  }

  get state(): MemoryState {
    return this.#state;
  }

  async start(): Promise<void> {
    if (this.#stopped || this.#timer !== undefined) return;
    const { hard, soft } = this.#limits;
    this.#settings.logger.info({ hardLimitMiB: toMiB(hard), softLimitMiB: toMiB(soft), checkIntervalMs: this.#config.check_interval, forcedGc: this.#gc !== undefined }, 'Memory limiter armed.');
    this.check();
    this.#timer = setInterval(() => this.check(), this.#config.check_interval);
    this.#timer.unref?.();
  }

  abandon(traceIds: ReadonlySet<string>): void {
    this.#next.abandon?.(traceIds);
  }
  holds(traceId: string): boolean {
    return this.#next.holds?.(traceId) === true;
  }


  consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
    if (this.#state !== MemoryState.OK) {
      const n = countSpans(batch);
      this.#settings.metrics.memoryLimiterRefusedSpans.inc({ component: this.#settings.id }, n);
      return Promise.reject(
        new OverloadedError(
          `Memory use is above the memory limiter's soft limit (${toMiB(this.#limits.soft)} MiB); retry later.`,
          this.#config.retry_after,
        ),
      );
    }
    return this.#next.consume(batch, ctx);
  }

  /** One measurement: updates the state, and forces a GC above the hard limit. Runs every check_interval. */
  check(): void {
    let used = this.#memory.used();
    if (used >= this.#limits.hard) used = this.#collect(used);
    else this.#gcBackoff = 1;
    const state = used >= this.#limits.hard ? MemoryState.HARD : used >= this.#limits.soft ? MemoryState.SOFT : MemoryState.OK;
    const labels = { component: this.#settings.id };
    this.#settings.metrics.memoryLimiterUsedBytes.set(labels, used);
    this.#settings.metrics.memoryLimiterState.set(labels, state);
    if (state !== this.#state) this.#logTransition(this.#state, state, used);
    this.#state = state;
  }

  /** Forces a GC when due and returns memory measured after it. */
  #collect(used: number): number {
    if (this.#gc === undefined) {
      if (!this.#warnedNoGc) {
        this.#warnedNoGc = true;
        this.#settings.logger.warn({ usedMiB: toMiB(used) }, 'Memory is above the hard limit and garbage collection cannot be forced; start node with --expose-gc to allow it.');
      }
      return used;
    }
    if (this.#checksUntilGc > 0) {
      this.#checksUntilGc -= 1;
      return used;
    }
    this.#gc();
    const after = this.#memory.used();
    // A collection that freed too little is not repeated at once: every forced GC stops the world.
    if (after >= this.#limits.hard) this.#gcBackoff = Math.min(this.#gcBackoff * 2, MAX_GC_SKIP);
    else this.#gcBackoff = 1;
    this.#checksUntilGc = this.#gcBackoff - 1;
    this.#settings.logger.info({ beforeMiB: toMiB(used), afterMiB: toMiB(after) }, 'Forced a garbage collection above the hard memory limit.');
    return after;
  }

  #logTransition(from: MemoryState, to: MemoryState, used: number): void {
    const fields = { usedMiB: toMiB(used), softLimitMiB: toMiB(this.#limits.soft), hardLimitMiB: toMiB(this.#limits.hard) };
    if (to === MemoryState.OK) this.#settings.logger.info(fields, 'Memory is back below the soft limit; accepting spans again.');
    else if (from === MemoryState.OK) this.#settings.logger.warn(fields, 'Memory is above the soft limit; refusing new spans with a retryable status.');
  }

  async shutdown(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function toMiB(bytes: number): number {
  return Math.round((bytes / MIB) * 10) / 10;
}
