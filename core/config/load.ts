/**
 * Reads pipelines.yaml: YAML syntax, then `${VAR:default}` substitution. Shape and meaning are
 * checked afterwards by `validateConfig`, which takes `locate` to point its problems at lines too.
 */
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { problemAt, type ConfigPath, type ConfigProblem, type Locate } from './config-problem.ts';
import { substituteEnv, type Env } from './env-substitution.ts';

export interface LoadedConfig {
  /** The parsed, substituted document; `undefined` when the text could not be parsed (skip validation then). */
  raw: unknown;
  /** Read, YAML and substitution problems; empty when the file loaded cleanly. */
  problems: ConfigProblem[];
  /**
   * 1-based line and column of the key at `path` (of the item, for list indexes). A path that does not
   * exist in the file resolves to its nearest existing ancestor, so "missing key" problems point at
   * the block that lacks it. `undefined` only when nothing in the file matches.
   */
  locate: Locate;
}

const noPosition: Locate = () => undefined;

/** Parses and substitutes `text`; `fileName` only appears in messages. Never throws. */
export function loadConfigText(text: string, fileName: string, env: Env = process.env): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate = locator(doc, lineCounter);

  if (doc.errors.length > 0) {
    // After the first syntax error the parser is out of step and what follows is mostly echo;
    // duplicate keys are found on the resolved document and stay trustworthy.
    const reported = doc.errors.filter((error, i) => i === 0 || error.code === 'DUPLICATE_KEY');
    const problems = reported.map((error): ConfigProblem => {
      const pos = lineCounter.linePos(error.pos[0]);
      return {
        path: '',
        message: `YAML syntax error: ${error.message.replace(/\.?$/, '.')} Fix: ${syntaxFix(error.code, lineOf(text, lineCounter, pos.line))}`,
        line: pos.line,
        col: pos.col,
      };
    });
    return { raw: undefined, problems, locate };
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return {
      raw: undefined,
      problems: [{
        path: '',
        message: `${fileName} is empty. Fix: define receivers, exporters and pipelines, e.g. receivers: { otlp: {} } / exporters: { debug: {} } / pipelines: { traces: { receivers: [otlp], exporters: [debug] } }.`,
      }],
      locate,
    };
  }

  const substituted = substituteEnv(doc.toJS({ maxAliasCount: 100 }), env, locate);
  return { raw: substituted.value, problems: substituted.problems, locate };
}

/**
 * Reads the file at `path` and loads it as `loadConfigText` does; a missing or unreadable file is a
 * problem, never a throw. Synchronous: it runs once, before anything listens.
 */
export function loadConfigFile(path: string, env: Env = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? `config file ${path} does not exist. Fix: create it, or point at the right one with --config path/to/pipelines.yaml.`
        : code === 'EISDIR'
          ? `${path} is a directory, not a config file. Fix: pass the file itself, e.g. --config ${path.replace(/\/$/, '')}/pipelines.yaml.`
          : `cannot read config file ${path} (${code ?? (error as Error).message}). Fix: check the file's permissions, or pass another with --config path/to/pipelines.yaml.`;
    return { raw: undefined, problems: [{ path: '', message }], locate: noPosition };
  }
  return loadConfigText(text, path, env);
}

function locator(doc: Document, lineCounter: LineCounter): Locate {
  const at = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset));
  return (path: ConfigPath) => {
    let node: unknown = doc.contents;
    let found = at(startOf(node));
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
        if (!pair) break;
        // Point at the key: that is where the user looks for `endpoint:`, even when its value starts on the next line.
        found = at(startOf(pair.key)) ?? found;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item === undefined) break;
        found = at(startOf(item)) ?? found;
        node = item;
      } else {
        break;
      }
    }
    return found;
  };
}

function syntaxFix(code: string, line: string): string {
  if (code === 'DUPLICATE_KEY') return 'keep only one of the keys with this name in the mapping.';
  // `{ endpoint: ${SW_OAP:oap:11800} }`: in a flow mapping `{`, `}` and `:` are syntax, so a reference must be quoted.
  if (/\{[^"']*\$\{/.test(line)) return 'quote values that contain ${...} inside { }, e.g. endpoint: "${SW_OAP:127.0.0.1:11800}".';
  return 'check the indentation and quoting on this line and the one before it.';
}

function lineOf(text: string, lineCounter: LineCounter, line: number): string {
  const start = lineCounter.lineStarts[line - 1] ?? 0;
  const end = text.indexOf('\n', start);
  return text.slice(start, end < 0 ? undefined : end);
}

function startOf(node: unknown): number | undefined {
  return (node as Node | null)?.range?.[0];
}
