import { defineReceiver } from '../../core/component.ts';
import { w3cConfigSchema } from './config.ts';
import { W3cReceiver } from './receiver.ts';

/** `receivers: { w3c: ... }`: spans described in JSON, identified by W3C trace context headers (9412). */
export const w3cReceiverFactory = defineReceiver({
  type: 'w3c',
  stability: 'alpha',
  description: 'Receives JSON spans over HTTP whose identity comes from W3C traceparent/tracestate/baggage headers.',
  configSchema: w3cConfigSchema,
  create: (settings, config, next) => new W3cReceiver(settings, config, next),
});
