import { readFileSync } from 'node:fs';
import { Client, credentials, status as GrpcStatus, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { SkybridgeError } from '../errors.ts';
import type { TlsClientConfig } from '../config/units.ts';

/** What a gRPC connection to a peer (the OAP, a gateway) needs. */
export interface GrpcClientOptions {
  endpoint: string;
  tls: TlsClientConfig;
  /** Bounds of grpc-js's own reconnect backoff, aligned with the caller's retries so a restarted peer is found as soon as it retries. */
  reconnectBackoffMs: { initial: number; max: number };
}

function readPem(file: string | undefined, what: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw configError(`Cannot read the TLS ${what} "${file}": ${(error as Error).message}. Fix: check tls.${what}_file.`, error);
  }
}

function configError(message: string, cause?: unknown): SkybridgeError {
  return new SkybridgeError('SKB_ERR_CONFIG_INVALID', message, { retryable: false, grpcStatus: GrpcStatus.INVALID_ARGUMENT, httpStatus: 500, cause });
}

function channelCredentials(tls: TlsClientConfig): ChannelCredentials {
  if (tls.insecure) return credentials.createInsecure();
  if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    throw configError('tls.cert_file and tls.key_file must be given together for mutual TLS. Fix: set both, or neither.');
  }
  return credentials.createSsl(readPem(tls.ca_file, 'ca') ?? null, readPem(tls.key_file, 'key') ?? null, readPem(tls.cert_file, 'cert') ?? null);
}

/**
 * One gRPC channel to a peer: the OAP (shared by the segment sender and the management reporter),
 * or a gateway (the loadbalancing exporter, the OTLP receiver's handover). It reads TLS files at
 * once (so a wrong path fails at startup) but connects lazily, on the first call. The caller owns
 * it and closes it with `client.close()`.
 */
export function createGrpcClient(options: GrpcClientOptions): Client {
  const channelOptions: ChannelOptions = {
    'grpc.primary_user_agent': 'skybridge',
    'grpc.initial_reconnect_backoff_ms': options.reconnectBackoffMs.initial,
    'grpc.max_reconnect_backoff_ms': options.reconnectBackoffMs.max,
    // No client keepalive pings: the OAP's grpc-java server allows one per 5 minutes by default and
    // answers more with GOAWAY "too_many_pings"; call deadlines catch dead connections instead.
  };
  if (!options.tls.insecure && options.tls.server_name_override !== undefined) {
    channelOptions['grpc.ssl_target_name_override'] = options.tls.server_name_override;
    channelOptions['grpc.default_authority'] = options.tls.server_name_override;
  }
  return new Client(options.endpoint, channelCredentials(options.tls), channelOptions);
}

