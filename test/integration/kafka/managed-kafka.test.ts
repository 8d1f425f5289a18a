/**
 * Kafka as managed services run it: a real broker (scripts/kafka.sh) with a SASL_SSL listener, TLS
 * from a certificate this test makes, and one user known to PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
 * For each mechanism the `kafka` exporter produces over TLS with SASL and the `kafka` receiver
 * consumes the same traces back; a wrong password is refused, and so is a client that does not
 * trust the broker's certificate. Then every compression codec, through the same broker (which
 * checks each compressed batch it is given).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ComponentSettings } from '../../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../../core/consumer.ts';
import type { SpanBatch } from '../../../core/model/span-batch.ts';
import { createLogger } from '../../../core/telemetry/logger.ts';
import { Metrics } from '../../../core/telemetry/metrics.ts';
import { kafkaExporterFactory } from '../../../exporters/kafka/factory.ts';
import { kafkaReceiverFactory } from '../../../receivers/kafka/factory.ts';
import { startKafka, type KafkaBroker } from '../../support/kafka-broker.ts';
import { freePort } from '../../support/skybridge-process.ts';
import { batchOf, threeServiceTrace } from '../../support/span-fixtures.ts';
import { makeTestCerts, type TestCerts } from '../../support/test-certs.ts';

const USER = { name: 'skybridge', password: 'a-password-for-tests' };
const host = { reportFatal: () => {} };
const settings = (id: string, kind: 'exporter' | 'receiver'): ComponentSettings => ({ id, kind, logger: createLogger({ level: 'silent' }), metrics: new Metrics() });
const ctx: ConsumeContext = { receiver: 'test', transport: 'test' };

describe('Kafka over SASL_SSL, and every compression codec (real broker)', { timeout: 480_000 }, () => {
  let certs: TestCerts;
  let broker: KafkaBroker;
  let secure: string;

  before(async () => {
    certs = makeTestCerts();
    const pemFile = join(certs.dir, 'broker.pem');
    writeFileSync(pemFile, Buffer.concat([readFileSync(certs.serverKeyFile), readFileSync(certs.serverCertFile)]));
    const port = await freePort();
    broker = await startKafka({ saslSsl: { port, pemFile, user: USER } });
    secure = `127.0.0.1:${port}`;
  });
  after(async () => {
    await broker?.stop();
  });

  const security = (mechanism: string, password = USER.password, caFile?: string) => ({
    brokers: [secure],
    tls: { insecure: false, ca_file: caFile ?? certs.caFile },
    auth: { sasl: { mechanism, username: USER.name, password } },
  });

  /** Produces five traces with the exporter and reads them back with the receiver, both with `connection`. */
  async function roundTrip(connection: Record<string, unknown>, topic: string, producer: Record<string, unknown> = {}): Promise<void> {
      const exporter = kafkaExporterFactory.create(settings('kafka', 'exporter'), kafkaExporterFactory.configSchema.parse({ ...connection, topic, producer }));
      await exporter.start(host);
      const sent = Array.from({ length: 5 }, () => threeServiceTrace());
      await exporter.consume(batchOf(...sent.flatMap((t) => [t.batches.frontend, t.batches.orders, t.batches.payments])), ctx);
      await exporter.shutdown(AbortSignal.timeout(5_000));

      const received = new Set<string>();
      const next: TraceConsumer = {
        mutatesData: false,
        async consume(batch: SpanBatch) {
          for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) received.add(s.traceId);
        },
      };
      const receiver = kafkaReceiverFactory.create(
        settings('kafka', 'receiver'),
        kafkaReceiverFactory.configSchema.parse({ ...connection, topic, group_id: `group-${topic}`, initial_offset: 'earliest' }),
        next,
      );
      await receiver.start(host);
      try {
        const until = Date.now() + 60_000;
        while (received.size < sent.length && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual([...received].sort(), sent.map((t) => t.traceId).sort());
      } finally {
        await receiver.shutdown(AbortSignal.timeout(5_000));
      }
  }

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    it(`produces and consumes traces with ${mechanism} over TLS`, () => roundTrip(security(mechanism), `secured-${mechanism.toLowerCase()}`));
  }

  for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    it(`produces and consumes ${compression}-compressed batches`, () => roundTrip({ brokers: broker.brokers }, `codec-${compression}`, { compression }));
  }

  it('is refused with a wrong password, and by a client that does not trust the broker\'s certificate', async () => {
    for (const config of [security('SCRAM-SHA-256', 'not-the-password'), security('PLAIN', USER.password, certs.strangerCertFile)]) {
      const exporter = kafkaExporterFactory.create(
        settings('kafka', 'exporter'),
        kafkaExporterFactory.configSchema.parse({ ...config, topic: 'secured-refused', producer: { timeout: '2s', max_retries: 1 } }),
      );
      await exporter.start(host);
      try {
        await assert.rejects(exporter.consume(batchOf(threeServiceTrace().batches.frontend), ctx));
      } finally {
        await exporter.shutdown(AbortSignal.timeout(5_000));
      }
    }
  });
});
