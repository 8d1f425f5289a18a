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
import { TelemetryServer } from './telemetry/telemetry-server.ts';

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
  /** Lines saying where to send spans and where output goes. */
  describe(): string[];
  shutdown(timeoutMs?: number): Promise<void>;
}

export async function startCollector(
  source: ConfigSource,
  factories: Factories,
  opts: { logger?: Logger; onFatal?: (id: string, error: Error) => void } = {},
): Promise<RunningCollector> {
  const { config, warnings } = await loadAndValidate(source, factories);
  const logger = opts.logger ?? createLogger({ level: config.telemetry.log_level });
  for (const w of warnings) logger.warn(w);
  const metrics = new Metrics();
  const service = new Service(config, { metrics, logger, onFatal: opts.onFatal });
  let telemetry: TelemetryServer | undefined;
  if (config.telemetry.endpoint) {
    telemetry = new TelemetryServer(config.telemetry.endpoint, metrics, () => service.state === 'running');
    await telemetry.start();
  }
  try {
    await service.start();
  } catch (error) {
    await telemetry?.stop();
    throw error;
  }
  return {
    service,
    metrics,
    logger,
    telemetry,
    describe: () => {
      const lines: string[] = [];
      for (const kind of ['receivers', 'exporters'] as const) {
        for (const id of config[kind].keys()) {
          const c = service.component(id);
          for (const line of c?.describe?.() ?? []) lines.push(`${id}: ${line}`);
        }
      }
      if (telemetry) lines.push(`telemetry: /metrics, /healthz, /readyz on ${config.telemetry.endpoint}`);
      return lines;
    },
    async shutdown(timeoutMs = 10_000) {
      await service.shutdown(timeoutMs);
      await telemetry?.stop();
    },
  };
}
