import { z } from 'zod';
import { duration, size } from '../../core/config/units.ts';

export const batchConfigSchema = z
  .strictObject({
    send_batch_size: z
      .number().int().min(1).max(1_000_000).default(512)
      .describe('A batch is sent as soon as it holds this many spans (a trigger, not a cap: the trace that crosses it stays whole).'),
    send_batch_max_size: z
      .number().int().min(0).max(10_000_000).default(0)
      .describe(
        'Most spans in one batch; 0 means no cap. Batches are cut only between traces, so a single trace with more spans than this is sent alone. Must be 0 or at least send_batch_size.',
      ),
    send_batch_max_bytes: size({ min: '1KiB', max: '1GiB' })
      .prefault('4MiB')
      .describe(
        'Most bytes in one batch, estimated as OTLP protobuf. Reaching it sends the batch; batches are cut only between traces, so a single larger trace is sent alone.',
      ),
    timeout: duration({ max: '1m' })
      .prefault('200ms')
      .describe('Longest time the first span of a batch waits before the batch is sent whatever its size. "0ms" sends what each call brought at once (cut by the caps).'),
    wait_for_result: z
      .boolean()
      .default(true)
      .describe(
        'true: a caller is answered only once every batch holding its spans was accepted downstream, and gets the downstream error otherwise (nothing acknowledged is lost). false: callers are answered once their spans are buffered; a downstream refusal is then a counted drop.',
      ),
    max_pending_spans: z
      .number().int().min(1).max(100_000_000).default(65_536)
      .describe('Most spans held at once, buffered or being sent. Beyond this new spans are refused with a retryable status (429 / RESOURCE_EXHAUSTED).'),
  })
  .superRefine((c, ctx) => {
    if (c.send_batch_max_size !== 0 && c.send_batch_max_size < c.send_batch_size) {
      ctx.addIssue({
        code: 'custom',
        path: ['send_batch_max_size'],
        message: `send_batch_max_size (${c.send_batch_max_size}) is below send_batch_size (${c.send_batch_size}). Fix: make send_batch_max_size at least send_batch_size, or 0 for no cap.`,
      });
    }
    const largestBatch = Math.max(c.send_batch_size, c.send_batch_max_size);
    if (c.max_pending_spans < largestBatch) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_pending_spans'],
        message: `max_pending_spans (${c.max_pending_spans}) is below the largest batch (${largestBatch}), so a full batch could never be held. Fix: make max_pending_spans at least ${largestBatch}.`,
      });
    }
  })
  .describe('Groups spans into batches by span count, estimated bytes and time, cutting only between traces.');

export type BatchConfig = z.output<typeof batchConfigSchema>;
