import { defineExporter } from '../../core/component.ts';
import { DeadLetterQueue } from '../../core/queue/durable-retry/dead-letters.ts';
import { collectSender } from './collect-stream.ts';
import { skywalkingConfigSchema } from './config.ts';
import { SegmentExporter } from '../../core/segments/segment-exporter.ts';
import { SkyWalkingSink } from './exporter.ts';
import { createOapClient } from './oap-client.ts';

export const skywalkingExporterFactory = defineExporter({
  type: 'skywalking',
  stability: 'beta',
  description: 'Assembles traces into native SkyWalking segments and streams them to an OAP over gRPC.',
  configSchema: skywalkingConfigSchema,
  create: (settings, config) =>
    new SegmentExporter(settings, config.assembly, [new SkyWalkingSink(settings, config)], {
      ackAfterExport: config.ack === 'after_export' ? { timeoutMs: config.ack_timeout } : undefined,
    }),
  deadLetters: (exporterId, config) => {
    if (config.redis === undefined) return undefined;
    // Replay sends the way the exporter does: same endpoint, TLS, token and deadline.
    let client: ReturnType<typeof createOapClient> | undefined;
    const send = (segments: readonly Buffer[]) => {
      client ??= createOapClient({
        endpoint: config.endpoint,
        tls: config.tls,
        reconnectBackoffMs: { initial: config.retry_on_failure.initial_interval, max: config.retry_on_failure.max_interval },
      });
      return collectSender(client, { token: config.token, timeoutMs: config.timeout })(segments);
    };
    return new DeadLetterQueue(exporterId, config.redis, send, () => client?.close());
  },
});
