/**
 * The deployment examples stay valid: `skybridge validate` accepts the Kafka tier's and the
 * loadbalancing layout's pipeline files
 * (deploy/pipelines.agent.yaml, deploy/pipelines.gateway.yaml) that docker-compose and deploy/k8s mount.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/skybridge.mjs');

describe('deploy pipeline files', () => {
  for (const file of ['deploy/pipelines.agent.yaml', 'deploy/pipelines.gateway.yaml', 'deploy/gateway.yaml', 'deploy/pipelines.lb-agent.yaml', 'deploy/pipelines.lb-gateway.yaml']) {
    it(`skybridge validate accepts ${file}`, () => {
      const r = spawnSync(process.execPath, [BIN, 'validate', '--config', join(ROOT, file)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /is valid/);
    });
  }

  it('the gateway acknowledges Kafka only after export, and after the sampling decision', async () => {
    const { readFileSync } = await import('node:fs');
    const gateway = readFileSync(join(ROOT, 'deploy/pipelines.gateway.yaml'), 'utf8');
    assert.match(gateway, /^\s+ack: after_export$/m);
    assert.match(gateway, /^\s+ack: after_decision$/m);
  });
});
