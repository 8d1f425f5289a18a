/**
 * The `admission:` block: the one bound on everything skybridge has acknowledged and not yet
 * delivered (docs/admission.md). It is process-wide, not per component, because memory is.
 */
import { getHeapStatistics } from 'node:v8';
import { z } from 'zod';
import { duration, size } from '../config/units.ts';

/** Share of the V8 heap limit the default bound takes; the rest is decode, encode and garbage. */
const HEAP_SHARE = 0.125;
const DEFAULT_CEILING = 80 * 1024 * 1024;
const DEFAULT_FLOOR = 32 * 1024 * 1024;

/**
 * An eighth of the heap limit, between 32 MiB and 80 MiB. Estimated bytes undercount what the
 * process really carries (garbage not yet collected, requests being decoded, encode buffers,
 * the flushed-span index), so the bound stays well below the limit. 80 MiB holds about two quiet
 * periods of 45,000 spans/s, more than one process delivers. Peak RSS under sustained overload, with
 * 96 MiB and with 80: OTLP/gRPC (`npm run bench -- --cases overload`) 486-494 and 480 MiB; Jaeger
 * Thrift and Zipkin JSON from 256 connections (`--cases jaeger_thrift --rate 2400 --concurrency 256`,
 * `--cases zipkin_json --rate 200 ...`) 513-514 and 472-491 MiB, 502-513 and 489 MiB. So 96 MiB
 * went past the 512 MiB bound for those formats; delivered spans per CPU-second stayed within the
 * runs' noise. (128 MiB had reached 518 MiB with OTLP.)
 */
export function defaultAdmissionBytes(heapLimit = getHeapStatistics().heap_size_limit): number {
  return Math.max(DEFAULT_FLOOR, Math.min(DEFAULT_CEILING, Math.floor(heapLimit * HEAP_SHARE)));
}

export const admissionConfigSchema = z
  .strictObject({
    max_bytes: size({ min: '1MiB', max: '64GiB' })
      .optional()
      .describe(
        'Estimated heap of every span and segment accepted but not yet delivered (trace buffers, processors, sending queues, streams in flight). ' +
          'Receivers refuse new data (retryable) while it is reached. Default: an eighth of the V8 heap limit, between 32 MiB and 80 MiB.',
      ),
    max_spans: z
      .number().int().min(1).max(100_000_000).default(2_000_000)
      .describe('Spans accepted but not yet delivered, a second bound beside max_bytes for many tiny spans.'),
    retry_after: duration({ min: '10ms', max: '1m' })
      .prefault('1s')
      .describe('How long refused senders are told to wait: gRPC RetryInfo, HTTP Retry-After.'),
  })
  .prefault({})
  .describe('The bound on data acknowledged to senders and not yet delivered.');

export type AdmissionConfig = z.output<typeof admissionConfigSchema>;

/** The ledger's limits from the `admission:` block, the default bound filled in. */
export function admissionLimits(config: AdmissionConfig): { maxBytes: number; maxSpans: number; retryAfterMs: number } {
  return { maxBytes: config.max_bytes ?? defaultAdmissionBytes(), maxSpans: config.max_spans, retryAfterMs: config.retry_after };
}
