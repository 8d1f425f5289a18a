/**
 * Where finished segments go: the transport half of a segment exporter (the OAP over gRPC, the
 * OAP's Kafka topics, JSON lines). A SegmentExporter (segment-exporter.ts) assembles traces and
 * hands their segments to one or more sinks; a sink knows nothing of spans or assembly.
 */
import type { Host } from '../component.ts';
import type { DeliveryReceipt } from './after-export-acks.ts';
import type { AssembledSegment, InstanceProperties } from './segment-object.ts';

export interface SegmentSink {
  /**
   * True when the sink settles receipts (`ack: after_export` is meaningful for it): every segment
   * it is handed with a receipt ends in exactly one `done()` or `lost()`.
   */
  readonly settlesReceipts: boolean;
  /** Take ownership of finished segments (enqueue or write them). Must not throw. */
  deliver(segments: AssembledSegment[], receipt?: DeliveryReceipt): void;
  /** False while it cannot take more: receivers then refuse new spans (a valve on the admission ledger). */
  hasCapacity(): boolean;
  /** Called once per (service, instance) an assembler meets, with properties from resource attributes. */
  onInstance?(props: InstanceProperties): void;
  start(host: Host): Promise<void>;
  /** Drain within the deadline; count what is cut off as shutdown_timeout drops. */
  shutdown(deadline: AbortSignal): Promise<void>;
  describe?(): string[];
}
