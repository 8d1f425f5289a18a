// Stub: being implemented by the lead. API is fixed.
import type { ComponentSettings } from '../component.ts';
import type { SpanBatch } from '../model/span-batch.ts';
import type { AssembledSegment, InstanceProperties } from './segment-object.ts';
import type { AssemblyConfig } from './segment-exporter.ts';

export interface AssemblerCallbacks {
  onSegments(segments: AssembledSegment[]): void;
  onInstance(props: InstanceProperties): void;
}

export type FlushReason = 'complete' | 'timeout' | 'evicted' | 'shutdown';

export class TraceAssembler {
  constructor(
    readonly settings: ComponentSettings,
    readonly config: AssemblyConfig,
    readonly callbacks: AssemblerCallbacks,
  ) {}
  add(_batch: SpanBatch): void {}
  start(): void {}
  stop(): void {}
  flushAll(_reason: FlushReason): void {}
}
