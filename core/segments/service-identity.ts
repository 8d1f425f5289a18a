/**
 * Service and instance names from OTel resource attributes, in the form SkyWalking expects.
 * Computed once per ResourceSpans, never per span.
 */
import type { AttributeValue, Attributes } from '../model/span-batch.ts';
import type { InstanceProperties, KeyStringValuePair } from './segment-object.ts';

/** OAP defaults (application.yml core: serviceNameMaxLength, instanceNameMaxLength). Longer names are cut there anyway. */
export const SERVICE_NAME_MAX = 70;
export const INSTANCE_NAME_MAX = 70;

export interface ServiceIdentity {
  service: string;
  serviceInstance: string;
  /** `service \0 instance`: groups spans of one process. */
  key: string;
  resource: Attributes;
  /**
   * The resource names no service (a Zipkin span without a local endpoint): the span's process is
   * not known from the span itself, so segment building places it in its parent's process.
   */
  anonymous: boolean;
  /**
   * The resource names a service but nothing that names its instance (a zipkin-js span recorded
   * without a local address, before the receiver learnt its service's address): segment building
   * places it in its parent's instance when the parent is of the same service.
   */
  instanceUnknown: boolean;
}

export function attributeText(value: AttributeValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}

function firstText(attrs: Attributes, ...keys: string[]): string {
  for (const k of keys) {
    const v = attrs[k];
    if (v !== undefined && v !== '') return attributeText(v);
  }
  return '';
}

function firstIp(attrs: Attributes): string {
  const ips = attrs['host.ip'];
  const first = Array.isArray(ips) ? ips[0] : ips;
  return first === undefined ? '' : attributeText(first);
}

/**
 * service: `service.name`, prefixed with `service.namespace::` when set (SkyWalking reads the part
 * before `::` as the service group). instance: `service.instance.id`, else SkyWalking agents'
 * customary `pid@hostname`; the host is `host.name` (`k8s.pod.name`, `host.id`), else the first
 * `host.ip` (all a Zipkin span says about its process is localEndpoint's address).
 */
export function identifyService(resource: Attributes): ServiceIdentity {
  const named = firstText(resource, 'service.name');
  const name = named || 'unknown_service';
  const namespace = firstText(resource, 'service.namespace');
  const service = (namespace ? `${namespace}::${name}` : name).slice(0, SERVICE_NAME_MAX);
  let instance = firstText(resource, 'service.instance.id');
  if (!instance) {
    const pid = firstText(resource, 'process.pid');
    const host = firstText(resource, 'host.name', 'k8s.pod.name', 'host.id') || firstIp(resource);
    instance = pid && host ? `${pid}@${host}` : host || pid || '';
  }
  const instanceUnknown = instance === '';
  if (instanceUnknown) instance = 'unknown_instance';
  const serviceInstance = instance.slice(0, INSTANCE_NAME_MAX);
  return { service, serviceInstance, key: `${service}\u0000${serviceInstance}`, resource, anonymous: named === '', instanceUnknown };
}

/**
 * Properties reported once per instance through ManagementService.reportInstanceProperties. Key
 * names follow the SkyWalking agents' (the UI shows them as they are); `ipv4` values are gathered
 * by the OAP into `ipv4s`.
 */
export function instanceProperties(identity: ServiceIdentity): InstanceProperties {
  const r = identity.resource;
  const props: KeyStringValuePair[] = [];
  const add = (key: string, value: string) => {
    if (value) props.push({ key, value });
  };
  add('language', firstText(r, 'telemetry.sdk.language', 'process.runtime.name'));
  add('OS Name', firstText(r, 'os.type', 'os.name'));
  add('hostname', firstText(r, 'host.name'));
  add('Process No.', firstText(r, 'process.pid'));
  add('runtime', [firstText(r, 'process.runtime.name'), firstText(r, 'process.runtime.version')].filter(Boolean).join(' '));
  add('telemetry sdk', [firstText(r, 'telemetry.sdk.name'), firstText(r, 'telemetry.sdk.version')].filter(Boolean).join(' '));
  const ips = r['host.ip'];
  for (const ip of Array.isArray(ips) ? ips : ips === undefined ? [] : [ips]) {
    const text = attributeText(ip);
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) add('ipv4', text);
  }
  return { service: identity.service, serviceInstance: identity.serviceInstance, properties: props, layer: firstText(r, 'skywalking.layer', 'service.layer') };
}
