/**
 * jaeger-agent's UDP endpoints: one datagram = one `Agent.emitBatch` oneway call, in Thrift compact
 * (6831) or binary (6832). There is no reply and no backpressure: a packet that cannot be decoded,
 * that the pipeline refuses, or that arrives while `queue_size` packets are still waiting for the
 * pipeline is counted as a drop with its reason, and the socket keeps reading.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parseHostPort } from '../../core/config/units.ts';
import { InvalidInputError, PayloadTooLargeError } from '../../core/errors.ts';
import { BinaryProtocolReader } from '../../core/thrift/binary-protocol-reader.ts';
import { CompactProtocolReader } from '../../core/thrift/compact-protocol-reader.ts';
import type { BatchHandler } from './batch-handler.ts';
import type { JaegerUdpConfig } from './config.ts';
import { decodeEmitBatch } from './decode-thrift-batch.ts';
import type { JaegerBatch } from './jaeger-batch.ts';

/** Which Thrift protocol the socket's packets are in. */
export type UdpThriftProtocol = 'compact' | 'binary';

/** One UDP socket; see the module comment. */
export class UdpAgentServer {
  readonly protocol: UdpThriftProtocol;
  readonly #config: JaegerUdpConfig;
  readonly #handler: BatchHandler;
  readonly #socket: dgram.Socket;
  #inFlight = 0;
  #idle: (() => void) | undefined;
  #port: number | undefined;
  #closed = false;

  constructor(protocol: UdpThriftProtocol, config: JaegerUdpConfig, handler: BatchHandler) {
    this.protocol = protocol;
    this.#config = config;
    this.#handler = handler;
    const { host } = parseHostPort(config.endpoint)!;
    this.#socket = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    this.#socket.on('message', (packet, from) => this.#onPacket(packet, `${from.address}:${from.port}`));
  }

  /** The bound port once `listen` resolved (the real one when the endpoint asked for port 0). */
  get port(): number | undefined {
    return this.#port;
  }

  /** Packets decoded and handed to the pipeline whose `consume` has not settled yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Binds the endpoint; rejects if it cannot. `onFatal` hears about a socket error after that. */
  listen(onFatal: (err: Error) => void): Promise<void> {
    const { host, port } = parseHostPort(this.#config.endpoint)!;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#socket.once('error', onError);
      this.#socket.bind(port, host, () => {
        this.#socket.removeListener('error', onError);
        this.#socket.on('error', (err) => {
          if (!this.#closed) onFatal(err);
        });
        this.#port = this.#socket.address().port;
        resolve();
      });
    });
  }

  /**
   * Stops reading, then waits until every packet already handed to the pipeline has settled, or
   * until `deadline` aborts (those still pending settle later and are counted then).
   */
  async close(deadline: AbortSignal): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // Never bound, or bound and already lost: nothing to close.
      }
    });
    if (this.#inFlight === 0 || deadline.aborted) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        deadline.removeEventListener('abort', done);
        this.#idle = undefined;
        resolve();
      };
      this.#idle = done;
      deadline.addEventListener('abort', done, { once: true });
    });
  }

  #onPacket(packet: Buffer, from: string): void {
    if (packet.length > this.#config.max_packet_size) {
      this.#handler.answered('too_large');
      const err = new PayloadTooLargeError(`A ${packet.length}-byte packet is larger than max_packet_size (${this.#config.max_packet_size} bytes).`);
      this.#handler.droppedPacket(err, from, 'payload_too_large');
      return;
    }
    let batch: JaegerBatch;
    try {
      const reader = this.protocol === 'compact' ? new CompactProtocolReader(packet) : new BinaryProtocolReader(packet);
      batch = decodeEmitBatch(reader);
    } catch (err) {
      // Anything thrown while decoding is the packet's fault; a non-SkybridgeError here would be
      // a decoder bug, and it must not end the process either.
      const error = err instanceof InvalidInputError ? err : new InvalidInputError(`Cannot decode the packet: ${err instanceof Error ? err.message : String(err)}`, err);
      this.#handler.answered('invalid');
      this.#handler.droppedPacket(error, from, 'invalid_input');
      return;
    }
    if (this.#inFlight >= this.#config.queue_size) {
      this.#handler.answered('queue_full');
      this.#handler.droppedSpans(batch.spans.length, 'queue_full');
      return;
    }
    this.#inFlight++;
    void this.#handler.submit(batch).then(
      (result) => {
        this.#handler.answered(result.ok ? 'ok' : 'refused');
        this.#settled();
      },
      // submit never rejects; this only keeps a bug from becoming an unhandled rejection.
      (err: unknown) => {
        this.#handler.logger.error({ transport: this.#handler.transport, error: err }, 'Jaeger UDP packet handling failed.');
        this.#settled();
      },
    );
  }

  #settled(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) this.#idle?.();
  }
}
