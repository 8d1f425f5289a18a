import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { ComponentSettings, Host } from '../../core/component.ts';
import { ledgerOf, type LedgerAccount } from '../../core/admission/admission-ledger.ts';
import type { SegmentSink } from '../../core/segments/segment-sink.ts';
import type { AssembledSegment, SegmentObject } from '../../core/segments/segment-object.ts';
import type { DropReason } from '../../core/telemetry/metrics.ts';
import type { DebugConfig } from './config.ts';
import { segmentJson, segmentSummary } from './segment-json.ts';

/**
 * How far past its highWaterMark a stream's buffer may grow before new spans are refused. Some
 * overshoot is normal (one delivery is written whole); a buffer many times the mark means the
 * reader (a pipe, a slow disk) has stopped keeping up.
 */
const OVERFLOW_FACTOR = 16;

/** Streams standing in for the process's stdout and stderr (tests). */
export interface StdStreams {
  stdout: Writable;
  stderr: Writable;
}

/**
 * The `debug` exporter's sink (composed with the trace assembler by SegmentExporter, see
 * factory.ts): writes segments as JSON lines. Ack point: as for every SegmentExporter, spans are
 * acknowledged once the trace assembler holds them; a segment counts as sent once the stream took
 * its line (the write callback). Nothing is retried: a stream that failed stays failed, and what is
 * delivered to it afterwards is counted as `export_rejected` drops.
 */
export class DebugSink implements SegmentSink {
  /** A line written is not a delivery anyone waits for: `ack: after_export` does not apply. */
  readonly settlesReceipts = false;
  readonly #settings: ComponentSettings;
  readonly #config: DebugConfig;
  readonly #std: StdStreams;
  #stream: Writable | undefined;
  /** True for a file stream this exporter opened and must end; false for stdout/stderr. */
  #ownsStream = false;
  #failed = false;
  #closed = false;
  /** Spans handed to the stream whose write has not completed; counted as drops if shutdown gives up on them. */
  #pendingSpans = 0;
  #pendingWrites = 0;
  /** Called when the last pending write completed (shutdown waits on it). */
  #onIdle: (() => void) | undefined;
  #abandoned = false;
  /** Lines handed to the stream and not yet written, in the admission ledger until their callback. */
  readonly #account: LedgerAccount;
  readonly #onStreamError = (error: Error): void => {
    if (!this.#failed) this.#settings.logger.error({ error, output: this.#config.output }, 'The debug output failed; segments are dropped from now on.');
    this.#failed = true;
  };

  describe(): string[] {
    return [`segments as JSON lines to ${this.#config.output}`];
  }

  /** `std` replaces process.stdout/stderr (tests). */
  constructor(settings: ComponentSettings, config: DebugConfig, std: StdStreams = { stdout: process.stdout, stderr: process.stderr }) {
    this.#settings = settings;
    this.#account = ledgerOf(settings).account(`${settings.id}/output`);
    this.#config = config;
    this.#std = std;
  }

  async start(_host: Host): Promise<void> {
    const { output } = this.#config;
    if (output === 'stdout' || output === 'stderr') {
      this.#stream = this.#std[output];
    } else {
      const file = createWriteStream(output, { flags: 'a' });
      // Fail start (a startup error) rather than the first write when the path is unusable.
      await Promise.race([once(file, 'open'), once(file, 'error').then(([error]) => Promise.reject(error as Error))]);
      this.#stream = file;
      this.#ownsStream = true;
    }
    this.#stream.on('error', this.#onStreamError);
  }

  hasCapacity(): boolean {
    const stream = this.#stream;
    // A failed stream never drains; refusing spans for it would stall the senders for nothing.
    if (stream === undefined || this.#failed) return true;
    return stream.writableLength <= stream.writableHighWaterMark * OVERFLOW_FACTOR;
  }

  deliver(segments: AssembledSegment[]): void {
    let spans = 0;
    for (const { segment } of segments) spans += segment.spans.length;
    const stream = this.#stream;
    if (this.#closed || stream === undefined) return this.#drop('shutdown_timeout', spans);
    if (this.#failed) return this.#drop('export_rejected', spans);

    const line = this.#config.verbosity === 'basic' ? (s: SegmentObject) => segmentSummary(s) : (s: SegmentObject) => segmentJson(s);
    let text = '';
    for (const { segment } of segments) text += `${JSON.stringify(line(segment))}\n`;
    this.#pendingSpans += spans;
    this.#pendingWrites += 1;
    // A JS string costs up to two bytes a character until the stream encodes it.
    const bytes = text.length * 2;
    this.#account.add(bytes, spans);
    // One write per delivery; the callback is the point the line left skybridge's hands.
    stream.write(text, (error) => {
      this.#account.release(bytes, spans);
      if (this.#abandoned) return;
      this.#pendingSpans -= spans;
      if (--this.#pendingWrites === 0) this.#onIdle?.();
      if (error) return this.#drop('export_rejected', spans);
      const component = this.#settings.id;
      const now = Date.now();
      this.#settings.metrics.exporterSentSegments.inc({ component }, segments.length);
      this.#settings.metrics.exporterSentSpans.inc({ component }, spans);
      for (const { receivedAtMs } of segments) this.#settings.metrics.exportLatency.observe({ component }, (now - receivedAtMs) / 1000);
    });
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    this.#closed = true;
    const stream = this.#stream;
    if (stream === undefined) return;
    const flushed = this.#ownsStream ? finished(stream) : this.#writesDone();
    const aborted = new Promise<void>((resolve) => {
      if (deadline.aborted) resolve();
      else deadline.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([flushed, aborted]);
    if (this.#pendingSpans > 0 && !this.#failed) {
      this.#abandoned = true;
      this.#drop('shutdown_timeout', this.#pendingSpans);
      this.#pendingSpans = 0;
      if (this.#ownsStream) stream.destroy();
    }
    // stdout/stderr outlive the exporter; only our listener goes.
    if (!this.#ownsStream) stream.off('error', this.#onStreamError);
  }

  /** Resolves once every write handed to a shared stream completed (its callback ran). */
  #writesDone(): Promise<void> {
    if (this.#pendingWrites === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#onIdle = resolve));
  }

  #drop(reason: DropReason, spans: number): void {
    this.#settings.metrics.recordDrop(this.#settings.id, reason, spans);
  }
}

/** Resolves once an owned stream has written everything and closed (or failed). */
function finished(stream: Writable): Promise<void> {
  // A stream that failed has closed already (autoDestroy): its 'close' will not come again.
  if (stream.closed || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.end();
  });
}
