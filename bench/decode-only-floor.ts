/**
 * The decode-only floor run: starts `decode-only-server.ts` for a format as its own process, sends
 * it a load from the given request pool (no pacing), and measures its throughput, peak RSS and CPU.
 * Every benchmark compares its figure with a floor measured in the same run: `run.ts` for each
 * receiver case (the same requests skybridge got), `cases/kafka-tier.ts` for the agent's OTLP/gRPC
 * ingress (the same pool, concurrency and duration).
 */
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from './load.ts';
import { cpuProfileFlags, MeasuredProcess } from './measured-process.ts';
import type { RequestPool } from './request-pool.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The formats `decode-only-server.ts --format` takes. */
export type DecodeOnlyFormat = 'otlp_grpc' | 'zipkin_json' | 'jaeger_thrift';

/** A failure of the floor run that is reported as a message, not a stack (the server's log tail). */
export class DecodeOnlyFloorError extends Error {}

export interface ProcessFigures {
  peakRssBytes: number | null;
  maxSampledRssBytes: number | null;
  cpuSeconds: number | null;
}

export interface DecodeOnlyFloorOptions {
  format: DecodeOnlyFormat;
  /** Runs the load against the decode-only server on loopback `port` (the case's own client). */
  load(port: number, options: LoadOptions): Promise<LoadResult>;
  pool: RequestPool;
  concurrency: number;
  /** Send exactly this many requests (indexes 0..requests-1 of the pool)... */
  requests?: number;
  /** ...or start requests for this long. */
  durationMs?: number;
  /** Where the server's log (and CPU profile) go. */
  workDir: string;
  /** Write CPU profiles to `<workDir>/decode-only-<label>.cpuprofiles/`. */
  cpuProf: boolean;
  /** Names the log and profile files, `decode-only-<label>.*`. Default: the format. */
  label?: string;
}

export interface DecodeOnlyFloorResult {
  load: LoadResult;
  figures: ProcessFigures;
  /** The server's own counts, from its last stdout line (absent if it did not write one). */
  decoded: { requests: number; spans: number; invalid: number } | undefined;
  throughput: { windowSeconds: number; spansPerSecond: number | null; requestsPerSecond: number | null };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the decode-only floor once: start the server, send the load, stop it. */
export async function runDecodeOnlyFloor(o: DecodeOnlyFloorOptions): Promise<DecodeOnlyFloorResult> {
  if (o.requests === undefined && o.durationMs === undefined) throw new Error('runDecodeOnlyFloor: give requests or durationMs.');
  const label = o.label ?? o.format;
  let resolvePort: (port: number) => void;
  const portLine = new Promise<number>((r) => (resolvePort = r));
  let finalCounts: { requests: number; spans: number; invalid: number } | undefined;
  const proc = new MeasuredProcess({
    command: process.execPath,
    args: [
      ...cpuProfileFlags(o.cpuProf, o.workDir, `decode-only-${label}`),
      '--import',
      'tsx',
      join(ROOT, 'bench/decode-only-server.ts'),
      '--format',
      o.format,
    ],
    cwd: ROOT,
    logFile: join(o.workDir, `decode-only-${label}.log`),
    onStdoutLine: (line) => {
      const msg = JSON.parse(line) as { port?: number; requests?: number; spans?: number; invalid?: number };
      if (msg.port !== undefined) resolvePort(msg.port);
      else finalCounts = msg as typeof finalCounts;
    },
  });
  try {
    const port = await Promise.race([
      portLine,
      proc.exited.then(() => {
        throw new DecodeOnlyFloorError(`The decode-only server exited during start-up. Its output:\n${proc.logTail()}`);
      }),
      sleep(30_000).then(() => {
        throw new DecodeOnlyFloorError(`The decode-only server did not start within 30s. Its output:\n${proc.logTail()}`);
      }),
    ]);
    proc.startSampling();
    const cpuBefore = proc.cpuSeconds();
    const load = await o.load(port, { pool: o.pool, concurrency: o.concurrency, requests: o.requests, durationMs: o.durationMs });
    const cpuAfter = proc.cpuSeconds();
    const figures: ProcessFigures = {
      peakRssBytes: proc.peakRssBytes(),
      maxSampledRssBytes: proc.maxSampledRssBytes,
      cpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
    };
    await proc.stop(5_000);
    const windowMs = load.lastAckMs - load.firstSendMs;
    return {
      load,
      figures,
      decoded: finalCounts,
      throughput: {
        windowSeconds: windowMs / 1000,
        spansPerSecond: windowMs > 0 ? load.spansAcked / (windowMs / 1000) : null,
        requestsPerSecond: windowMs > 0 ? load.requestsAcked / (windowMs / 1000) : null,
      },
    };
  } catch (error) {
    await proc.stop(5_000).catch(() => {});
    throw error;
  }
}
