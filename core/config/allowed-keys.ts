/**
 * Reads a zod schema's structure to answer "which keys may go here?" for unknown-key messages.
 * zod 4 keeps each schema's definition on `_zod.def`; only the parts needed to walk down are typed here.
 */
import type { z } from 'zod';
import { isMapping } from './describe-value.ts';
import type { ConfigPath } from './config-problem.ts';

interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
  values?: unknown[];
}

function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
}

// Wrappers change optionality, defaults or the output, never which keys the input may hold.
const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** The schemas a value must match once wrappers are peeled off; a union contributes every option. */
function unwrap(schema: z.ZodType, depth = 0): z.ZodType[] {
  if (depth > 32) return [];
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) && def.innerType) return unwrap(def.innerType, depth + 1);
  if (def.type === 'pipe' && def.in) return unwrap(def.in, depth + 1);
  if (def.type === 'lazy' && def.getter) return unwrap(def.getter(), depth + 1);
  if (def.type === 'union' && def.options) return def.options.flatMap((o) => unwrap(o, depth + 1));
  if (def.type === 'intersection' && def.left && def.right) return [...unwrap(def.left, depth + 1), ...unwrap(def.right, depth + 1)];
  return [schema];
}

function children(schema: z.ZodType, segment: string | number): z.ZodType[] {
  return unwrap(schema).flatMap((s): z.ZodType[] => {
    const def = defOf(s);
    if (def.type === 'object' && typeof segment === 'string' && def.shape && Object.hasOwn(def.shape, segment)) return [def.shape[segment]!];
    if (def.type === 'array' && typeof segment === 'number' && def.element) return [def.element];
    if (def.type === 'tuple' && typeof segment === 'number') {
      const item = def.items?.[segment] ?? def.rest;
      return item ? [item] : [];
    }
    if (def.type === 'record' && def.valueType) return [def.valueType];
    return [];
  });
}

/** How many of the input's keys an object schema knows, with a bonus for matching literal fields (a union's discriminator). */
function fit(shape: Record<string, z.ZodType>, input: Record<string, unknown>): number {
  let score = 0;
  for (const [key, value] of Object.entries(input)) {
    const field = shape[key];
    if (!field) continue;
    score += 1;
    const literal = unwrap(field).map(defOf).find((d) => d.type === 'literal');
    if (literal?.values?.includes(value)) score += 100;
  }
  return score;
}

/**
 * The keys the object schema at `path` accepts, or `undefined` if no object schema lives there.
 * When a union offers several objects, the one that fits `input` (the value found at `path`) best wins.
 */
export function allowedKeysAt(schema: z.ZodType, path: ConfigPath, input?: unknown): string[] | undefined {
  let candidates = [schema];
  for (const segment of path) candidates = candidates.flatMap((c) => children(c, segment));
  const shapes = candidates
    .flatMap((c) => unwrap(c))
    .map((s) => defOf(s))
    .filter((d) => d.type === 'object' && d.shape)
    .map((d) => d.shape!);
  if (shapes.length === 0) return undefined;
  let best = shapes[0]!;
  if (shapes.length > 1 && isMapping(input)) {
    for (const shape of shapes) if (fit(shape, input) > fit(best, input)) best = shape;
  }
  return Object.keys(best);
}
