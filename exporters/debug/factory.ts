import { defineExporter } from '../../core/component.ts';
import { debugConfigSchema } from './config.ts';
import { SegmentExporter } from '../../core/segments/segment-exporter.ts';
import { DebugSink } from './exporter.ts';

export const debugExporterFactory = defineExporter({
  type: 'debug',
  stability: 'beta',
  description: 'Writes assembled SkyWalking segments as JSON lines to stdout, stderr or a file.',
  configSchema: debugConfigSchema,
  create: (settings, config) => new SegmentExporter(settings, config.assembly, [new DebugSink(settings, config)]),
});
