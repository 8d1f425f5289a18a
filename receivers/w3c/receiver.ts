/**
 * The `w3c` receiver: spans from producers that only have W3C trace context (proxies, scripts,
 * browsers' backends) in front of one `next` consumer. Ack point: a POST is answered `202` only
 * after the next stage accepted its spans; a refusal from downstream becomes 429/503 with
 * `Retry-After`, so the sender keeps the data.
 */
import type { ComponentSettings } from '../../core/component.ts';
import type { TraceConsumer } from '../../core/consumer.ts';
import { SingleServerReceiver } from '../../core/http/single-server-receiver.ts';
import type { W3cConfig } from './config.ts';
import { W3cHttpServer } from './http-server.ts';
import { W3cIngestHandler } from './ingest-handler.ts';

export class W3cReceiver extends SingleServerReceiver {
  protected readonly label = 'W3C spans';
  protected readonly routes: string;

  constructor(settings: ComponentSettings, config: W3cConfig, next: TraceConsumer) {
    super(settings, config.endpoint, new W3cHttpServer(config, new W3cIngestHandler(settings, next), settings.logger));
    this.routes = `(POST ${config.path})`;
  }
}
