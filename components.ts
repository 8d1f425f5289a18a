/** The factories this build of skybridge ships (the Collector's components.go). */
import type { Factories } from './core/collector.ts';
import { exporterFactories } from './exporters/index.ts';
import { processorFactories } from './processors/index.ts';
import { receiverFactories } from './receivers/index.ts';

export const components: Factories = {
  receivers: receiverFactories,
  processors: processorFactories,
  exporters: exporterFactories,
};
