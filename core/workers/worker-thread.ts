/**
 * One worker thread of `workers: N`: loads the same config as the main thread and runs every
 * pipeline (processors and exporters) without the receivers, for the traces the main thread routes
 * here. It answers each `consume` once its pipelines accepted the spans, so the main thread's
 * acknowledgement to the sender still means what it means with one thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { components } from '../../components.ts';
import { AdmissionLedger } from '../admission/admission-ledger.ts';
import { admissionLimits } from '../admission/config.ts';
import { loadAndValidate } from '../collector.ts';
import type { WindowCoordinator } from '../component.ts';
import { asDecodeError, asSkybridgeError } from '../errors.ts';
import { Service } from '../pipeline/service.ts';
import { createLogger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import { answerTraceView, type StopTap, type TraceViewBackend } from '../telemetry/trace-view/backend.ts';
import { traceViewSource } from '../telemetry/trace-view/trace-view-route.ts';
import { decodeProtobufTraces } from '../../receivers/otlp/decode-protobuf.ts';
import { serializeError, type FromWorker, type ToWorker } from './messages.ts';
import { SharedHoldings } from './shared-holdings.ts';
import type { WorkerData } from './worker-pool.ts';

/** How often this worker's valves (a stalled stream, a full Redis queue) are published to the main thread. */
const VALVE_PUBLISH_MS = 20;

const port = parentPort!;
const data = workerData as WorkerData;
const post = (message: FromWorker) => port.postMessage(message);

async function run(): Promise<void> {
  let service: Service;
  let admission: AdmissionLedger;
  let traceView: TraceViewBackend | undefined;
  /** The trace view's open taps in this worker: tap id → stop. */
  const taps = new Map<number, StopTap>();
  const waitingWindows = new Map<number, (kept: string[]) => void>();
  let nextWindowsId = 1;
  try {
    const { config } = await loadAndValidate(data.source, components);
    const logger = createLogger({ level: config.telemetry.log_level }).child({ worker: data.index });
    const metrics = new Metrics({ thread: `worker-${data.index}`, processWide: false });
    admission = new AdmissionLedger(admissionLimits(config.admission), metrics, {
      holdings: new SharedHoldings(data.holdings, data.index + 1),
      reportLimits: false,
    });
    const windows: WindowCoordinator = {
      settle(processor, perWindow, through, closed) {
        const id = nextWindowsId++;
        post({ type: 'windows', id, processor, perWindow, through, windows: closed });
        if (closed.length === 0) return Promise.resolve([]);
        return new Promise((resolve) => waitingWindows.set(id, resolve));
      },
    };
    const traceViewParts = traceViewSource(config.telemetry);
    traceView = traceViewParts.backend;
    service = new Service(config, {
      metrics,
      logger,
      admission,
      windows,
      traceRecorder: traceViewParts.recorder,
      part: 'pipelines',
      onFatal: (component, error) => post({ type: 'fatal', component, message: error.message }),
    });
    await service.start();
  } catch (error) {
    post({ type: 'start-failed', message: error instanceof Error ? error.message : String(error) });
    return;
  }
  setInterval(() => admission.publishValves(), VALVE_PUBLISH_MS).unref();

  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'consume':
        consume(service, message).then(post);
        return;
      case 'holds':
        Promise.resolve(service.holds(message.traceId)).then((held) => post({ type: 'held', id: message.id, held }));
        return;
      case 'abandon':
        service.abandon(new Set(message.traceIds));
        return;
      case 'metrics':
        service.metrics.registry.getMetricsAsJSON().then((metrics) => post({ type: 'metrics', id: message.id, metrics }));
        return;
      case 'trace-view': {
        const answered = traceView ? answerTraceView(traceView, message.request) : Promise.resolve(undefined);
        answered.then((answer) => post({ type: 'trace-view', id: message.id, answer }));
        return;
      }
      case 'tap':
        taps.get(message.tapId)?.();
        taps.delete(message.tapId);
        if (message.options && traceView) {
          const { tapId } = message;
          taps.set(tapId, traceView.tap(message.options, (lines) => post({ type: 'tap-lines', tapId, lines })));
        }
        return;
      case 'windows-settled':
        waitingWindows.get(message.id)?.(message.kept);
        waitingWindows.delete(message.id);
        return;
      case 'shutdown':
        service.shutdown(message.timeoutMs).then(() => {
          post({ type: 'stopped', id: message.id });
          port.close();
        });
        return;
    }
  });
  post({ type: 'ready', exporterLines: service.exporterLines(), valves: admission.valveNames });
}

async function consume(service: Service, message: Extract<ToWorker, { type: 'consume' }>): Promise<FromWorker> {
  let decoded;
  try {
    decoded = decodeProtobufTraces(message.bytes);
  } catch (err) {
    return { type: 'refused', id: message.id, error: serializeError(asDecodeError(err, 'the OTLP protobuf request')) };
  }
  try {
    if (decoded.spanCount > 0) await service.headFor(message.receiver).consume(decoded.batch, { receiver: message.receiver, transport: message.transport });
  } catch (err) {
    return { type: 'refused', id: message.id, error: serializeError(asSkybridgeError(err)) };
  }
  return { type: 'consumed', id: message.id, spanCount: decoded.spanCount, rejectedSpans: decoded.rejectedSpans, rejectMessage: decoded.rejectMessage };
}

await run();
