/**
 * Turns zod's issues into problems a person can act on: the full key path, what was found, what is
 * allowed, and a `Fix:`. Messages a schema author wrote (custom refinements, anything that already
 * says "Fix:") are kept as written; they know the field better than a generic sentence does.
 */
import type { z } from 'zod';
import { allowedKeysAt } from './allowed-keys.ts';
import { closestMatch } from './closest-match.ts';
import { problemAt, type ConfigPath, type ConfigProblem, type Locate } from './config-problem.ts';
import { describeValue } from './describe-value.ts';

type Issue = z.core.$ZodIssue;

export interface TranslateContext {
  /** Path of the value the schema parsed, e.g. `['receivers', 'otlp']`. */
  base: ConfigPath;
  /** The schema that produced the issues, walked for allowed keys. */
  schema: z.ZodType;
  /** The value given to the schema, for issues that carry no `input`. */
  input: unknown;
  locate?: Locate;
}

/** One problem per issue, except `unrecognized_keys`, which yields one problem per unknown key. */
export function translateZodIssues(issues: readonly Issue[], ctx: TranslateContext): ConfigProblem[] {
  return issues.flatMap((issue) => translate(issue, [], ctx));
}

function translate(issue: Issue, prefix: ConfigPath, ctx: TranslateContext): ConfigProblem[] {
  const rel = [...prefix, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
  const path = [...ctx.base, ...rel];
  const found = 'input' in issue ? issue.input : valueAt(ctx.input, rel);
  const at = (message: string, where: ConfigPath = path) => [problemAt(where, message, ctx.locate)];

  if (issue.message.includes('Fix:')) return at(issue.message);

  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeysAt(ctx.schema, rel, found);
      return issue.keys.flatMap((key) => {
        const guess = allowed && closestMatch(key, allowed);
        const hint = guess ? ` (did you mean \`${guess}\`?)` : '';
        const fix = allowed && allowed.length > 0 ? `remove it, or use one of: ${allowed.join(', ')}` : 'remove it';
        return at(`unknown key \`${key}\`${hint}. Fix: ${fix}.`, [...path, key]);
      });
    }
    case 'invalid_type':
      return at(invalidType(issue.expected, found, rel.at(-1)));
    case 'invalid_value': {
      const allowed = issue.values.map((v) => (typeof v === 'string' ? v : String(v)));
      if (allowed.length === 1) return at(`expected ${JSON.stringify(issue.values[0])}, got ${describeValue(found)}. Fix: write ${JSON.stringify(issue.values[0])}.`);
      const guess = typeof found === 'string' ? closestMatch(found, allowed) : undefined;
      return at(`${describeValue(found)} is not allowed${guess ? ` (did you mean "${guess}"?)` : ''}. Fix: use one of: ${allowed.join(', ')}.`);
    }
    case 'invalid_union':
      return invalidUnion(issue, rel, found, ctx, at);
    case 'too_small':
    case 'too_big':
      return at(outOfRange(issue, found));
    case 'invalid_format': {
      const what = issue.pattern ? `text matching ${issue.pattern}` : `a valid ${issue.format}`;
      return at(`expected ${what}, got ${describeValue(found)}. Fix: correct the value to ${what}.`);
    }
    case 'not_multiple_of':
      return at(`expected a multiple of ${issue.divisor}, got ${describeValue(found)}. Fix: use a multiple of ${issue.divisor}.`);
    case 'invalid_key':
      return issue.issues.map((inner) => ({
        ...problemAt(path, '', ctx.locate),
        message: `key ${describeValue(inner.input)}: ${translate(inner, [], { ...ctx, base: path, input: inner.input })[0]?.message ?? inner.message}`,
      }));
    case 'custom':
      return at(issue.message === 'Invalid input' ? `${describeValue(found)} is not allowed here. Fix: check this key against the component's README.` : issue.message);
    default:
      return at(`${issue.message} (got ${describeValue(found)}). Fix: check this key against the component's README.`);
  }
}

const TYPE_NAMES: Record<string, string> = { object: 'a mapping', record: 'a mapping', array: 'a list', int: 'an integer', tuple: 'a list' };

function invalidType(expected: string, found: unknown, key: string | number | undefined): string {
  const want = TYPE_NAMES[expected] ?? expected;
  if (found === undefined) {
    const name = typeof key === 'string' ? `\`${key}\`` : 'this item';
    return `${name} is required but missing (expected ${want}). Fix: add it.`;
  }
  return `expected ${want}, got ${describeValue(found)}. Fix: ${typeFix(expected, found)}.`;
}

function typeFix(expected: string, found: unknown): string {
  switch (expected) {
    case 'string':
      return typeof found === 'number' || typeof found === 'boolean' ? `quote it: "${String(found)}"` : 'write a text value';
    case 'number':
    case 'int':
      if (typeof found === 'string' && found.trim() !== '' && Number.isFinite(Number(found))) return `remove the quotes: ${found}`;
      if (expected === 'int' && typeof found === 'number') return `use a whole number, e.g. ${Math.round(found)}`;
      return expected === 'int' ? 'write a whole number without quotes' : 'write a number without quotes';
    case 'boolean':
      return typeof found === 'string' && /^(true|false)$/i.test(found) ? `remove the quotes: ${found.toLowerCase()}` : 'write true or false';
    case 'object':
    case 'record':
      return found === null ? 'write {} to use the defaults, or remove the key' : 'write a mapping of keys under it, e.g. { key: value }';
    case 'array':
    case 'tuple':
      return typeof found === 'string' ? `write a list, e.g. [${found}]` : 'write a list, e.g. [a, b]';
    default:
      return `write ${TYPE_NAMES[expected] ?? expected}`;
  }
}

function outOfRange(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>, found: unknown): string {
  const small = issue.code === 'too_small';
  const bound = small ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
  const relation = issue.exact ? 'exactly' : issue.inclusive === false ? (small ? 'more than' : 'less than') : small ? 'at least' : 'at most';
  switch (issue.origin) {
    case 'string': {
      const length = typeof found === 'string' ? found.length : undefined;
      if (small && Number(bound) === 1 && !issue.exact) return `must not be empty. Fix: give it a value.`;
      return `must be ${relation} ${bound} characters long${length === undefined ? '' : `, got ${length}`}. Fix: use ${relation} ${bound} characters.`;
    }
    case 'array':
    case 'set': {
      const length = Array.isArray(found) ? found.length : undefined;
      return `must have ${relation} ${bound} ${Number(bound) === 1 ? 'item' : 'items'}${length === undefined ? '' : `, got ${length}`}. Fix: ${small ? 'add' : 'remove'} items so there are ${relation} ${bound}.`;
    }
    default:
      return `must be ${relation} ${bound}, got ${describeValue(found)}. Fix: use a value ${relation} ${bound}.`;
  }
}

function invalidUnion(
  issue: Extract<Issue, { code: 'invalid_union' }>,
  rel: ConfigPath,
  found: unknown,
  ctx: TranslateContext,
  at: (message: string, where?: ConfigPath) => ConfigProblem[],
): ConfigProblem[] {
  const { discriminator, options } = issue as { discriminator?: string; options?: unknown[] };
  if (discriminator && options) {
    // zod puts the discriminator key on the path already and the enclosing object in `input`.
    const parent = valueAt(ctx.input, rel.slice(0, -1));
    const value = parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[discriminator] : found;
    const allowed = options.map(String);
    if (value === undefined) return at(`\`${discriminator}\` is required but missing. Fix: add ${discriminator}: <one of ${allowed.join(', ')}>.`);
    const guess = typeof value === 'string' ? closestMatch(value, allowed) : undefined;
    return at(`unknown ${discriminator} ${describeValue(value)}${guess ? ` (did you mean "${guess}"?)` : ''}. Fix: use one of: ${allowed.join(', ')}.`);
  }
  const branches = issue.errors;
  if (branches.length === 0) return at(`${describeValue(found)} matches more than one allowed form. Fix: make the value unambiguous.`);
  // When every option rejects the value's type outright, one "expected A or B" sentence says it best.
  const typeOnly = branches.every((b) => b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === 0);
  if (typeOnly) {
    const wants = [...new Set(branches.map((b) => (b[0] as { expected: string }).expected))];
    const names = wants.map((w) => TYPE_NAMES[w] ?? w).join(' or ');
    return at(`expected ${names}, got ${describeValue(found)}. Fix: write ${names}.`);
  }
  // Otherwise the option the value got furthest into is most likely the one meant: report its issues.
  const closest = [...branches].sort((a, b) => a.length - b.length || depth(b) - depth(a))[0]!;
  return closest.flatMap((inner) => translate(inner, rel, ctx));
}

function depth(issues: readonly Issue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function valueAt(root: unknown, path: ConfigPath): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}
