/**
 * Checks a loaded pipelines.yaml against the component factories and returns either a config the
 * runtime can build from, or every problem found (never just the first).
 */
import type { z } from 'zod';
import { parseComponentId, type AnyFactory, type ExporterFactory, type ProcessorFactory, type ReceiverFactory } from '../component.ts';
import { closestMatch } from './closest-match.ts';
import { problemAt, type ConfigProblem, type Locate } from './config-problem.ts';
import { deepFreeze } from './deep-freeze.ts';
import { describeValue, isMapping } from './describe-value.ts';
import { telemetryConfigSchema, type TelemetryConfig } from './telemetry-config.ts';
import { admissionConfigSchema, type AdmissionConfig } from '../admission/config.ts';
import { workersConfigSchema, type WorkersConfig } from '../workers/config.ts';
import { translateZodIssues } from './translate-zod-issues.ts';
import { validatePipelines, type PipelineSpec } from './validate-pipelines.ts';

export { formatProblems, formatPath, type ConfigProblem, type ConfigPath, type Locate } from './config-problem.ts';
export type { PipelineSpec } from './validate-pipelines.ts';
export type { TelemetryConfig } from './telemetry-config.ts';

/** One configured component instance. */
export interface ComponentEntry<F> {
  /** As written: `type` or `type/name`. */
  id: string;
  type: string;
  /** `''` when the id has no `/name`. */
  name: string;
  factory: F;
  /** `factory.configSchema`'s parsed output (defaults applied, units in ms/bytes), deep-frozen. */
  config: unknown;
}

/** Everything the runtime needs to build the pipelines; only produced when there were no problems. */
export interface ValidatedConfig {
  receivers: Map<string, ComponentEntry<ReceiverFactory>>;
  processors: Map<string, ComponentEntry<ProcessorFactory>>;
  exporters: Map<string, ComponentEntry<ExporterFactory>>;
  pipelines: Map<string, PipelineSpec>;
  telemetry: TelemetryConfig;
  admission: AdmissionConfig;
  /** Undefined when the file does not say (see workersConfigSchema for what that means). */
  workers: WorkersConfig;
}

/** The factories available to this build, per kind (the lists in `receivers/index.ts` and siblings). */
export interface ComponentFactories {
  receivers: readonly ReceiverFactory[];
  processors: readonly ProcessorFactory[];
  exporters: readonly ExporterFactory[];
}

export interface ValidationResult {
  /** Present exactly when `problems` is empty. */
  config?: ValidatedConfig;
  problems: ConfigProblem[];
  /** Not errors: e.g. a component defined but used by no pipeline, which will not be started. */
  warnings: string[];
}

const TOP_LEVEL = ['receivers', 'processors', 'exporters', 'pipelines', 'telemetry', 'admission', 'workers'] as const;
type Section = 'receivers' | 'processors' | 'exporters';
const KIND: Record<Section, string> = { receivers: 'receiver', processors: 'processor', exporters: 'exporter' };

/**
 * Validates the whole document. Never throws on bad input; a schema that throws is a bug in that
 * component and is left to surface.
 *
 * @param locate from `loadConfigText`/`loadConfigFile`: gives each problem its line and column.
 * @param alreadyReported the loader's problems (e.g. an unset variable), when the caller reports
 *   both lists together. A validation problem at the same path is dropped: it would only restate
 *   that the value is unusable.
 */
export function validateConfig(
  raw: unknown,
  factories: ComponentFactories,
  locate?: Locate,
  alreadyReported: readonly ConfigProblem[] = [],
): ValidationResult {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const report = (path: (string | number)[], message: string) => problems.push(problemAt(path, message, locate));

  if (raw === undefined || raw === null) {
    report([], 'the config is empty. Fix: define receivers, exporters and pipelines (see pipelines.yaml in the repository for an example).');
    return finish();
  }
  if (!isMapping(raw)) {
    report([], `expected a mapping with the keys ${TOP_LEVEL.join(', ')}, got ${describeValue(raw)}. Fix: start the file with receivers:, exporters: and pipelines: blocks.`);
    return finish();
  }
  for (const key of Object.keys(raw)) {
    if ((TOP_LEVEL as readonly string[]).includes(key)) continue;
    const guess = closestMatch(key, TOP_LEVEL);
    report([key], `unknown top-level key \`${key}\`${guess ? ` (did you mean \`${guess}\`?)` : ''}. Fix: remove it, or use one of: ${TOP_LEVEL.join(', ')}.`);
  }

  const receivers = validateSection('receivers', raw.receivers, factories.receivers);
  const processors = validateSection('processors', raw.processors, factories.processors);
  const exporters = validateSection('exporters', raw.exporters, factories.exporters);

  const telemetryInput = raw.telemetry ?? {};
  const telemetry = telemetryConfigSchema.safeParse(telemetryInput, { reportInput: true });
  if (!telemetry.success) {
    problems.push(...translateZodIssues(telemetry.error.issues, { base: ['telemetry'], schema: telemetryConfigSchema, input: telemetryInput, locate }));
  }

  const admissionInput = raw.admission ?? {};
  const admission = admissionConfigSchema.safeParse(admissionInput, { reportInput: true });
  if (!admission.success) {
    problems.push(...translateZodIssues(admission.error.issues, { base: ['admission'], schema: admissionConfigSchema, input: admissionInput, locate }));
  }

  const wiring = validatePipelines(raw.pipelines, { receivers: receivers.defined, processors: processors.defined, exporters: exporters.defined }, locate);
  problems.push(...wiring.problems);
  for (const [section, entries] of [['receivers', receivers.entries], ['processors', processors.entries], ['exporters', exporters.entries]] as const) {
    for (const id of entries.keys()) {
      if (!wiring.used[section].has(id)) warnings.push(`${section}.${id} is defined but used by no pipeline; it will not be started.`);
    }
  }

  const workers = workersConfigSchema.safeParse(raw.workers, { reportInput: true });
  if (!workers.success) {
    problems.push(...translateZodIssues(workers.error.issues, { base: ['workers'], schema: workersConfigSchema, input: raw.workers, locate }));
  }

  if (problems.length > 0 || !telemetry.success || !admission.success || !workers.success) return finish();
  return finish({
    receivers: receivers.entries,
    processors: processors.entries,
    exporters: exporters.entries,
    pipelines: wiring.pipelines,
    telemetry: deepFreeze(telemetry.data),
    admission: deepFreeze(admission.data),
    workers: workers.data,
  });

  function finish(config?: ValidatedConfig): ValidationResult {
    const echoed = new Set(alreadyReported.map((p) => p.path).filter((p) => p !== ''));
    const kept = problems.filter((p) => !echoed.has(p.path));
    // Dropping an echo must not turn a broken config into a valid one.
    if (config && kept.length === 0) return { config, problems: kept, warnings };
    return { problems: kept, warnings };
  }

  function validateSection<F extends AnyFactory>(section: Section, value: unknown, available: readonly F[]) {
    const entries = new Map<string, ComponentEntry<F>>();
    const kind = KIND[section];
    if (value === undefined || value === null) return { entries, defined: [] as string[] };
    if (!isMapping(value)) {
      report([section], `expected a mapping of ${kind} ids to their settings, got ${describeValue(value)}. Fix: write it like ${section}: { ${available[0]?.type ?? 'name'}: {} }.`);
      return { entries, defined: [] as string[] };
    }
    const byType = new Map<string, F>();
    for (const factory of available) if (!byType.has(factory.type)) byType.set(factory.type, factory);
    const known = [...byType.keys()];

    for (const [id, settings] of Object.entries(value)) {
      const parsedId = parseComponentId(id);
      if (!parsedId) {
        const fixed = id.trim().toLowerCase().replace(/[\s-]+/g, '_');
        const suggestion = parseComponentId(fixed) ? ` e.g. "${fixed}"` : '';
        report([section, id], `"${id}" is not a valid ${kind} id; expected type or type/name with the type in lower_snake_case (e.g. otlp, otlp/edge). Fix: rename it${suggestion}.`);
        continue;
      }
      const factory = byType.get(parsedId.type);
      if (!factory) {
        const guess = closestMatch(parsedId.type, known);
        const knownText = known.length ? `known ${kind} types: ${known.join(', ')}` : `this build has no ${kind} types`;
        const fix = guess ? `use "${guess}${parsedId.name ? `/${parsedId.name}` : ''}"` : known.length ? `use one of the known types` : `remove it`;
        report([section, id], `unknown ${kind} type "${parsedId.type}"${guess ? ` (did you mean "${guess}"?)` : ''}; ${knownText}. Fix: ${fix}.`);
        continue;
      }
      // An empty block (`debug:` or `debug: {}`) means "all defaults".
      const input = settings ?? {};
      const schema: z.ZodType = factory.configSchema;
      const result = schema.safeParse(input, { reportInput: true });
      if (!result.success) {
        problems.push(...translateZodIssues(result.error.issues, { base: [section, id], schema, input, locate }));
        continue;
      }
      entries.set(id, { id, type: parsedId.type, name: parsedId.name, factory, config: deepFreeze(result.data) });
    }
    return { entries, defined: Object.keys(value) };
  }
}
