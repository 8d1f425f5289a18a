/**
 * Load → validate → build → start, the programmatic form of `skybridge --config F`. Tests and the
 * benchmark run collectors in-process through this; the CLI adds signals and exit codes.
 */
import type { ExporterFactory, ProcessorFactory, ReceiverFactory } from './component.ts';
import { loadConfigFile, loadConfigText } from './config/load.ts';
import { formatProblems, validateConfig, type ConfigProblem, type ValidatedConfig } from './config/validate.ts';
import { Service } from './pipeline/service.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { Metrics } from './telemetry/metrics.ts';
import { TelemetryServer, type MetricsPage } from './telemetry/telemetry-server.ts';
import { PAGE_ASSETS_PATH, pageAssetsRoute } from './telemetry/page-assets/page-assets-route.ts';
import { STATUS_PATH, statusRoute } from './telemetry/status/status-route.ts';
import { topologyOf } from './telemetry/status/topology.ts';
import { traceViewRoute, traceViewSource, type TraceViewSource } from './telemetry/trace-view/trace-view-route.ts';
import { AdmissionLedger } from './admission/admission-ledger.ts';
import { admissionLimits } from './admission/config.ts';
import { routeToWorkers } from './workers/routed-consumer.ts';
import { SharedHoldings } from './workers/shared-holdings.ts';
import { resolveWorkers } from './workers/worker-count.ts';
import { WorkerPool } from './workers/worker-pool.ts';

export interface Factories {
  receivers: readonly ReceiverFactory[];
  processors: readonly ProcessorFactory[];
  exporters: readonly ExporterFactory[];
}

export class ConfigInvalidError extends Error {
  readonly problems: ConfigProblem[];
  readonly report: string;
  constructor(fileName: string, problems: ConfigProblem[]) {
    const report = formatProblems(fileName, problems);
    super(report);
    this.name = 'ConfigInvalidError';
    this.problems = problems;
    this.report = report;
  }
}

export interface ConfigSource {
  /** A file path, or inline YAML text with a name for messages. */
  file?: string;
  text?: string;
  name?: string;
  env?: NodeJS.ProcessEnv;
}

export async function loadAndValidate(source: ConfigSource, factories: Factories): Promise<{ config: ValidatedConfig; warnings: string[] }> {
  const env = source.env ?? process.env;
  const fileName = source.file ?? source.name ?? 'pipelines.yaml';
  const loaded = source.text !== undefined ? loadConfigText(source.text, fileName, env) : loadConfigFile(source.file!, env);
  // An unreadable file or YAML syntax error leaves nothing to validate; otherwise validate anyway so
  // an unset variable does not hide every other problem in the file.
  if (loaded.raw === undefined) throw new ConfigInvalidError(fileName, loaded.problems);
  const result = validateConfig(
    loaded.raw,
    { receivers: [...factories.receivers], processors: [...factories.processors], exporters: [...factories.exporters] },
    loaded.locate,
    loaded.problems,
  );
  const problems = [...loaded.problems, ...result.problems];
  if (!result.config || problems.length > 0) throw new ConfigInvalidError(fileName, problems);
  return { config: result.config, warnings: result.warnings ?? [] };
}

export interface RunningCollector {
  service: Service;
  metrics: Metrics;
  logger: Logger;
  telemetry: TelemetryServer | undefined;
  /** Threads running the pipelines (1: the main thread runs everything). */
  workers: number;
  /** Prometheus text of every thread's metrics (what /metrics serves). */
  metricsText(): Promise<string>;
  /** Lines saying where to send spans and where output goes. */
  describe(): string[];
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  onFatal?: (id: string, error: Error) => void;
  /**
   * Worker threads when the config has no `workers:` key (default 1). With more than one, the
   * workers run the standard `components` (components.ts), not `factories`, and the pipelines'
   * components are not reachable through `service.component()`.
   */
  defaultWorkers?: number | 'auto';
}

export async function startCollector(source: ConfigSource, factories: Factories, opts: StartOptions = {}): Promise<RunningCollector> {
  const { config, warnings } = await loadAndValidate(source, factories);
  const logger = opts.logger ?? createLogger({ level: config.telemetry.log_level });
  for (const w of warnings) logger.warn(w);
  const metrics = new Metrics();
  const workers = resolveWorkers(config.workers ?? opts.defaultWorkers ?? 1);
  let pool: WorkerPool | undefined;
  let service: Service;
  let traceView: TraceViewSource;
  if (workers > 1) {
    // Slot 0 is this thread's (it holds nothing for long); slot k + 1 is worker k's.
    const holdings = SharedHoldings.allocate(workers + 1);
    const admission = new AdmissionLedger(admissionLimits(config.admission), metrics, {
      holdings: new SharedHoldings(holdings, 0),
      valveName: (slot, index) => pool!.valveName(slot, index),
    });
    pool = new WorkerPool({ count: workers, source, holdings, logger, onFatal: (id, error) => opts.onFatal?.(id, error) });
    traceView = traceViewSource(config.telemetry, pool);
    const route = routeToWorkers(pool);
    service = new Service(config, { metrics, logger, onFatal: opts.onFatal, admission, part: { receiversRouteTo: () => route } });
  } else {
    traceView = traceViewSource(config.telemetry);
    service = new Service(config, { metrics, logger, onFatal: opts.onFatal, traceRecorder: traceView.recorder });
  }
  const metricsPage: MetricsPage = {
    contentType: metrics.registry.contentType,
    text: async () => (pool ? pool.metricsText(await metrics.registry.getMetricsAsJSON()) : metrics.registry.metrics()),
  };
  let telemetry: TelemetryServer | undefined;
  if (config.telemetry.endpoint) {
    const tls = config.telemetry.tls ? { config: config.telemetry.tls, logger } : undefined;
    telemetry = new TelemetryServer(config.telemetry.endpoint, metricsPage, () => service.state === 'running', {
      tls,
      routes: {
        [STATUS_PATH]: statusRoute({ topology: topologyOf(config), metricsText: metricsPage.text, workers }),
        '/traces': traceViewRoute(traceView),
        [PAGE_ASSETS_PATH]: pageAssetsRoute(),
      },
      home: STATUS_PATH,
    });
    await telemetry.start();
  }
  try {
    // The workers' pipelines start before the receivers that feed them.
    await pool?.start();
    await service.start();
  } catch (error) {
    await pool?.shutdown(2_000);
    await telemetry?.stop();
    throw error;
  }
  return {
    service,
    metrics,
    logger,
    telemetry,
    workers,
    metricsText: () => metricsPage.text(),
    describe: () => {
      const lines = [...service.receiverLines(), ...(pool ? pool.exporterLines() : service.exporterLines())];
      if (pool) lines.push(`workers: ${workers} threads run the pipelines, each for its share of trace ids`);
      if (telemetry) lines.push(`telemetry: /status (the status page), ${traceView.backend ? '/traces (the trace view), ' : ''}/metrics, /healthz, /readyz on ${config.telemetry.endpoint}`);
      return lines;
    },
    async shutdown(timeoutMs = 10_000) {
      const started = Date.now();
      // Receivers first (in this thread), then the workers flush and drain in the time left.
      await service.shutdown(timeoutMs);
      await pool?.shutdown(Math.max(0, timeoutMs - (Date.now() - started)));
      await telemetry?.stop();
    },
  };
}
