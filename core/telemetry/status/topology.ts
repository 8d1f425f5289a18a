/** The pipelines as the status page draws them: which components, of which type, feed which. */
import type { ValidatedConfig } from '../../config/validate.ts';

export type ComponentKind = 'receiver' | 'processor' | 'exporter';

export interface TopologyPipeline {
  id: string;
  receivers: string[];
  /** In order: each feeds the next, the last feeds every exporter. */
  processors: string[];
  exporters: string[];
}

export interface Topology {
  pipelines: TopologyPipeline[];
  /** Component id → its type (`otlp` for `otlp/internal`), for every component a pipeline lists. */
  types: Record<ComponentKind, Record<string, string>>;
}

export function topologyOf(config: Pick<ValidatedConfig, 'pipelines' | 'receivers' | 'processors' | 'exporters'>): Topology {
  const pipelines = [...config.pipelines.values()].map((p) => ({
    id: p.id,
    receivers: [...p.receivers],
    processors: [...p.processors],
    exporters: [...p.exporters],
  }));
  const typesOf = (entries: Map<string, { type: string }>, used: (p: TopologyPipeline) => string[]) => {
    const types: Record<string, string> = {};
    for (const p of pipelines) for (const id of used(p)) types[id] = entries.get(id)?.type ?? id.split('/')[0]!;
    return types;
  };
  return {
    pipelines,
    types: {
      receiver: typesOf(config.receivers, (p) => p.receivers),
      processor: typesOf(config.processors, (p) => p.processors),
      exporter: typesOf(config.exporters, (p) => p.exporters),
    },
  };
}
