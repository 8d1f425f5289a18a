#!/usr/bin/env node
/**
 * The skybridge CLI and the only place that exits the process.
 *
 *   skybridge [run] --config pipelines.yaml   run the pipelines until SIGTERM/SIGINT
 *   skybridge validate --config pipelines.yaml check the config, print every problem, exit 1 if any
 *   skybridge components                      list receivers, processors and exporters
 *   skybridge dlq list|replay|purge --config F [--exporter id] [--limit N]
 *                                             inspect, resend or delete an exporter's dead letters
 *   skybridge tap [--endpoint H:P] [--spans] [--service NAME]
 *                                             print segments (or source spans) of a running instance
 *
 * Exit codes: 0 ok, 1 invalid config or failed start, 2 usage error, 3 shutdown deadline missed.
 */
import { parseArgs } from 'node:util';
import { components } from '../components.ts';
import { ConfigInvalidError, loadAndValidate, startCollector } from '../core/collector.ts';
import { parseDuration } from '../core/config/units.ts';
import { runDlqCommand } from './dlq-command.ts';
import { runTapCommand } from './tap-command.ts';
import { skybridgeVersion } from '../core/version.ts';

const USAGE = `Usage:
  skybridge [run] --config <pipelines.yaml> [--shutdown-timeout 15s]
  skybridge --version
  skybridge validate --config <pipelines.yaml>
  skybridge components
  skybridge dlq list   --config <pipelines.yaml> [--exporter <id>] [--limit 20]
  skybridge dlq replay --config <pipelines.yaml> [--exporter <id>] [--limit N]
  skybridge dlq purge  --config <pipelines.yaml> [--exporter <id>] [--limit N]
  skybridge tap [--endpoint localhost:8888] [--spans] [--service <name>]`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'shutdown-timeout': { type: 'string' },
        exporter: { type: 'string' },
        limit: { type: 'string' },
        endpoint: { type: 'string' },
        spans: { type: 'boolean' },
        service: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? 'run';
  if (values.version) {
    process.stdout.write(`skybridge ${skybridgeVersion()}\n`);
    return 0;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === 'components') {
    for (const [kind, list] of Object.entries(components)) {
      process.stdout.write(`${kind}:\n`);
      for (const f of list as { type: string; stability: string; description: string }[]) {
        process.stdout.write(`  ${f.type.padEnd(16)} ${f.stability.padEnd(12)} ${f.description}\n`);
      }
    }
    return 0;
  }
  if (command === 'tap') {
    return runTapCommand({ endpoint: values.endpoint, spans: values.spans === true, service: values.service }, { stdout: process.stdout, stderr: process.stderr });
  }
  if (command !== 'run' && command !== 'validate' && command !== 'dlq') {
    process.stderr.write(`Unknown command "${command}".\n${USAGE}\n`);
    return 2;
  }
  const file = values.config ?? process.env.SKYBRIDGE_CONFIG;
  if (!file) {
    process.stderr.write(`Missing --config.\n${USAGE}\n`);
    return 2;
  }

  if (command === 'dlq') {
    return runDlqCommand({ action: positionals[1], file, exporter: values.exporter, limit: values.limit }, components, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
  }

  if (command === 'validate') {
    try {
      const { config, warnings } = await loadAndValidate({ file }, components);
      for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
      process.stdout.write(`${file} is valid: ${config.pipelines.size} pipeline(s), ${config.receivers.size} receiver(s), ${config.processors.size} processor(s), ${config.exporters.size} exporter(s).\n`);
      return 0;
    } catch (error) {
      if (error instanceof ConfigInvalidError) {
        process.stderr.write(`${error.report}\n`);
        return 1;
      }
      throw error;
    }
  }

  const shutdownTimeoutMs = parseDuration(values['shutdown-timeout'] ?? '15s');
  if (shutdownTimeoutMs === undefined) {
    process.stderr.write(`--shutdown-timeout: expected a duration such as "15s".\n`);
    return 2;
  }
  let collector;
  let fatal: Error | undefined;
  let onFatal: (() => void) | undefined;
  try {
    collector = await startCollector({ file }, components, {
      onFatal: (_id, error) => {
        fatal = error;
        onFatal?.();
      },
    });
  } catch (error) {
    if (error instanceof ConfigInvalidError) {
      process.stderr.write(`${error.report}\n`);
      return 1;
    }
    process.stderr.write(`skybridge failed to start: ${(error as Error).message}\n`);
    return 1;
  }
  const lines = collector.describe();
  collector.logger.info({ config: file }, 'skybridge is running.');
  process.stderr.write(`${lines.map((l) => `  ${l}`).join('\n')}\n`);

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    onFatal = () => resolve('fatal');
  });
  collector.logger.info({ signal, timeoutMs: shutdownTimeoutMs }, 'Shutting down: receivers stop first, held traces are flushed, exporters drain.');
  const timer = setTimeout(() => {
    collector.logger.error('Shutdown deadline passed; exiting with data still held.');
    process.exit(3);
  }, shutdownTimeoutMs + 2_000);
  // Not unref'd: an AbortSignal deadline alone does not keep Node alive, and the drain must not be
  // cut short by the event loop running empty.
  await collector.shutdown(shutdownTimeoutMs);
  clearTimeout(timer);
  collector.logger.info('skybridge stopped.');
  const code = fatal ? 1 : 0;
  exitOnceFlushed(code, STDIO_FLUSH_MS);
  return code;
}

/** Longest wait, after shutdown, for stdout and stderr to take what was written to them. */
const STDIO_FLUSH_MS = 2_000;

/**
 * Exits as soon as stdout and stderr have written everything, or after `ms`. Without it a stdout
 * nobody reads (a stalled pipe under the debug exporter) keeps the process alive forever after
 * shutdown: its pending writes hold the event loop open. What is still unwritten was already
 * counted as a shutdown_timeout drop by the exporter that wrote it.
 */
function exitOnceFlushed(code: number, ms: number): void {
  const exit = () => process.exit(code);
  const deadline = setTimeout(exit, ms);
  const poll = setInterval(() => {
    if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) {
      clearInterval(poll);
      clearTimeout(deadline);
      exit();
    }
  }, 20);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`skybridge crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
