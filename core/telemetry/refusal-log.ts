/**
 * How receivers log refused requests. Backpressure (retryable) is routine under load and goes to
 * debug, where the request metric already shows it. A sender's broken payload goes to warn, folded
 * per refusal code into one line per interval with the count since the last, so a sender (or an
 * attacker) posting garbage in a loop cannot flood the log. Messages echo at most a short piece of
 * the sender's text (core/errors.ts `echo`).
 */
import type { SkybridgeError } from '../errors.ts';
import { BurstLog } from './burst-log.ts';
import type { Logger } from './logger.ts';

/** Longest refusal message logged; the decoders already cut echoed keys and values shorter. */
const MESSAGE_MAX_CHARS = 300;

export class RefusalLog {
  readonly #logger: Logger;
  readonly #what: string;
  readonly #bursts = new Map<string, BurstLog>();

  /** `what` names the request in the message: "an OTLP request", "a Zipkin request". */
  constructor(logger: Logger, what: string) {
    this.#logger = logger;
    this.#what = what;
  }

  refused(error: SkybridgeError, fields: Record<string, unknown>): void {
    const message = error.message.length > MESSAGE_MAX_CHARS ? `${error.message.slice(0, MESSAGE_MAX_CHARS)}…` : error.message;
    const line = { ...fields, code: error.code, error: message };
    if (error.retryable) {
      this.#logger.debug(line, `Refused ${this.#what}; the sender should retry.`);
      return;
    }
    let burst = this.#bursts.get(error.code);
    if (!burst) this.#bursts.set(error.code, (burst = new BurstLog()));
    const refusals = burst.take();
    if (refusals !== undefined) this.#logger.warn({ ...line, refusals }, `Refused ${this.#what} (similar refusals are folded into one line per 10 s; refusals counts them).`);
  }
}
