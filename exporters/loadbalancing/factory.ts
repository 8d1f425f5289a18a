import { defineExporter } from '../../core/component.ts';
import { loadbalancingConfigSchema } from './config.ts';
import { LoadbalancingExporter } from './exporter.ts';

export const loadbalancingExporterFactory = defineExporter({
  type: 'loadbalancing',
  stability: 'alpha',
  description: 'Sends each trace\'s spans over OTLP/gRPC to the gateway that owns its trace id (static list or DNS, consistent hashing).',
  configSchema: loadbalancingConfigSchema,
  create: (settings, config) => new LoadbalancingExporter(settings, config),
});
