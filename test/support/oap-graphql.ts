/**
 * Typed GraphQL queries against the real SkyWalking OAP 10.1.0 (test/support/oap.ts), with the
 * shapes that 10.1 answers: services, instances, endpoints, the global topology, endpoint
 * dependencies, traces and MQE metrics. Also the OAP's id encoding (so a test can name an
 * endpoint it has not listed yet) and `Duration` helpers.
 *
 * Every function takes anything with `graphql()` (a RealOap) and returns the `data` part; GraphQL
 * errors reject (RealOap.graphql does that). Poll with `pollOap` around them: the OAP shows what it
 * received 2–4 s later (persistentPeriod 2 s, serviceCacheRefreshInterval 2 s).
 */
import type { RealOap } from './oap.ts';

export type GraphqlClient = Pick<RealOap, 'graphql'>;

// ---- durations ---------------------------------------------------------------------------------

export type Step = 'MINUTE' | 'HOUR' | 'DAY';
export interface Duration {
  start: string;
  end: string;
  step: Step;
}

/** OAP time text for `ms` at `step`, in UTC (oap.sh runs the OAP with -Duser.timezone=UTC). */
export function oapTime(ms: number, step: Step = 'MINUTE'): string {
  const iso = new Date(ms).toISOString(); // 2025-01-31T12:05:...
  const day = iso.slice(0, 10);
  if (step === 'DAY') return day;
  if (step === 'HOUR') return `${day} ${iso.slice(11, 13)}`;
  return `${day} ${iso.slice(11, 13)}${iso.slice(14, 16)}`;
}

/** A `Duration` from `fromMs` to `toMs` (both included at `step` granularity). */
export function durationBetween(fromMs: number, toMs: number, step: Step = 'MINUTE'): Duration {
  return { start: oapTime(fromMs, step), end: oapTime(toMs, step), step };
}

/** From `sinceMs` (minus one minute, for clock rounding) to one minute ahead of now. */
export function durationSince(sinceMs: number, step: Step = 'MINUTE'): Duration {
  return durationBetween(sinceMs - 60_000, Date.now() + 60_000, step);
}

// ---- ids ---------------------------------------------------------------------------------------

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The OAP's service id: base64(name) + `.1` for a normal (instrumented) service, `.0` for a conjectured one. */
export function serviceIdOf(name: string, normal = true): string {
  return `${b64(name)}.${normal ? 1 : 0}`;
}

/** The OAP's endpoint id: service id + `_` + base64(endpoint name). */
export function endpointIdOf(serviceId: string, endpointName: string): string {
  return `${serviceId}_${b64(endpointName)}`;
}

/** The OAP's instance id: service id + `_` + base64(instance name). */
export function instanceIdOf(serviceId: string, instanceName: string): string {
  return `${serviceId}_${b64(instanceName)}`;
}

// ---- metadata ----------------------------------------------------------------------------------

export interface OapService {
  id: string;
  name: string;
  group: string | null;
  shortName: string;
  layers: string[];
  normal: boolean | null;
}

export interface OapInstance {
  id: string;
  name: string;
  language: string | null;
  instanceUUID: string;
  attributes: { name: string; value: string }[];
}

export interface OapEndpoint {
  id: string;
  name: string;
}

/** `listServices(layer)`: every service of the layer (all layers without one). */
export async function listServices(oap: GraphqlClient, layer?: string): Promise<OapService[]> {
  const { listServices: services } = await oap.graphql<{ listServices: OapService[] }>(
    'query ($layer: String) { listServices(layer: $layer) { id name group shortName layers normal } }',
    { layer: layer ?? null },
  );
  return services;
}

/** `findService(serviceName)`: the service of that name, or null when the OAP has none. */
export async function findService(oap: GraphqlClient, serviceName: string): Promise<OapService | null> {
  const { findService: service } = await oap.graphql<{ findService: OapService | null }>(
    'query ($serviceName: String!) { findService(serviceName: $serviceName) { id name group shortName layers normal } }',
    { serviceName },
  );
  return service;
}

/** `listInstances(duration, serviceId)`. */
export async function listInstances(oap: GraphqlClient, serviceId: string, duration: Duration): Promise<OapInstance[]> {
  const { listInstances: instances } = await oap.graphql<{ listInstances: OapInstance[] }>(
    'query ($serviceId: ID!, $duration: Duration!) { listInstances(duration: $duration, serviceId: $serviceId) { id name language instanceUUID attributes { name value } } }',
    { serviceId, duration },
  );
  return instances;
}

/** `findEndpoint(keyword, serviceId, limit)`; an empty keyword lists them all (up to `limit`). */
export async function findEndpoints(oap: GraphqlClient, serviceId: string, keyword = '', limit = 100): Promise<OapEndpoint[]> {
  const { findEndpoint } = await oap.graphql<{ findEndpoint: OapEndpoint[] }>(
    'query ($serviceId: ID!, $keyword: String, $limit: Int!) { findEndpoint(keyword: $keyword, serviceId: $serviceId, limit: $limit) { id name } }',
    { serviceId, keyword, limit },
  );
  return findEndpoint;
}

// ---- topology ----------------------------------------------------------------------------------

export interface TopologyNode {
  id: string;
  name: string;
  /** The node's component (or, for a conjectured peer, the product) name; `USER` for User. */
  type: string | null;
  isReal: boolean;
  layers: string[];
}

export interface TopologyCall {
  id: string;
  source: string;
  target: string;
  detectPoints: ('CLIENT' | 'SERVER' | 'PROXY')[];
  sourceComponents: string[];
  targetComponents: string[];
}

export interface Topology {
  nodes: TopologyNode[];
  calls: TopologyCall[];
}

/** `getGlobalTopology(duration[, layer])`. */
export async function globalTopology(oap: GraphqlClient, duration: Duration, layer?: string): Promise<Topology> {
  const { getGlobalTopology } = await oap.graphql<{ getGlobalTopology: Topology }>(
    `query ($duration: Duration!, $layer: String) {
      getGlobalTopology(duration: $duration, layer: $layer) {
        nodes { id name type isReal layers }
        calls { id source target detectPoints sourceComponents targetComponents }
      }
    }`,
    { duration, layer: layer ?? null },
  );
  return getGlobalTopology;
}

export interface EndpointNode {
  id: string;
  name: string;
  serviceId: string;
  serviceName: string;
  type: string | null;
  isReal: boolean;
}

export interface EndpointTopology {
  nodes: EndpointNode[];
  calls: TopologyCall[];
}

/** `getEndpointDependencies(endpointId, duration)`: the endpoint's callers and callees. */
export async function endpointDependencies(oap: GraphqlClient, endpointId: string, duration: Duration): Promise<EndpointTopology> {
  const { getEndpointDependencies } = await oap.graphql<{ getEndpointDependencies: EndpointTopology }>(
    `query ($endpointId: ID!, $duration: Duration!) {
      getEndpointDependencies(endpointId: $endpointId, duration: $duration) {
        nodes { id name serviceId serviceName type isReal }
        calls { id source target detectPoints sourceComponents targetComponents }
      }
    }`,
    { endpointId, duration },
  );
  return getEndpointDependencies;
}

/** A call as `source → target`, by node name (`service` or `service/endpoint`), for readable assertions. */
export interface NamedCall {
  source: string;
  target: string;
  detectPoints: string[];
  sourceComponents: string[];
  targetComponents: string[];
}

/** The calls of a topology with node names instead of ids; `nameOf` decides how a node is named. */
export function namedCalls<N extends { id: string }>(
  graph: { nodes: N[]; calls: TopologyCall[] },
  nameOf: (node: N) => string,
): NamedCall[] {
  const names = new Map(graph.nodes.map((n) => [n.id, nameOf(n)]));
  return graph.calls.map((c) => ({
    source: names.get(c.source) ?? `?${c.source}`,
    target: names.get(c.target) ?? `?${c.target}`,
    detectPoints: [...c.detectPoints].sort(),
    sourceComponents: [...c.sourceComponents].sort(),
    targetComponents: [...c.targetComponents].sort(),
  }));
}

/** `source → target [CLIENT,SERVER]` lines, sorted: a compact picture for assertion messages. */
export function describeCalls(calls: readonly NamedCall[]): string[] {
  return calls.map((c) => `${c.source} → ${c.target} [${c.detectPoints.join(',')}]`).sort();
}

// ---- traces ------------------------------------------------------------------------------------

export interface BasicTrace {
  segmentId: string;
  endpointNames: string[];
  duration: number;
  start: string;
  isError: boolean | null;
  traceIds: string[];
}

export type TraceState = 'ALL' | 'SUCCESS' | 'ERROR';

export interface TraceQuery {
  traceId?: string;
  serviceId?: string;
  endpointId?: string;
  duration: Duration;
  state?: TraceState;
  pageSize?: number;
}

/** `queryBasicTraces`: segments (newest first) matching the trace id or service / endpoint. */
export async function queryBasicTraces(oap: GraphqlClient, q: TraceQuery): Promise<BasicTrace[]> {
  const condition: Record<string, unknown> = {
    queryDuration: q.duration,
    traceState: q.state ?? 'ALL',
    queryOrder: 'BY_START_TIME',
    paging: { pageNum: 1, pageSize: q.pageSize ?? 50 },
  };
  if (q.traceId !== undefined) condition.traceId = q.traceId;
  if (q.serviceId !== undefined) condition.serviceId = q.serviceId;
  if (q.endpointId !== undefined) condition.endpointId = q.endpointId;
  const { queryBasicTraces: answer } = await oap.graphql<{ queryBasicTraces: { traces: BasicTrace[] } }>(
    `query ($condition: TraceQueryCondition) {
      queryBasicTraces(condition: $condition) { traces { segmentId endpointNames duration start isError traceIds } }
    }`,
    { condition },
  );
  return answer.traces;
}

export interface OapRef {
  traceId: string;
  parentSegmentId: string;
  parentSpanId: number;
  type: 'CROSS_PROCESS' | 'CROSS_THREAD';
}

export interface OapSpan {
  traceId: string;
  segmentId: string;
  spanId: number;
  parentSpanId: number;
  refs: OapRef[];
  serviceCode: string;
  serviceInstanceName: string;
  startTime: number;
  endTime: number;
  endpointName: string | null;
  type: 'Entry' | 'Exit' | 'Local';
  peer: string | null;
  component: string | null;
  isError: boolean | null;
  layer: string | null;
  tags: { key: string; value: string | null }[];
  logs: { time: number; data: { key: string; value: string | null }[] }[];
}

/** `queryTrace(traceId)`: every span of the trace, or [] when the OAP has none (yet). */
export async function queryTrace(oap: GraphqlClient, traceId: string): Promise<OapSpan[]> {
  const { queryTrace: trace } = await oap.graphql<{ queryTrace: { spans: OapSpan[] } | null }>(
    `query ($traceId: ID!) {
      queryTrace(traceId: $traceId) {
        spans {
          traceId segmentId spanId parentSpanId serviceCode serviceInstanceName startTime endTime
          endpointName type peer component isError layer
          refs { traceId parentSegmentId parentSpanId type }
          tags { key value }
          logs { time data { key value } }
        }
      }
    }`,
    { traceId },
  );
  return trace?.spans ?? [];
}

/** A span's tags as a record (the last value wins for a repeated key). */
export function tagsOf(span: Pick<OapSpan, 'tags'>): Record<string, string | null> {
  return Object.fromEntries(span.tags.map((t) => [t.key, t.value]));
}

// ---- metrics (MQE) -----------------------------------------------------------------------------

export type Scope = 'Service' | 'ServiceInstance' | 'Endpoint' | 'ServiceRelation' | 'ServiceInstanceRelation' | 'EndpointRelation';

export interface MqeEntity {
  scope?: Scope;
  serviceName: string;
  normal: boolean;
  serviceInstanceName?: string;
  endpointName?: string;
  destServiceName?: string;
  destNormal?: boolean;
  destServiceInstanceName?: string;
  destEndpointName?: string;
}

export interface MqeResult {
  type: string;
  error: string | null;
  results: { metric: { labels: { key: string; value: string | null }[] }; values: { id: string | null; value: string | null }[] }[];
}

/** `execExpression(expression, entity, duration)`; rejects when the OAP answers with an MQE error. */
export async function execExpression(oap: GraphqlClient, expression: string, entity: MqeEntity, duration: Duration): Promise<MqeResult> {
  const { execExpression: result } = await oap.graphql<{ execExpression: MqeResult }>(
    `query ($expression: String!, $entity: Entity!, $duration: Duration!) {
      execExpression(expression: $expression, entity: $entity, duration: $duration) {
        type error
        results { metric { labels { key value } } values { id value } }
      }
    }`,
    { expression, entity, duration },
  );
  if (result.error) throw new Error(`MQE ${expression} for ${JSON.stringify(entity)}: ${result.error}`);
  return result;
}

/** The numbers of an MQE time series (all series), leaving out the buckets without a value. */
export function mqeNumbers(result: MqeResult): number[] {
  return result.results.flatMap((r) => r.values.filter((v) => v.value !== null && v.value !== '').map((v) => Number(v.value)));
}

/** The sum of an MQE time series' values (e.g. calls in the window for `*_cpm` at step MINUTE). */
export async function metricSum(oap: GraphqlClient, expression: string, entity: MqeEntity, duration: Duration): Promise<number> {
  return mqeNumbers(await execExpression(oap, expression, entity, duration)).reduce((a, b) => a + b, 0);
}
