import { defineExporter } from '../../core/component.ts';
import { skywalkingConfigSchema } from './config.ts';
import { SkyWalkingExporter } from './exporter.ts';

export const skywalkingExporterFactory = defineExporter({
  type: 'skywalking',
  stability: 'beta',
  description: 'Assembles traces into native SkyWalking segments and streams them to an OAP over gRPC.',
  configSchema: skywalkingConfigSchema,
  create: (settings, config) => new SkyWalkingExporter(settings, config),
});
