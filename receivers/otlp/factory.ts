import { defineReceiver } from '../../core/component.ts';
import { otlpConfigSchema } from './config.ts';
import { OtlpReceiver } from './receiver.ts';

/** `receivers: { otlp: ... }`: OTLP/gRPC (4317) and OTLP/HTTP (4318) trace ingestion. */
export const otlpReceiverFactory = defineReceiver({
  type: 'otlp',
  stability: 'beta',
  description: 'Receives OpenTelemetry spans over OTLP/gRPC and OTLP/HTTP (protobuf or JSON, gzip).',
  configSchema: otlpConfigSchema,
  create: (settings, config, next) => new OtlpReceiver(settings, config, next),
});
