/**
 * TLS on a listener: the `tls:` block of every TCP receiver and of the telemetry page, in the
 * OpenTelemetry Collector's shape (`cert_file`, `key_file`, `client_ca_file`, `min_version`,
 * `reload_interval`). With `client_ca_file` the listener requires a client certificate signed by
 * that CA (mutual TLS). Certificates are read again when their files change, so a rotated
 * certificate (cert-manager, Vault) takes effect without a restart; connections already open keep
 * the one they started with.
 */
import { statSync, readFileSync } from 'node:fs';
import type tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { duration } from '../config/units.ts';
import type { Logger } from '../telemetry/logger.ts';

export const tlsServerSchema = z
  .strictObject({
    cert_file: z.string().min(1).describe('The listener\'s certificate chain (PEM).'),
    key_file: z.string().min(1).describe('Its private key (PEM).'),
    client_ca_file: z
      .string().min(1).optional()
      .describe('CA certificates (PEM) that sign client certificates: set, every client must present one (mutual TLS).'),
    min_version: z.enum(['1.2', '1.3']).default('1.2').describe('Oldest TLS version accepted.'),
    reload_interval: duration({ min: '1s', max: '24h' })
      .prefault('1m')
      .describe('How often the files are checked for changes; a changed certificate is used for new connections.'),
  })
  .describe('TLS on this listener. Absent or null: plaintext.');

export type TlsServerConfig = z.output<typeof tlsServerSchema>;

/** The `tls:` key of a listener: optional, and `null` means plaintext as absent does. */
export const listenerTlsSchema = tlsServerSchema
  .nullable()
  .optional()
  .describe('TLS on this listener (cert_file, key_file; client_ca_file for mutual TLS; min_version; reload_interval). Absent or null: plaintext.');

interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

function read(config: TlsServerConfig): TlsMaterial {
  const file = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`Cannot read the TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  return {
    cert: file(config.cert_file, 'certificate (cert_file)'),
    key: file(config.key_file, 'private key (key_file)'),
    ...(config.client_ca_file === undefined ? {} : { ca: file(config.client_ca_file, 'client CA (client_ca_file)') }),
  };
}

/**
 * Options for `https.createServer` / `tls.createServer`. Reads the files now, so a missing or
 * unreadable one fails the component's start with the path in the message.
 */
export function tlsServerOptions(config: TlsServerConfig): tls.TlsOptions {
  const material = read(config);
  return {
    ...material,
    minVersion: config.min_version === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    requestCert: material.ca !== undefined,
    rejectUnauthorized: material.ca !== undefined,
  };
}

/**
 * Watches the files of `config` and gives `server` a new secure context when one changes. Returns
 * the function that stops watching.
 */
export function reloadOnChange(config: TlsServerConfig, server: tls.Server, logger: Logger): () => void {
  return onFilesChange(config, logger, () => server.setSecureContext(tlsServerOptions(config)));
}

/**
 * Calls `apply` when a file of `config` has changed (checked every `reload_interval`). A file
 * caught mid-write (unreadable, or a key that does not match) makes `apply` throw: that is logged
 * and tried again at the next check, and the listener keeps its current certificate.
 */
function onFilesChange(config: TlsServerConfig, logger: Logger | undefined, apply: () => void): () => void {
  const files = [config.cert_file, config.key_file, ...(config.client_ca_file === undefined ? [] : [config.client_ca_file])];
  let last = stampOf(files);
  const timer = setInterval(() => {
    const now = stampOf(files);
    if (now === last) return;
    try {
      apply();
      last = now;
      logger?.info({ cert_file: config.cert_file }, 'Loaded the changed TLS certificate for new connections.');
    } catch (error) {
      logger?.warn({ cert_file: config.cert_file, error }, 'A TLS file changed but cannot be used yet; keeping the current certificate.');
    }
  }, config.reload_interval);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Credentials for a grpc-js server: insecure without `config`; otherwise TLS from the files, read
 * now and again whenever they change (checked every `reload_interval`).
 */
export function grpcServerCredentials(config: TlsServerConfig | null | undefined, logger?: Logger): grpc.ServerCredentials {
  if (!config) return grpc.ServerCredentials.createInsecure();
  const files = new WatchedTlsFiles(config, logger);
  // grpc-js names the first parameter caCertificateProvider but passes it on as the identity provider.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(files.identity, files.ca, files.ca !== null);
  // grpc-js has no minimum-version setting. Its server passes the constructor options to
  // http2.createSecureServer and every later certificate to setSecureContext, where minVersion is a
  // standard option of both; each new secure context needs it again, or it falls back to TLS 1.2.
  const minVersion = config.min_version === '1.3' ? 'TLSv1.3' : 'TLSv1.2';
  const constructorOptions = credentials._getConstructorOptions.bind(credentials);
  credentials._getConstructorOptions = () => ({ ...constructorOptions(), minVersion });
  const wrapped = new Map<object, Parameters<typeof credentials._addWatcher>[0]>();
  const addWatcher = credentials._addWatcher.bind(credentials);
  const removeWatcher = credentials._removeWatcher.bind(credentials);
  credentials._addWatcher = (watcher) => {
    const withMinVersion: typeof watcher = (context) => watcher(context && { ...context, minVersion });
    wrapped.set(watcher, withMinVersion);
    addWatcher(withMinVersion);
  };
  credentials._removeWatcher = (watcher) => {
    removeWatcher(wrapped.get(watcher) ?? watcher);
    wrapped.delete(watcher);
  };
  return credentials;
}

/**
 * The files of a `tls:` block as grpc-js certificate providers. Unlike grpc-js's own
 * FileWatcherCertificateProvider, which reads asynchronously and drops connections until it has,
 * these read at construction (a missing file fails the start) and hand the certificate to a
 * listener right after it is added, so the listener serves TLS from its first connection.
 */
class WatchedTlsFiles {
  readonly identity: grpc.experimental.CertificateProvider;
  readonly ca: grpc.experimental.CertificateProvider | null;
  #material: TlsMaterial;
  readonly #identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();
  readonly #caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();

  constructor(config: TlsServerConfig, logger: Logger | undefined) {
    this.#material = read(config);
    onFilesChange(config, logger, () => {
      this.#material = read(config);
      for (const l of this.#identityListeners) l({ certificate: this.#material.cert, privateKey: this.#material.key });
      for (const l of this.#caListeners) if (this.#material.ca) l({ caCertificate: this.#material.ca });
    });
    this.identity = {
      addIdentityCertificateListener: (l) => {
        this.#identityListeners.add(l);
        // Not synchronously: grpc-js adds its own watcher only after this returns.
        queueMicrotask(() => l({ certificate: this.#material.cert, privateKey: this.#material.key }));
      },
      removeIdentityCertificateListener: (l) => this.#identityListeners.delete(l),
      addCaCertificateListener: () => {},
      removeCaCertificateListener: () => {},
    };
    this.ca =
      this.#material.ca === undefined
        ? null
        : {
            addCaCertificateListener: (l) => {
              this.#caListeners.add(l);
              queueMicrotask(() => l({ caCertificate: this.#material.ca! }));
            },
            removeCaCertificateListener: (l) => this.#caListeners.delete(l),
            addIdentityCertificateListener: () => {},
            removeIdentityCertificateListener: () => {},
          };
  }
}

function stampOf(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const s = statSync(f);
        return `${s.mtimeMs}:${s.size}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}
