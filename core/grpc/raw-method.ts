/**
 * grpc-js method definitions that move raw bytes: the (de)serializers are the identity, so a server
 * decodes requests itself (and can say exactly what is wrong with one) and a client sends bytes it
 * already encoded, or any bytes at all in tests and benchmarks.
 */
import type { MethodDefinition } from '@grpc/grpc-js';

/** The identity (de)serializer: the message is its bytes. */
export const rawBytes = (bytes: Buffer): Buffer => bytes;

/** A unary method at `path` (`/package.Service/Method`) whose request and response are raw bytes. */
export function rawUnaryMethod(path: string): MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: rawBytes,
    requestDeserialize: rawBytes,
    responseSerialize: rawBytes,
    responseDeserialize: rawBytes,
  };
}
