/**
 * Starts an `otlp` receiver on ephemeral loopback ports with a `next` that records what it accepted
 * (or refuses with a given error), plus fresh Metrics, for tests.
 */
import type { ComponentSettings } from '../../../core/component.ts';
import type { TraceConsumer } from '../../../core/consumer.ts';
import type { SpanBatch, Span } from '../../../core/model/span-batch.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { Metrics } from '../../../core/telemetry/metrics.ts';
import { otlpConfigSchema } from '../config.ts';
import { OtlpReceiver } from '../receiver.ts';

/** A started receiver and what reached its `next`. */
export interface TestReceiver {
  readonly receiver: OtlpReceiver;
  readonly metrics: Metrics;
  /** Batches `next` accepted, in order. */
  readonly batches: SpanBatch[];
  /** Replace to make `next` refuse (throw) or stall; receives each batch. */
  consume: (batch: SpanBatch) => Promise<void>;
  readonly grpcUrl: string;
  readonly httpUrl: string;
  /** Every accepted span, flattened, by name. */
  spansByName(): Map<string, Span>;
  stop(): Promise<void>;
}

/** `config` is merged over loopback port-0 endpoints for both transports. */
export async function startTestReceiver(config: { grpc?: Record<string, unknown> | null; http?: Record<string, unknown> | null } = {}): Promise<TestReceiver> {
  const metrics = new Metrics();
  const settings: ComponentSettings = { id: 'otlp/test', kind: 'receiver', logger: createLogger({ level: 'silent' }), metrics };
  const parsed = otlpConfigSchema.parse({
    grpc: config.grpc === null ? null : { endpoint: '127.0.0.1:0', ...config.grpc },
    http: config.http === null ? null : { endpoint: '127.0.0.1:0', ...config.http },
  });
  const batches: SpanBatch[] = [];
  const t: TestReceiver = {
    receiver: undefined as unknown as OtlpReceiver,
    metrics,
    batches,
    consume: async (batch) => {
      batches.push(batch);
    },
    grpcUrl: '',
    httpUrl: '',
    spansByName() {
      const out = new Map<string, Span>();
      for (const b of batches) for (const rs of b.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) out.set(s.name, s);
      return out;
    },
    stop: () => receiver.shutdown(AbortSignal.timeout(5000)),
  };
  const next: TraceConsumer = { mutatesData: false, consume: (batch) => t.consume(batch) };
  const receiver = new OtlpReceiver(settings, parsed, next);
  await receiver.start({ reportFatal: (id, err) => { throw new Error(`${id} reported fatal: ${err.message}`); } });
  return Object.assign(t, {
    receiver,
    grpcUrl: receiver.grpcPort === undefined ? '' : `http://127.0.0.1:${receiver.grpcPort}`,
    httpUrl: receiver.httpPort === undefined ? '' : `http://127.0.0.1:${receiver.httpPort}${parsed.http?.path ?? ''}`,
  });
}
