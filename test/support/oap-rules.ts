/**
 * The OAP's rules for a segment (docs/skywalking-model.md "How the OAP analyses a segment"), checked on segments decoded
 * with the official skywalking-backend-js stubs (`SegmentObject.deserializeBinary(b).toObject()`,
 * whose keys are lower-cased: `traceid`, `spansList`, `refsList`, ...). Every integration test runs
 * every segment it receives through `assertOapRules`.
 */
import type { SegmentObject } from '../../core/segments/segment-object.ts';

export interface DecodedRef {
  reftype: number;
  traceid: string;
  parenttracesegmentid: string;
  parentspanid: number;
  parentservice: string;
  parentserviceinstance: string;
  parentendpoint: string;
  networkaddressusedatpeer: string;
}
export interface DecodedSpan {
  spanid: number;
  parentspanid: number;
  starttime: number;
  endtime: number;
  refsList: DecodedRef[];
  operationname: string;
  peer: string;
  spantype: number;
  spanlayer: number;
  componentid: number;
  iserror: boolean;
  tagsList: { key: string; value: string }[];
  logsList: { time: number; dataList: { key: string; value: string }[] }[];
  skipanalysis: boolean;
}
export interface DecodedSegment {
  traceid: string;
  tracesegmentid: string;
  spansList: DecodedSpan[];
  service: string;
  serviceinstance: string;
  issizelimited: boolean;
}

/** Our own SegmentObject in the stubs' toObject shape (for unit tests that never touch the wire). */
export function toDecodedShape(s: SegmentObject): DecodedSegment {
  return {
    traceid: s.traceId,
    tracesegmentid: s.traceSegmentId,
    service: s.service,
    serviceinstance: s.serviceInstance,
    issizelimited: s.isSizeLimited,
    spansList: s.spans.map((sp) => ({
      spanid: sp.spanId,
      parentspanid: sp.parentSpanId,
      starttime: sp.startTime,
      endtime: sp.endTime,
      operationname: sp.operationName,
      peer: sp.peer,
      spantype: sp.spanType,
      spanlayer: sp.spanLayer,
      componentid: sp.componentId,
      iserror: sp.isError,
      skipanalysis: sp.skipAnalysis,
      tagsList: sp.tags.map((t) => ({ ...t })),
      logsList: sp.logs.map((l) => ({ time: l.time, dataList: l.data.map((d) => ({ ...d })) })),
      refsList: sp.refs.map((r) => ({
        reftype: r.refType,
        traceid: r.traceId,
        parenttracesegmentid: r.parentTraceSegmentId,
        parentspanid: r.parentSpanId,
        parentservice: r.parentService,
        parentserviceinstance: r.parentServiceInstance,
        parentendpoint: r.parentEndpoint,
        networkaddressusedatpeer: r.networkAddressUsedAtPeer,
      })),
    })),
  };
}

const ENTRY = 0;
const EXIT = 1;
const CROSS_PROCESS = 0;
const CROSS_THREAD = 1;
/** OAP 10.1 core defaults (application.yml `serviceNameMaxLength`, `instanceNameMaxLength`, `endpointNameMaxLength`): longer names are cut by NamingControl. */
export const OAP_SERVICE_NAME_MAX = 70;
export const OAP_INSTANCE_NAME_MAX = 70;
export const OAP_ENDPOINT_NAME_MAX = 150;

/**
 * Rules that issue #14 added. They are on by default; a test whose segments are known to break one
 * (issue #14 classes 1-4) turns it off by name and says why.
 */
export interface OapRuleOptions {
  /** A CrossProcess ref whose parent segment is in the set must point at an Exit span. */
  crossProcessParentIsExit?: boolean;
  /** Entry spans carry CrossProcess refs only (a CrossThread ref belongs on a Local span). */
  noCrossThreadRefOnEntry?: boolean;
  /** A CrossProcess ref must not point at a segment of the same service and instance (a self-loop in the topology). */
  noSelfLoopCrossProcess?: boolean;
}
// 2000-01-01 and 2100-01-01 in epoch ms: anything outside is µs/ns or garbage.
const MIN_MS = 946_684_800_000;
const MAX_MS = 4_102_444_800_000;

/**
 * Returns every rule a set of segments breaks (empty = all good). Refs whose parent segment is in
 * the set are also checked against that parent: span id exists and is an Exit (for CrossProcess
 * refs to an Exit) and networkAddressUsedAtPeer equals its peer byte for byte; CrossProcess refs
 * must point at an Exit of another service or instance (see OapRuleOptions).
 */
export function oapRuleViolations(segments: readonly DecodedSegment[], options: OapRuleOptions = {}): string[] {
  const crossProcessParentIsExit = options.crossProcessParentIsExit ?? true;
  const noCrossThreadRefOnEntry = options.noCrossThreadRefOnEntry ?? true;
  const noSelfLoopCrossProcess = options.noSelfLoopCrossProcess ?? true;
  const problems: string[] = [];
  const bySegmentId = new Map(segments.map((s) => [s.tracesegmentid, s]));
  for (const seg of segments) {
    const where = `segment ${seg.tracesegmentid} (${seg.service})`;
    if (!seg.traceid) problems.push(`${where}: empty traceId`);
    if (!seg.tracesegmentid || seg.tracesegmentid.length > 150) problems.push(`${where}: segment id empty or longer than 150`);
    if (!seg.service || seg.service.length > OAP_SERVICE_NAME_MAX) problems.push(`${where}: service empty or longer than ${OAP_SERVICE_NAME_MAX}`);
    if (!seg.serviceinstance || seg.serviceinstance.length > OAP_INSTANCE_NAME_MAX) problems.push(`${where}: instance empty or longer than ${OAP_INSTANCE_NAME_MAX}`);
    if (seg.spansList.length === 0) problems.push(`${where}: no spans (the OAP drops it)`);
    const zeros = seg.spansList.filter((s) => s.spanid === 0);
    if (zeros.length !== 1) problems.push(`${where}: ${zeros.length} spans with spanId 0, need exactly one`);
    const ids = new Set<number>();
    for (const sp of seg.spansList) {
      if (ids.has(sp.spanid)) problems.push(`${where}: duplicate spanId ${sp.spanid}`);
      ids.add(sp.spanid);
    }
    for (const sp of seg.spansList) {
      const at = `${where} span ${sp.spanid} "${sp.operationname}"`;
      if (sp.spanid === 0 && sp.parentspanid !== -1) problems.push(`${at}: span 0 must have parentSpanId -1`);
      if (sp.spanid !== 0 && !ids.has(sp.parentspanid)) problems.push(`${at}: parent ${sp.parentspanid} not in segment`);
      if (sp.spantype === EXIT && !sp.peer) problems.push(`${at}: Exit span without peer`);
      if (sp.starttime < MIN_MS || sp.starttime > MAX_MS || sp.endtime < MIN_MS || sp.endtime > MAX_MS) problems.push(`${at}: times not epoch ms (${sp.starttime}..${sp.endtime})`);
      if (sp.endtime < sp.starttime) problems.push(`${at}: ends before it starts`);
      if (!sp.operationname || sp.operationname.length > OAP_ENDPOINT_NAME_MAX) problems.push(`${at}: operation name empty or longer than ${OAP_ENDPOINT_NAME_MAX}`);
      for (const ref of sp.refsList) {
        if (ref.parentservice.length > OAP_SERVICE_NAME_MAX) problems.push(`${at}: ref parentService longer than ${OAP_SERVICE_NAME_MAX} (the OAP cuts it: no match with the parent service)`);
        if (ref.parentserviceinstance.length > OAP_INSTANCE_NAME_MAX) problems.push(`${at}: ref parentServiceInstance longer than ${OAP_INSTANCE_NAME_MAX}`);
        if (ref.parentendpoint.length > OAP_ENDPOINT_NAME_MAX) problems.push(`${at}: ref parentEndpoint longer than ${OAP_ENDPOINT_NAME_MAX}`);
        if (noCrossThreadRefOnEntry && sp.spantype === ENTRY && ref.reftype === CROSS_THREAD) problems.push(`${at}: Entry span with a CrossThread ref (to ${ref.parenttracesegmentid} span ${ref.parentspanid})`);
        if (!ref.parentservice) problems.push(`${at}: ref with empty parentService (OAP would create "_blank")`);
        if (!ref.parenttracesegmentid) problems.push(`${at}: ref with empty parent segment id`);
        if (!ref.traceid) problems.push(`${at}: ref with empty trace id`);
        const parent = bySegmentId.get(ref.parenttracesegmentid);
        if (!parent) continue;
        // A ref names its parent's trace: the same as this segment's, except for links from a
        // batch consumer to messages produced in other traces.
        if (ref.traceid !== parent.traceid) problems.push(`${at}: ref trace id ${ref.traceid} differs from its parent segment's ${parent.traceid}`);
        const pSpan = parent.spansList.find((s) => s.spanid === ref.parentspanid);
        if (!pSpan) {
          problems.push(`${at}: ref points at span ${ref.parentspanid} missing from parent segment`);
          continue;
        }
        if (ref.parentservice !== parent.service) problems.push(`${at}: ref parentService ${ref.parentservice} != parent segment's ${parent.service}`);
        if (ref.parentserviceinstance !== parent.serviceinstance) problems.push(`${at}: ref parentServiceInstance differs from parent segment's`);
        if (crossProcessParentIsExit && ref.reftype === CROSS_PROCESS && pSpan.spantype !== EXIT) {
          problems.push(`${at}: CrossProcess ref to parent span ${ref.parentspanid} "${pSpan.operationname}", which is ${pSpan.spantype === ENTRY ? 'an Entry' : 'a Local'} span, not an Exit`);
        }
        if (noSelfLoopCrossProcess && ref.reftype === CROSS_PROCESS && parent.service === seg.service && parent.serviceinstance === seg.serviceinstance) {
          problems.push(`${at}: CrossProcess ref to a segment of the same service and instance (${seg.service} / ${seg.serviceinstance}): a self-loop`);
        }
        if (pSpan.spantype === EXIT && ref.networkaddressusedatpeer !== pSpan.peer) {
          problems.push(`${at}: networkAddressUsedAtPeer "${ref.networkaddressusedatpeer}" != parent Exit peer "${pSpan.peer}"`);
        }
      }
    }
  }
  return problems;
}

export function assertOapRules(segments: readonly DecodedSegment[], options: OapRuleOptions = {}): void {
  const problems = oapRuleViolations(segments, options);
  if (problems.length > 0) throw new Error(`Segments break OAP rules:\n  ${problems.join('\n  ')}`);
}
