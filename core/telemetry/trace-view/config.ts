/**
 * `telemetry.trace_view`: how many recently assembled traces the trace view (/traces) and
 * `skybridge tap` keep. They keep references to spans and segments already built, so what they
 * cost in memory is what these bounds let stay alive after the exporters are done with it.
 */
import { z } from 'zod';
import { size } from '../../config/units.ts';

export const traceViewConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Keep recent traces for /traces and `skybridge tap`; false keeps nothing.'),
    max_traces: z
      .number().int().min(1).max(10_000).default(100)
      .describe('Traces kept; past it the least recently assembled trace is forgotten.'),
    max_spans: z
      .number().int().min(1).max(1_000_000).default(10_000)
      .describe('Source spans kept across all traces (each with its part of the segments); past it the oldest traces are forgotten.'),
    max_bytes: size({ min: '64KiB', max: '1GiB' })
      .prefault('8MiB')
      .describe('Estimated heap the kept spans and their segments may hold (e.g. 8MiB); past it the oldest traces are forgotten, and a trace larger than this alone is kept cut.'),
    max_spans_per_trace: z
      .number().int().min(1).max(100_000).default(500)
      .describe('Source spans kept of one trace; a larger trace is shown with its first ones (marked truncated).'),
  })
  .prefault({})
  .describe('The live trace view on the telemetry port (/traces) and the stream `skybridge tap` reads.');

export type TraceViewConfig = z.output<typeof traceViewConfigSchema>;
