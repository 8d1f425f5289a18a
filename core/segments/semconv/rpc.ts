/** RPC spans (gRPC, Dubbo, ...) → layer RPCFramework, `rpc.status_code` tag. */
import { SpanLayer } from '../segment-object.ts';
import { clientPeer, firstOf, hostPort, text } from './attribute-lookup.ts';
import { componentForRpcSystem } from './component-ids.ts';
import type { FamilyTranslator } from './translation.ts';

// gRPC codes OTel counts as a server-side error (semantic conventions, rpc spans): UNKNOWN,
// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. Clients err on any non-zero.
const GRPC_SERVER_ERRORS = new Set(['2', '4', '12', '13', '14', '15']);
const STATUS = ['rpc.grpc.status_code', 'rpc.response.status_code', 'rpc.connect_rpc.error_code', 'rpc.jsonrpc.error_code'] as const;
const CONSUMED = ['rpc.system', 'rpc.system.name', 'rpc.service', 'rpc.method', ...STATUS];

export const translateRpc: FamilyTranslator = (ctx) => {
  const { attrs, span, serverSide, clientSide } = ctx;
  const system = firstOf(attrs, ['rpc.system.name', 'rpc.system']).toLowerCase();
  if (!system) return undefined;
  const service = text(attrs, 'rpc.service');
  const method = text(attrs, 'rpc.method');
  const status = firstOf(attrs, STATUS);
  let operationName = span.name;
  if (service && method) operationName = system.includes('dubbo') ? `${service}.${method}()` : `${service}/${method}`;
  const tags = [];
  if (status) tags.push({ key: 'rpc.status_code', value: status });
  let isError: boolean | undefined;
  if (system === 'grpc' && status) isError = serverSide ? GRPC_SERVER_ERRORS.has(status) : status !== '0';
  return {
    operationName,
    peer: clientSide ? clientPeer(attrs) : undefined,
    calledAddress: serverSide ? hostPort(firstOf(attrs, ['server.address', 'net.host.name']), firstOf(attrs, ['server.port', 'net.host.port'])) : undefined,
    layer: SpanLayer.RPCFramework,
    componentId: componentForRpcSystem(system),
    isError,
    tags,
    consumed: CONSUMED,
  };
};
