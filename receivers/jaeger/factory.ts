import { defineReceiver } from '../../core/component.ts';
import { jaegerConfigSchema } from './config.ts';
import { JaegerReceiver } from './receiver.ts';

/** The `jaeger` receiver: Thrift compact/binary over UDP, Thrift binary over HTTP, gRPC api_v2. */
export const jaegerReceiverFactory = defineReceiver({
  type: 'jaeger',
  stability: 'alpha',
  description: 'Jaeger spans: Thrift over UDP (6831 compact, 6832 binary) and HTTP (14268), gRPC api_v2 (14250).',
  configSchema: jaegerConfigSchema,
  create: (settings, config, next) => new JaegerReceiver(settings, config, next),
});
