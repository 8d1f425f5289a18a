/**
 * `${VAR}` and `${VAR:default}` in values, SkyWalking's own config convention, applied to the parsed
 * YAML (not the text) so a substituted value can never change the document's structure.
 */
import { parse as parseYaml } from 'yaml';
import { problemAt, type ConfigPath, type ConfigProblem, type Locate } from './config-problem.ts';

/** The environment to read variables from; `process.env` in production, a plain object in tests. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface EnvSubstitutionResult {
  /** A copy of the input with every string value substituted. Unresolvable references are left as written. */
  value: unknown;
  /** One per unset variable without a default, or malformed reference, at the value's key path. */
  problems: ConfigProblem[];
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A scalar that is exactly one reference keeps the type of what it expands to.
const WHOLE_REFERENCE = /^\$\{[^}]*\}$/;

/**
 * Substitutes environment variables in every string value (never in keys).
 *
 * - `${VAR}`: the variable's value; unset is a problem.
 * - `${VAR:default}`: the default is everything after the first colon, so
 *   `${SW_OAP:127.0.0.1:11800}` defaults to `127.0.0.1:11800` and `${VAR:}` to the empty string.
 *   A variable set to the empty string counts as set.
 * - `$${` is a literal `${`.
 * - When the whole value is one reference, the result is read as a YAML scalar, so
 *   `${PORT:4317}` gives the number 4317 and `${TLS:false}` the boolean false; anything else
 *   (including an empty result or `null`) stays a string.
 */
export function substituteEnv(value: unknown, env: Env = process.env, locate?: Locate): EnvSubstitutionResult {
  const problems: ConfigProblem[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') return substituteScalar(node, env, path, problems, locate);
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = walk(child, [...path, key]);
      return out;
    }
    return node;
  };
  return { value: walk(value, []), problems };
}

function substituteScalar(
  text: string,
  env: Env,
  path: ConfigPath,
  problems: ConfigProblem[],
  locate: Locate | undefined,
): unknown {
  if (!text.includes('${')) return text;
  const report = (message: string) => problems.push(problemAt(path, message, locate));
  let out = '';
  let i = 0;
  let resolvedAll = true;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i];
      i += 1;
      continue;
    }
    const close = text.indexOf('}', i + 2);
    if (close < 0) {
      report(`unterminated variable reference in ${JSON.stringify(text)}. Fix: close it with "}", or write $\${ for a literal "\${".`);
      return text;
    }
    const inner = text.slice(i + 2, close);
    const colon = inner.indexOf(':');
    const name = colon < 0 ? inner : inner.slice(0, colon);
    const fallback = colon < 0 ? undefined : inner.slice(colon + 1);
    if (!VAR_NAME.test(name)) {
      report(`"\${${inner}}" is not a valid variable reference: "${name}" is not a variable name. Fix: write \${NAME} or \${NAME:default} with NAME made of letters, digits and _, or $\${ for a literal "\${".`);
      resolvedAll = false;
    } else if (fallback?.includes('${')) {
      report(`"\${${inner}}}" nests a reference inside a default, which is not supported. Fix: use a literal default, e.g. \${${name}:value}.`);
      resolvedAll = false;
    } else {
      const found = env[name] ?? fallback;
      if (found === undefined) {
        report(`environment variable ${name} is not set. Fix: export ${name} or give a default, e.g. \${${name}:<value>}.`);
        resolvedAll = false;
      } else {
        out += found;
      }
    }
    i = close + 1;
  }
  // Leave an unresolved value exactly as written, so later messages quote what the user wrote.
  if (!resolvedAll) return text;
  return WHOLE_REFERENCE.test(text) ? typedScalar(out) : out;
}

function typedScalar(text: string): unknown {
  if (text.trim() === '') return text;
  try {
    const parsed: unknown = parseYaml(text);
    return typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : text;
  } catch {
    return text;
  }
}
