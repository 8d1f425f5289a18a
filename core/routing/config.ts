/** Where the gateways are, for everything that routes by trace id (the loadbalancing exporter, the OTLP receiver's handover). */
import { z } from 'zod';
import { duration, endpoint } from '../config/units.ts';

const staticResolverSchema = z
  .strictObject({
    hostnames: z
      .array(endpoint('a gateway\'s OTLP/gRPC receiver'))
      .min(1)
      .describe('The gateways, "host:port" each (their OTLP/gRPC receivers).'),
  })
  .describe('A fixed list of gateways.');

const dnsResolverSchema = z
  .strictObject({
    hostname: z.string().min(1).describe('DNS name whose A/AAAA records are the gateways: a Kubernetes headless Service, e.g. skybridge-gateway-headless.observability.svc.cluster.local.'),
    port: z.number().int().min(1).max(65535).default(4317).describe('The gateways\' OTLP/gRPC port.'),
    interval: duration({ min: '100ms', max: '1h' }).prefault('5s').describe('How often the name is looked up again.'),
    timeout: duration({ min: '10ms', max: '1m' }).prefault('1s').describe('Longest wait for one lookup; on failure the last list stays.'),
    nameserver: endpoint('a DNS server')
      .optional()
      .describe('Ask this DNS server ("host:port", e.g. Consul\'s 127.0.0.1:8600) for A and AAAA records instead of the system resolver (getaddrinfo: /etc/hosts, then resolv.conf).'),
  })
  .describe('Gateways from DNS, looked up again every interval.');

export const resolverSchema = z
  .strictObject({ static: staticResolverSchema.optional(), dns: dnsResolverSchema.optional() })
  .refine((r) => (r.static === undefined) !== (r.dns === undefined), {
    message: 'set exactly one of resolver.static and resolver.dns. Fix: list the gateways under static.hostnames, or name their headless Service under dns.hostname.',
  })
  .describe('Where the gateways are.');
export type ResolverConfig = z.output<typeof resolverSchema>;

