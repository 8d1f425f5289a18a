/**
 * The `pipelines:` block: which components each traces pipeline wires together. Checked by hand
 * rather than by a zod schema because the useful messages name what *is* defined elsewhere.
 */
import { parseComponentId } from '../component.ts';
import { closestMatch } from './closest-match.ts';
import { problemAt, type ConfigProblem, type Locate } from './config-problem.ts';
import { describeValue, isMapping } from './describe-value.ts';

/** One pipeline: component ids in data-flow order. */
export interface PipelineSpec {
  /** `traces` or `traces/<name>`. */
  id: string;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

type Section = 'receivers' | 'processors' | 'exporters';
const SECTIONS: readonly Section[] = ['receivers', 'processors', 'exporters'];
const SIGNALS = new Set(['metrics', 'logs', 'profiles']);
const EXAMPLE: Record<Section, string> = { receivers: 'otlp', processors: 'batch', exporters: 'debug' };

export interface PipelinesResult {
  pipelines: Map<string, PipelineSpec>;
  problems: ConfigProblem[];
  /** Every id referenced by some pipeline, per section (for "defined but unused" warnings). */
  used: Record<Section, Set<string>>;
}

/**
 * Checks ids, keys and references. `defined` holds the keys written under each section, whether
 * or not they validated, so a broken component is not also reported as undefined.
 */
export function validatePipelines(raw: unknown, defined: Record<Section, readonly string[]>, locate?: Locate): PipelinesResult {
  const problems: ConfigProblem[] = [];
  const report = (path: (string | number)[], message: string) => problems.push(problemAt(path, message, locate));
  const pipelines = new Map<string, PipelineSpec>();
  const used: PipelinesResult['used'] = { receivers: new Set(), processors: new Set(), exporters: new Set() };
  const pick = (section: Section) => defined[section][0] ?? EXAMPLE[section];
  const example = `pipelines: { traces: { receivers: [${pick('receivers')}], exporters: [${pick('exporters')}] } }`;

  if (raw !== undefined && raw !== null && !isMapping(raw)) {
    report(['pipelines'], `expected a mapping of pipeline ids, got ${describeValue(raw)}. Fix: write it like ${example}.`);
    return { pipelines, problems, used };
  }
  const entries = Object.entries(raw ?? {});
  if (entries.length === 0) {
    report(['pipelines'], `no pipelines are defined, so nothing would run. Fix: add one, e.g. ${example}.`);
    return { pipelines, problems, used };
  }

  for (const [id, body] of entries) {
    const parsed = parseComponentId(id);
    let idOk = parsed?.type === 'traces';
    if (!idOk) {
      report(['pipelines', id], parsed && SIGNALS.has(parsed.type)
        ? `only traces pipelines are supported; "${id}" is a ${parsed.type} pipeline. Fix: rename it to traces or traces/<name>, or remove it.`
        : `"${id}" is not a valid pipeline id; expected traces or traces/<name>. Fix: rename it, e.g. traces or traces/${parsed?.name || 'default'}.`);
    }
    const value = body ?? {};
    if (!isMapping(value)) {
      report(['pipelines', id], `expected a mapping with receivers, processors and exporters, got ${describeValue(value)}. Fix: write it like { receivers: [${pick('receivers')}], exporters: [${pick('exporters')}] }.`);
      continue;
    }
    for (const key of Object.keys(value)) {
      if ((SECTIONS as readonly string[]).includes(key)) continue;
      const guess = closestMatch(key, SECTIONS);
      report(['pipelines', id, key], `unknown key \`${key}\`${guess ? ` (did you mean \`${guess}\`?)` : ''}. Fix: remove it, or use one of: ${SECTIONS.join(', ')}.`);
    }
    const spec: PipelineSpec = { id, receivers: [], processors: [], exporters: [] };
    for (const section of SECTIONS) {
      const { refs, ok } = checkList(id, section, value[section], defined[section], report, pick(section));
      spec[section] = refs;
      for (const ref of refs) used[section].add(ref);
      if (!ok) idOk = false;
    }
    if (idOk) pipelines.set(id, spec);
  }
  return { pipelines, problems, used };
}

/** The list's defined references, and whether the list as a whole was valid. */
function checkList(
  id: string,
  section: Section,
  value: unknown,
  defined: readonly string[],
  report: (path: (string | number)[], message: string) => void,
  example: string,
): { refs: string[]; ok: boolean } {
  const path = ['pipelines', id, section];
  if (value === undefined || value === null) {
    if (section === 'processors') return { refs: [], ok: true };
    report(path, `no ${section} listed; a pipeline needs at least one. Fix: add ${section}: [${example}].`);
    return { refs: [], ok: false };
  }
  if (!Array.isArray(value)) {
    const fix = typeof value === 'string' ? `write it as a list: [${value}]` : `write a list of ids defined under ${section}, e.g. [${example}]`;
    report(path, `expected a list of ${section} ids, got ${describeValue(value)}. Fix: ${fix}.`);
    return { refs: [], ok: false };
  }
  if (value.length === 0 && section !== 'processors') {
    report(path, `the list is empty; a pipeline needs at least one of its ${section}. Fix: add one, e.g. [${example}].`);
    return { refs: [], ok: false };
  }
  const refs: string[] = [];
  const firstAt = new Map<string, number>();
  let ok = true;
  value.forEach((ref: unknown, i) => {
    if (typeof ref !== 'string') {
      report([...path, i], `expected the id of one of the ${section}, got ${describeValue(ref)}. Fix: write an id defined under ${section}${defined.length ? ` (${defined.join(', ')})` : ''}.`);
      ok = false;
      return;
    }
    const first = firstAt.get(ref);
    if (first !== undefined) {
      report([...path, i], `"${ref}" is listed twice (also at [${first}]). Fix: remove one; a component appears at most once per pipeline.`);
      ok = false;
      return;
    }
    firstAt.set(ref, i);
    if (!defined.includes(ref)) {
      const guess = closestMatch(ref, defined);
      report([...path, i], `"${ref}" is not defined under ${section} (defined: ${defined.length ? defined.join(', ') : 'none'}).${guess ? ` Did you mean "${guess}"?` : ''} Fix: define it under ${section} or remove it from the pipeline.`);
      ok = false;
      return;
    }
    refs.push(ref);
  });
  return { refs, ok };
}
