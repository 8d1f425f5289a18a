/**
 * `skybridge tap [--endpoint localhost:8888] [--spans] [--service NAME]`: prints, one JSON object a
 * line on stdout, every segment a running skybridge builds from now on (or, with --spans, every
 * source span as its receivers decoded it), read from the telemetry port's /traces/tap stream
 * (core/telemetry/trace-view/tap-stream.ts). Messages go to stderr, so `| jq` sees only data.
 * Returns the exit code; bin/skybridge.ts exits.
 *
 * Ctrl-C (or SIGTERM) ends it with 0; a closed stdout (`| head`) too. A refused or failed
 * connection, or an instance that cannot tap (no trace view, workers > 1), is one line on stderr
 * and 1.
 */
import http from 'node:http';
import https from 'node:https';

export interface TapArgs {
  /** host:port of the telemetry page, or a URL (https:// when the page has TLS). */
  endpoint: string | undefined;
  spans: boolean;
  service: string | undefined;
}

interface TapIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const DEFAULT_TAP_ENDPOINT = 'localhost:8888';

/** The stream's URL for these arguments. */
export function tapUrl(args: TapArgs): URL {
  const endpoint = args.endpoint ?? DEFAULT_TAP_ENDPOINT;
  const url = new URL('/traces/tap', /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`);
  if (args.spans) url.searchParams.set('spans', '1');
  if (args.service) url.searchParams.set('service', args.service);
  return url;
}

/** What the server says about the stream itself, as opposed to the segments it carries. */
interface TapNote {
  tap: 'dropped';
  lines: number;
}

function connectionProblem(error: NodeJS.ErrnoException, url: URL): string {
  const where = url.host;
  if (error.code === 'ECONNREFUSED') return `cannot connect to ${where}: connection refused. Is skybridge running with its telemetry endpoint there (telemetry.endpoint, default localhost:8888)?`;
  if (error.code === 'ENOTFOUND') return `cannot resolve ${url.hostname}.`;
  return `connection to ${where} failed: ${error.message}`;
}

export function runTapCommand(args: TapArgs, io: TapIo): Promise<number> {
  let url: URL;
  try {
    url = tapUrl(args);
  } catch {
    io.stderr.write(`skybridge tap: --endpoint: expected host:port or a URL, got "${args.endpoint}".\n`);
    return Promise.resolve(2);
  }
  const what = args.spans ? 'source spans' : 'segments';
  return new Promise((resolve) => {
    let finished = false;
    const finish = (code: number, message?: string): void => {
      if (finished) return;
      finished = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      io.stdout.off('error', onStdoutError);
      request.destroy();
      if (message) io.stderr.write(`skybridge tap: ${message}\n`);
      resolve(code);
    };
    const onSignal = (): void => finish(0);
    // `| head` closed the pipe: the reader has what it wanted.
    const onStdoutError = (): void => finish(0);

    const client = url.protocol === 'https:' ? https : http;
    const request = client.get(url, { headers: { Accept: 'application/x-ndjson' } }, (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => finish(1, `${url.host} answered ${res.statusCode}: ${body.trim().split('\n')[0] ?? ''}`));
        return;
      }
      io.stderr.write(`skybridge tap: ${what}${args.service ? ` of ${args.service}` : ''} from ${url.host} as they are built, one JSON line each (Ctrl-C to stop)\n`);
      let partial = '';
      res.on('data', (chunk: string) => {
        partial += chunk;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') continue; // the server's heartbeat
          if (line.startsWith('{"tap":')) {
            const note = JSON.parse(line) as TapNote;
            io.stderr.write(`skybridge tap: ${note.lines} lines left out (this terminal read slower than skybridge built them)\n`);
            continue;
          }
          io.stdout.write(`${line}\n`);
        }
      });
      res.on('end', () => finish(0, 'the stream ended (skybridge stopped).'));
      res.on('error', (error) => finish(1, `the stream broke: ${error.message}`));
    });
    request.on('error', (error: NodeJS.ErrnoException) => finish(1, connectionProblem(error, url)));
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    io.stdout.on('error', onStdoutError);
  });
}
