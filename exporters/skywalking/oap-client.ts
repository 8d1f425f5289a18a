/** The OAP's side of the gRPC channel (core/grpc/client.ts): its token metadata. */
import { Metadata } from '@grpc/grpc-js';

export { createGrpcClient as createOapClient, type GrpcClientOptions as OapClientOptions } from '../../core/grpc/client.ts';

/** Call metadata with the OAP token (`Authentication`, docs/skywalking-model.md "Authentication and TLS") when one is set. */
export function oapMetadata(token: string): Metadata {
  const metadata = new Metadata();
  if (token !== '') metadata.set('Authentication', token);
  return metadata;
}
