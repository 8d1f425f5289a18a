/**
 * The one shape every configuration problem takes, from YAML syntax to a dangling pipeline
 * reference, so `skybridge validate` can print them all at once in file order.
 */

/** One thing wrong with pipelines.yaml. */
export interface ConfigProblem {
  /** Key path in the file, e.g. `exporters.skywalking.endpoint` or `pipelines.traces.exporters[0]`; `''` for the whole file. */
  path: string;
  /** What was found, what is allowed, and a `Fix: ...` sentence. */
  message: string;
  /** 1-based line of the key (or nearest existing ancestor) when the source text is known. */
  line?: number;
  /** 1-based column, paired with `line`. */
  col?: number;
}

/** A path into the parsed document: mapping keys and sequence indexes. */
export type ConfigPath = readonly (string | number)[];

/** Maps a key path to its position in the source; `undefined` when there is no source to point at. */
export type Locate = (path: ConfigPath) => { line: number; col: number } | undefined;

// Keys such as `traces/default` or `otlp_http` read fine bare; anything else (dots, spaces) is quoted
// so the printed path can't be misread as a deeper one.
const BARE_KEY = /^[A-Za-z0-9_/-]+$/;

/** `['pipelines', 'traces', 'exporters', 0]` → `pipelines.traces.exporters[0]`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (BARE_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Builds a problem at `path`, with its line and column when `locate` knows them. */
export function problemAt(path: ConfigPath, message: string, locate?: Locate): ConfigProblem {
  const problem: ConfigProblem = { path: formatPath(path), message };
  const pos = locate?.(path);
  if (pos) {
    problem.line = pos.line;
    problem.col = pos.col;
  }
  return problem;
}

/**
 * One problem per line, in file order (problems without a position last), then a summary line:
 * `pipelines.yaml:12:5 exporters.skywalking.endpoint: expected "host:port" ... Fix: ...`.
 */
export function formatProblems(fileName: string, problems: readonly ConfigProblem[]): string {
  const sorted = [...problems].sort(
    (a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.col ?? 0) - (b.col ?? 0),
  );
  const lines = sorted.map((p) => {
    const where = p.line === undefined ? fileName : `${fileName}:${p.line}:${p.col ?? 1}`;
    return p.path === '' ? `${where}: ${p.message}` : `${where} ${p.path}: ${p.message}`;
  });
  const n = problems.length;
  lines.push(`${n} ${n === 1 ? 'problem' : 'problems'} in ${fileName}; nothing was started.`);
  return lines.join('\n');
}
