import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postHeadersOnly } from '../../test/support/post-headers-only.ts';
import { OverloadedError, type SkybridgeError } from '../errors.ts';
import { createLogger } from '../telemetry/logger.ts';
import { httpConnectionsSchema } from './connection-limits.ts';
import { IngestHttpServer, type IngestAnswer } from './ingest-http-server.ts';

/** The smallest protocol on the shell: any body is accepted with 202, and every body read is kept. */
class RecordingServer extends IngestHttpServer<'any'> {
  readonly bodies: Buffer[] = [];
  readonly statuses: number[] = [];
  full = false;

  constructor() {
    super({
      endpoint: '127.0.0.1:0',
      paths: ['/ingest'],
      notFoundMessage: 'POST /ingest',
      maxBodySize: 4 * 1024 * 1024,
      connections: httpConnectionsSchema.parse({}),
      name: 'test',
      transport: 'http',
      logger: createLogger({ level: 'silent' }),
      admit: () => {
        if (this.full) throw new OverloadedError('No room.', 3000);
      },
    });
  }

  protected override classify(): 'any' {
    return 'any';
  }

  protected override async ingest(body: Buffer): Promise<IngestAnswer | SkybridgeError> {
    this.bodies.push(body);
    return { status: 202 };
  }

  protected override answered(status: number): void {
    this.statuses.push(status);
  }

  protected override refused(): void {}
}

describe('IngestHttpServer admission before the body', () => {
  const server = new RecordingServer();
  let port = 0;
  before(async () => {
    await server.listen((err) => {
      throw err;
    });
    port = server.port!;
  });
  after(() => server.close(AbortSignal.timeout(2000)));

  it('refuses with 429, Retry-After and Connection: close while there is no room, without waiting for the body', async () => {
    server.full = true;
    // 3 MiB announced, none sent: the answer must come without the body.
    const res = await postHeadersOnly(`http://127.0.0.1:${port}/ingest`, 3 * 1024 * 1024, { 'content-type': 'application/octet-stream' });
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '3');
    assert.equal(res.headers.connection, 'close');
    assert.match(res.text, /No room/);
    assert.equal(server.bodies.length, 0, 'no body was read or ingested');
  });

  it('reads and ingests the body once there is room again', async () => {
    server.full = false;
    const body = Buffer.alloc(200_000, 7);
    const res = await fetch(`http://127.0.0.1:${port}/ingest`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 202);
    assert.equal(server.bodies.length, 1);
    assert.equal(server.bodies[0]!.length, body.length);
    assert.deepEqual(server.statuses, [429, 202]);
  });
});
