import { defineExporter } from '../../core/component.ts';
import { debugConfigSchema } from './config.ts';
import { DebugExporter } from './exporter.ts';

export const debugExporterFactory = defineExporter({
  type: 'debug',
  stability: 'beta',
  description: 'Writes assembled SkyWalking segments as JSON lines to stdout, stderr or a file.',
  configSchema: debugConfigSchema,
  create: (settings, config) => new DebugExporter(settings, config),
});
