import { defineReceiver } from '../../core/component.ts';
import { zipkinConfigSchema } from './config.ts';
import { ZipkinReceiver } from './receiver.ts';

/** `receivers: { zipkin: ... }`: Zipkin v1/v2 span ingestion over HTTP (9411). */
export const zipkinReceiverFactory = defineReceiver({
  type: 'zipkin',
  stability: 'beta',
  description: 'Receives Zipkin spans over HTTP: v2 JSON and proto3, v1 JSON and Thrift, gzip.',
  configSchema: zipkinConfigSchema,
  create: (settings, config, next) => new ZipkinReceiver(settings, config, next),
});
