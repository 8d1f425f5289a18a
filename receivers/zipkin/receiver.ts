/**
 * The `zipkin` receiver: the Zipkin HTTP collector API in front of one `next` consumer. Ack point: a
 * POST is answered `202 Accepted` only after the next stage accepted its spans; a refusal from
 * downstream becomes 429/503 with `Retry-After`, so the sender keeps the data.
 */
import type { ComponentSettings } from '../../core/component.ts';
import type { TraceConsumer } from '../../core/consumer.ts';
import { SingleServerReceiver } from '../../core/http/single-server-receiver.ts';
import type { ZipkinConfig } from './config.ts';
import { V1_PATH, V2_PATH, ZipkinHttpServer } from './http-server.ts';
import { IngestHandler } from './ingest-handler.ts';

/** Receives Zipkin v1 and v2 spans over HTTP and hands each request's spans to `next`. */
export class ZipkinReceiver extends SingleServerReceiver {
  protected readonly label = 'Zipkin';
  protected readonly routes = `(POST ${V2_PATH}, ${V1_PATH})`;

  constructor(settings: ComponentSettings, config: ZipkinConfig, next: TraceConsumer) {
    super(settings, config.endpoint, new ZipkinHttpServer(config, new IngestHandler(settings, config, next), settings.logger));
  }
}
