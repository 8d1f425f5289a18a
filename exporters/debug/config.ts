import { z } from 'zod';
import { assemblySchema } from '../../core/segments/segment-exporter.ts';

export const debugConfigSchema = z
  .strictObject({
    output: z
      .string()
      .min(1)
      .default('stdout')
      .describe('Where segments are written: "stdout", "stderr", or a file path (appended to, created if missing).'),
    format: z
      .enum(['json'])
      .default('json')
      .describe('"json": one JSON object per line, in the proto3 JSON mapping the OAP\'s /v3/segments HTTP API takes (camelCase, enum names).'),
    verbosity: z
      .enum(['basic', 'detailed'])
      .default('detailed')
      .describe('"detailed": the whole segment. "basic": one summary per segment (service, instance, trace id, segment id, span count, endpoint).'),
    assembly: assemblySchema,
  })
  .describe('Writes assembled SkyWalking segments as JSON lines, to look at what the skywalking exporter would send.');

export type DebugConfig = z.output<typeof debugConfigSchema>;
