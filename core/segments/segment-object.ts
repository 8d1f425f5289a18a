/**
 * SkyWalking v3 segment types, field for field as in skywalking.v3 Tracing.proto / Management.proto
 * (field numbers in exporters/skywalking/proto/). Times are epoch milliseconds.
 */

export const SpanType = { Entry: 0, Exit: 1, Local: 2 } as const;
export type SpanType = (typeof SpanType)[keyof typeof SpanType];

export const RefType = { CrossProcess: 0, CrossThread: 1 } as const;
export type RefType = (typeof RefType)[keyof typeof RefType];

/** GenAI (7) exists only in OAP builds after 2026-02; older OAPs read it as Unknown. */
export const SpanLayer = { Unknown: 0, Database: 1, RPCFramework: 2, Http: 3, MQ: 4, Cache: 5, FAAS: 6, GenAI: 7 } as const;
export type SpanLayer = (typeof SpanLayer)[keyof typeof SpanLayer];

export interface KeyStringValuePair {
  key: string;
  value: string;
}

export interface SegmentReference {
  refType: RefType;
  traceId: string;
  parentTraceSegmentId: string;
  parentSpanId: number;
  parentService: string;
  parentServiceInstance: string;
  parentEndpoint: string;
  networkAddressUsedAtPeer: string;
}

export interface SpanLog {
  time: number;
  data: KeyStringValuePair[];
}

export interface SpanObject {
  spanId: number;
  parentSpanId: number;
  startTime: number;
  endTime: number;
  refs: SegmentReference[];
  operationName: string;
  peer: string;
  spanType: SpanType;
  spanLayer: SpanLayer;
  componentId: number;
  isError: boolean;
  tags: KeyStringValuePair[];
  logs: SpanLog[];
  skipAnalysis: boolean;
}

export interface SegmentObject {
  traceId: string;
  traceSegmentId: string;
  spans: SpanObject[];
  service: string;
  serviceInstance: string;
  isSizeLimited: boolean;
}

/** ManagementService.reportInstanceProperties payload. */
export interface InstanceProperties {
  service: string;
  serviceInstance: string;
  properties: KeyStringValuePair[];
  layer: string;
}

/** ManagementService.keepAlive payload. */
export interface InstancePingPkg {
  service: string;
  serviceInstance: string;
  layer: string;
}

/** A built segment plus what the exporter needs for metrics. */
export interface AssembledSegment {
  segment: SegmentObject;
  /** When the earliest span of this segment reached skybridge (ms since epoch, Date.now()). */
  receivedAtMs: number;
}
