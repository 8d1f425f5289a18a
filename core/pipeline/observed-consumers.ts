/**
 * Wrappers the runtime puts around every component so the standard counters exist without any
 * component hand-rolling them (the Collector's obsreport).
 */
import type { AdmissionLedger } from '../admission/admission-ledger.ts';
import { forwardTraceCalls, type ConsumeContext, type EncodedConsumeResult, type TraceConsumer } from '../consumer.ts';
import { asSkybridgeError } from '../errors.ts';
import { countSpans, type SpanBatch } from '../model/span-batch.ts';
import type { Metrics } from '../telemetry/metrics.ts';

/**
 * The `next` a receiver gets: refuses (retryable) while the admission ledger is full, so the bound
 * is checked once for every receiver before anything downstream takes the batch; counts accepted
 * spans, and refused spans with the refusal's code.
 */
export function observeReceiverOutput(receiverId: string, next: TraceConsumer, metrics: Metrics, admission?: AdmissionLedger): TraceConsumer {
  const who = `Receiver ${receiverId}`;
  return {
    mutatesData: next.mutatesData,
    ...forwardTraceCalls(next),
    admit: () => admission?.admit(who),
    async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
      const n = countSpans(batch);
      try {
        admission?.admit(who);
        await next.consume(batch, ctx);
      } catch (err) {
        const error = asSkybridgeError(err);
        metrics.receiverRefusedSpans.inc({ component: receiverId, transport: ctx.transport, reason: error.code }, n);
        throw error;
      }
      metrics.receiverAcceptedSpans.inc({ component: receiverId, transport: ctx.transport }, n);
    },
    ...(next.consumeEncodedOtlp === undefined
      ? {}
      : {
          async consumeEncodedOtlp(bytes: Uint8Array, ctx: ConsumeContext): Promise<EncodedConsumeResult> {
            // Not decoded in this thread: a refused request's spans are not counted (its request is).
            admission?.admit(who);
            const result = await next.consumeEncodedOtlp!(bytes, ctx);
            metrics.receiverAcceptedSpans.inc({ component: receiverId, transport: ctx.transport }, result.spanCount - result.rejectedSpans);
            return result;
          },
        }),
  };
}

/**
 * Counts spans handed to a processor instance. Outgoing spans are counted by the wrapper on its
 * `next`. A processor listed in two pipelines is two instances: `pipeline` tells their series apart.
 */
export function observeProcessorInput(processorId: string, pipelineId: string, consumer: TraceConsumer, metrics: Metrics): TraceConsumer {
  return {
    mutatesData: consumer.mutatesData,
    ...forwardTraceCalls(consumer),
    consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
      metrics.processorIncomingSpans.inc({ component: processorId, pipeline: pipelineId }, countSpans(batch));
      return consumer.consume(batch, ctx);
    },
  };
}

export function observeProcessorOutput(processorId: string, pipelineId: string, next: TraceConsumer, metrics: Metrics): TraceConsumer {
  return {
    mutatesData: next.mutatesData,
    ...forwardTraceCalls(next),
    async consume(batch: SpanBatch, ctx: ConsumeContext): Promise<void> {
      await next.consume(batch, ctx);
      metrics.processorOutgoingSpans.inc({ component: processorId, pipeline: pipelineId }, countSpans(batch));
    },
  };
}
