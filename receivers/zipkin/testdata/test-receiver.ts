/**
 * A started ZipkinReceiver on 127.0.0.1:0 with a sink `next` for tests, and a raw HTTP POST helper
 * that still reports the answer when the server closes the connection before reading the body
 * (413s do).
 */
import http from 'node:http';
import type { ConsumeContext, TraceConsumer } from '../../../core/consumer.ts';
import type { SpanBatch } from '../../../core/model/span-batch.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { Metrics } from '../../../core/telemetry/metrics.ts';
import { zipkinConfigSchema } from '../config.ts';
import { ZipkinReceiver } from '../receiver.ts';

export interface TestReceiver {
  receiver: ZipkinReceiver;
  metrics: Metrics;
  /** Batches `next` accepted, in order. */
  batches: SpanBatch[];
  /** Set to make `next.consume` reject with this error (undefined: accept). */
  refuseWith: Error | undefined;
  /** Set to make `next.admit` throw this error, as the runtime's does while the admission ledger is full. */
  admitWith: Error | undefined;
  url(path: string): string;
  stop(): Promise<void>;
}

export async function startTestReceiver(config: Record<string, unknown> = {}): Promise<TestReceiver> {
  const metrics = new Metrics();
  const batches: SpanBatch[] = [];
  const state = { refuseWith: undefined as Error | undefined, admitWith: undefined as Error | undefined };
  const next: TraceConsumer = {
    mutatesData: false,
    async consume(batch: SpanBatch, _ctx: ConsumeContext): Promise<void> {
      if (state.refuseWith !== undefined) throw state.refuseWith;
      batches.push(batch);
    },
    admit(): void {
      if (state.admitWith !== undefined) throw state.admitWith;
    },
  };
  const settings = { id: 'zipkin', kind: 'receiver' as const, logger: createLogger({ level: 'silent' }), metrics };
  const receiver = new ZipkinReceiver(settings, zipkinConfigSchema.parse({ endpoint: '127.0.0.1:0', ...config }), next);
  await receiver.start({ reportFatal: (_id, err) => { throw err; } });
  return {
    receiver,
    metrics,
    batches,
    get refuseWith() {
      return state.refuseWith;
    },
    set refuseWith(e: Error | undefined) {
      state.refuseWith = e;
    },
    get admitWith() {
      return state.admitWith;
    },
    set admitWith(e: Error | undefined) {
      state.admitWith = e;
    },
    url: (path) => `http://127.0.0.1:${receiver.port}${path}`,
    stop: () => receiver.shutdown(AbortSignal.timeout(2000)),
  };
}

export interface PostAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** POSTs `body` and resolves with the answer; write errors after the answer are ignored. */
export function post(url: string, body: Buffer | string, headers: http.OutgoingHttpHeaders = {}): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      // The server may answer and close before it read the whole body; the answer is what counts.
      if (answered) return;
      reject(err);
    });
    req.end(body);
  });
}
