/**
 * The deployment manifests, checked by real parsers (there is no Docker engine or cluster here):
 * - docker-compose.yaml by Debian's docker-compose (`config -q`: the Compose schema, interpolation,
 *   depends_on conditions, profiles);
 * - every object in deploy/k8s/ against the Kubernetes API's OpenAPI schemas (kubernetes-models:
 *   validators compiled from them, nothing fetched);
 * - every environment variable given to a skybridge container (compose or Kubernetes) is read by the
 *   pipeline file mounted into it, and every `${VAR}` that file needs without a default is given;
 * - every SW_* variable given to the OAP container is one the OAP reads, and a module selector names
 *   one of the module's providers. The OAP's build leaves its application.yml and bydb.yml out of
 *   the jars on Maven Central, so the keys come from oap-settings-<version>.json (see its header):
 *   the version must match the compose image, so an image bump asks for a fresh list, made with
 *     git show v<version>:oap-server/server-starter/src/main/resources/{application,bydb}.yml
 *   from apache/skywalking, collecting each `${SW_...:` with the YAML path it stands at.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE = join(ROOT, 'docker-compose.yaml');
const K8S = join(ROOT, 'deploy/k8s');
/** Where the skybridge image reads its pipeline file (the compose services and pods mount it there). */
const CONFIG_MOUNT = '/etc/skybridge/pipelines.yaml';

interface OapSettings {
  oap_version: string;
  selectors: Record<string, string[]>;
  variables: Record<string, string[]>;
}

function dockerCompose(file: string): ReturnType<typeof spawnSync> {
  return spawnSync('docker-compose', ['--project-directory', ROOT, '-f', file, 'config', '-q'], { encoding: 'utf8' });
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
  spec?: { template?: { spec?: PodSpec } };
}
interface PodSpec {
  containers: { name: string; image: string; env?: { name: string }[]; volumeMounts?: { name: string; mountPath: string }[] }[];
  volumes?: { name: string; configMap?: { name: string } }[];
}

function k8sObjects(): { file: string; object: K8sObject }[] {
  return yamlFiles(K8S).flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      return { file: relative(ROOT, file), object: doc.toJS() as K8sObject };
    }));
}

/** The kubernetes-models class for an object's apiVersion and kind (`apps/v1` → kubernetes-models/apps/v1). */
async function modelFor(object: K8sObject): Promise<new (data: object) => { validate(): void }> {
  const module = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, new (data: object) => { validate(): void }>;
  const model = module[object.kind];
  assert.ok(model, `kubernetes-models has no ${object.apiVersion} ${object.kind}`);
  return model;
}

/** The variables a pipeline file reads: `${VAR}` in its values (comments are not read). */
function pipelineVariables(file: string): { read: Set<string>; required: Set<string> } {
  const read = new Set<string>();
  const required = new Set<string>();
  const walk = (node: unknown): void => {
    if (typeof node === 'string') {
      for (const m of node.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?)/g)) {
        read.add(m[1]!);
        if (m[2] === '') required.add(m[1]!);
      }
    } else if (node !== null && typeof node === 'object') for (const value of Object.values(node)) walk(value);
  };
  walk(parse(readFileSync(join(ROOT, file), 'utf8')));
  return { read, required };
}

function assertEnvMatchesPipeline(where: string, env: string[], pipelineFile: string): void {
  const { read, required } = pipelineVariables(pipelineFile);
  const unread = env.filter((name) => !read.has(name));
  assert.deepEqual(unread, [], `${where} sets variables ${pipelineFile} does not read`);
  const missing = [...required].filter((name) => !env.includes(name));
  assert.deepEqual(missing, [], `${where} lacks variables ${pipelineFile} needs (no default)`);
}

/** `kubectl ... create configmap NAME --from-file=pipelines.yaml=deploy/FILE` lines of the k8s README. */
function configMapSources(): Map<string, string> {
  const readme = readFileSync(join(K8S, 'README.md'), 'utf8');
  return new Map([...readme.matchAll(/create configmap (\S+)\s+--from-file=pipelines\.yaml=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

describe('docker-compose.yaml', () => {
  const compose = parse(readFileSync(COMPOSE, 'utf8')) as { services: Record<string, { image?: string; build?: string; environment?: Record<string, unknown>; volumes?: string[] }> };

  it('docker-compose config accepts it', () => {
    const r = dockerCompose(COMPOSE);
    assert.equal(r.error, undefined, 'docker-compose is installed (scripts/test-peers.sh)');
    assert.equal(r.status, 0, String(r.stderr));
  });

  it('docker-compose config refuses a broken copy (the check is not vacuous)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-'));
    try {
      const broken = join(dir, 'docker-compose.yaml');
      writeFileSync(broken, readFileSync(COMPOSE, 'utf8').replace('depends_on: [banyandb]', 'depends_on: banyandb-typo\n    restrat: always'));
      const r = dockerCompose(broken);
      assert.notEqual(r.status, 0);
      assert.match(String(r.stderr), /restrat|depends_on/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('each skybridge service is given exactly the variables its pipeline file reads', () => {
    const skybridge = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    assert.ok(skybridge.length >= 3);
    for (const [name, service] of skybridge) {
      const mount = (service.volumes ?? []).find((v) => v.split(':')[1] === CONFIG_MOUNT);
      assert.ok(mount, `${name} mounts a pipeline file at ${CONFIG_MOUNT}`);
      assertEnvMatchesPipeline(`service ${name}`, Object.keys(service.environment ?? {}), mount.split(':')[0]!.replace(/^\.\//, ''));
    }
  });

  it('the OAP is given only settings the OAP reads, and a provider its selectors know', () => {
    const [name, oap] = Object.entries(compose.services).find(([, s]) => s.image?.startsWith('apache/skywalking-oap-server:')) ?? [];
    assert.ok(oap?.image, 'an OAP service');
    const version = oap.image.split(':')[1]!;
    const settingsFile = new URL(`./oap-settings-${version}.json`, import.meta.url);
    const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as OapSettings;
    assert.equal(settings.oap_version, version);
    const env = Object.entries(oap.environment ?? {}).filter(([key]) => key.startsWith('SW_'));
    assert.ok(env.length > 0);
    for (const [key, value] of env) {
      assert.ok(settings.variables[key], `${name}: the OAP ${version} reads no ${key}`);
      const providers = settings.selectors[key];
      if (providers) assert.ok(providers.includes(String(value)), `${name}: ${key}=${value} is none of ${providers.join(', ')}`);
    }
  });
});

describe('deploy/k8s', () => {
  const objects = k8sObjects();

  it('holds workloads and services', () => {
    assert.deepEqual([...new Set(objects.map((o) => o.object.kind))].sort(), ['DaemonSet', 'Deployment', 'Service']);
  });

  it('every object is valid against the Kubernetes API schema', async () => {
    for (const { file, object } of objects) {
      const Model = await modelFor(object);
      assert.doesNotThrow(() => new Model(object).validate(), `${file}: ${object.kind} ${object.metadata?.name}`);
    }
  });

  it('the schema check refuses a broken object (the check is not vacuous)', async () => {
    const { object } = objects.find((o) => o.object.kind === 'Deployment')!;
    const broken = structuredClone(object) as K8sObject & { spec: { selector?: unknown; replicas?: unknown } };
    broken.spec.replicas = 'two';
    const Model = await modelFor(object);
    assert.throws(() => new Model(broken).validate(), /replicas must be integer/);
  });

  it('each skybridge container is given exactly the variables its pipeline file reads', () => {
    const sources = configMapSources();
    let checked = 0;
    for (const { file, object } of objects) {
      const pod = object.spec?.template?.spec;
      if (!pod) continue;
      for (const container of pod.containers.filter((c) => c.image.startsWith('skybridge'))) {
        const mount = container.volumeMounts?.find((m) => CONFIG_MOUNT.startsWith(`${m.mountPath}/`));
        const configMap = pod.volumes?.find((v) => v.name === mount?.name)?.configMap?.name;
        assert.ok(configMap, `${file}: ${container.name} mounts a ConfigMap at ${CONFIG_MOUNT}`);
        const pipelineFile = sources.get(configMap);
        assert.ok(pipelineFile, `deploy/k8s/README.md says which pipeline file ConfigMap ${configMap} holds`);
        assertEnvMatchesPipeline(`${file}: ${object.metadata?.name}`, (container.env ?? []).map((e) => e.name), pipelineFile);
        checked += 1;
      }
    }
    assert.equal(checked, 4);
  });
});
