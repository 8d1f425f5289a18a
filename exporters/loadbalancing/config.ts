import { z } from 'zod';
import { duration, endpoint, tlsClientSchema } from '../../core/config/units.ts';

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

export const loadbalancingConfigSchema = z
  .strictObject({
    routing_key: z
      .enum(['traceID'])
      .default('traceID')
      .describe('What decides the gateway: traceID, so every span of a trace meets on one gateway, where its segments can be built.'),
    protocol: z
      .strictObject({
        otlp: z
          .strictObject({
            timeout: duration({ min: '10ms', max: '10m' }).prefault('10s').describe('Deadline of one Export call to a gateway.'),
            tls: tlsClientSchema.prefault({}),
          })
          .prefault({}),
      })
      .prefault({})
      .describe('How spans go to a gateway: OTLP/gRPC TraceService/Export.'),
    resolver: resolverSchema,
    eject_after_failures: z
      .number().int().min(1).max(100).default(2)
      .describe('Consecutive failed calls (unreachable, deadline) after which a gateway leaves the ring; its traces go to the next gateway on the ring.'),
    probe_interval: duration({ min: '10ms', max: '10m' })
      .prefault('2s')
      .describe('How often a gateway taken out of the ring is tried again; it rejoins when it answers.'),
    sticky_traces: z
      .strictObject({
        ttl: duration({ min: '0ms', max: '1h' })
          .prefault('15s')
          .describe('After the ring changes, a trace this agent already sent keeps its gateway (while that gateway is in the ring) until no span of it was sent for this long. Set it above the gateways\' assembly.max_wait. 0 turns it off.'),
        max_traces: z.number().int().min(0).max(10_000_000).default(200_000).describe('Traces remembered; the oldest are forgotten first.'),
      })
      .prefault({})
      .describe('Keeps traces in flight on one gateway when gateways come and go.'),
  })
  .describe('Sends each trace\'s spans over OTLP/gRPC to the gateway that owns its trace id (consistent hashing), for the agent side of an agent → gateway deployment.');

export type LoadbalancingConfig = z.output<typeof loadbalancingConfigSchema>;
