/**
 * `skybridge dlq list|replay|purge --config F [--exporter id] [--limit N]`: the dead-letter queue of
 * an exporter with durable retry (a `redis` block). Returns the exit code; bin/skybridge.ts exits.
 *
 * - list: the oldest N jobs (default 20): id, when it failed, attempts, segments, spans, reason.
 * - replay: sends the oldest N jobs (default all) to the exporter's destination, oldest first, and
 *   removes each once delivered; stops at the first failure (exit 1). A running skybridge is not
 *   needed and not disturbed.
 * - purge: deletes the oldest N jobs (default all) without sending them.
 */
import type { Factories } from '../core/collector.ts';
import { ConfigInvalidError, loadAndValidate } from '../core/collector.ts';
import type { DeadLetterAccess } from '../core/queue/durable-retry/dead-letters.ts';

export const DLQ_ACTIONS = ['list', 'replay', 'purge'] as const;

export interface DlqArgs {
  action: string | undefined;
  file: string;
  exporter: string | undefined;
  limit: string | undefined;
}

interface Output {
  out(text: string): void;
  err(text: string): void;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

export async function runDlqCommand(args: DlqArgs, factories: Factories, io: Output): Promise<number> {
  const action = args.action;
  if (action === undefined || !(DLQ_ACTIONS as readonly string[]).includes(action)) {
    io.err(`skybridge dlq: expected one of ${DLQ_ACTIONS.join(', ')}, got ${action === undefined ? 'nothing' : `"${action}"`}.\n`);
    return 2;
  }
  let limit: number | undefined;
  if (args.limit !== undefined) {
    limit = Number(args.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      io.err(`--limit: expected a whole number of jobs, at least 1, got "${args.limit}".\n`);
      return 2;
    }
  }

  let config;
  try {
    ({ config } = await loadAndValidate({ file: args.file }, factories));
  } catch (error) {
    if (error instanceof ConfigInvalidError) {
      io.err(`${error.report}\n`);
      return 1;
    }
    throw error;
  }
  const withQueue = new Map<string, DeadLetterAccess>();
  for (const [id, entry] of config.exporters) {
    const access = entry.factory.deadLetters?.(id, entry.config as never);
    if (access !== undefined) withQueue.set(id, access);
  }
  let id = args.exporter;
  if (id === undefined) {
    if (withQueue.size !== 1) {
      io.err(
        withQueue.size === 0
          ? `No exporter in ${args.file} has a redis block, so none keeps a dead-letter queue (retries are in memory only).\n`
          : `Several exporters keep a dead-letter queue (${[...withQueue.keys()].join(', ')}). Fix: name one with --exporter.\n`,
      );
      return withQueue.size === 0 ? 1 : 2;
    }
    id = [...withQueue.keys()][0]!;
  }
  const access = withQueue.get(id);
  if (access === undefined) {
    const exists = config.exporters.has(id);
    io.err(
      exists
        ? `Exporter "${id}" has no redis block, so it keeps no dead-letter queue (retries are in memory only).\n`
        : `No exporter "${id}" in ${args.file} (defined: ${[...config.exporters.keys()].join(', ') || 'none'}).\n`,
    );
    return 1;
  }

  try {
    await access.open();
    if (action === 'list') {
      const total = await access.count();
      const entries = await access.list(limit ?? 20);
      io.out(`Dead-letter queue of exporter "${id}" (${access.description}): ${total} job(s).\n`);
      if (entries.length > 0) {
        const rows = [['ID', 'FAILED AT (UTC)', 'ATTEMPTS', 'SEGMENTS', 'SPANS', 'REASON']];
        for (const e of entries) {
          rows.push([e.id, e.failedAtMs === undefined ? '-' : new Date(e.failedAtMs).toISOString(), String(e.attempts), String(e.items), String(e.spans), e.reason]);
        }
        io.out(`${table(rows)}\n`);
        if (total > entries.length) io.out(`… ${total - entries.length} more (oldest shown first; use --limit).\n`);
      }
      return 0;
    }
    if (action === 'purge') {
      const purged = await access.purge(limit ?? Number.MAX_SAFE_INTEGER);
      io.out(`Purged ${purged} job(s) from the dead-letter queue of exporter "${id}"; ${await access.count()} left.\n`);
      return 0;
    }
    const result = await access.replay(limit ?? Number.MAX_SAFE_INTEGER);
    io.out(`Replayed ${result.replayed} job(s) (${result.items} segments, ${result.spans} spans) from the dead-letter queue of exporter "${id}"; ${result.remaining} left.\n`);
    if (result.failure) {
      const { jobId, reason, message, permanent } = result.failure;
      io.err(
        `Stopped at job ${jobId}: ${reason}: ${message}. ${permanent ? 'The destination still refuses it: fix the cause (token, endpoint) first.' : 'The destination is not reachable: try again later.'}\n`,
      );
      return 1;
    }
    return 0;
  } catch (error) {
    io.err(`skybridge dlq ${action}: ${(error as Error).message}\n`);
    return 1;
  } finally {
    for (const a of withQueue.values()) await a.close();
  }
}
