/**
 * Reads the Prometheus text that /metrics serves back into samples. The status page works from
 * that text rather than from one registry because with `workers: N` only the text is the sum of
 * every thread's metrics (WorkerPool.metricsText).
 */

export interface Sample {
  /** As exposed, with any `_bucket`/`_sum`/`_count` suffix. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

const ESCAPES: Record<string, string> = { n: '\n', '\\': '\\', '"': '"' };

/** `{a="x",b="y\"z"}` starting at `start` (the `{`); returns the labels and the index after `}`. */
function readLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (i < line.length && line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') throw new Error(`Malformed labels: ${line}`);
    const key = line.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        j += 1;
        value += ESCAPES[line[j]!] ?? line[j];
      } else value += line[j];
    }
    labels[key] = value;
    i = j + 1;
    if (line[i] === ',') i += 1;
  }
  return { labels, end: i + 1 };
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Every sample line of an exposition; comments, blank lines and timestamps are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.slice(0, brace);
      const read = readLabels(line, brace);
      labels = read.labels;
      rest = line.slice(read.end).trim();
    } else {
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    samples.push({ name, labels, value: parseValue(rest.split(/\s+/)[0]!) });
  }
  return samples;
}
