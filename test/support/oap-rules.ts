/**
 * The OAP's rules for a segment (shared docs skywalking-model.md §3), checked on segments decoded
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

const EXIT = 1;
// 2000-01-01 and 2100-01-01 in epoch ms: anything outside is µs/ns or garbage.
const MIN_MS = 946_684_800_000;
const MAX_MS = 4_102_444_800_000;

/**
 * Returns every rule a set of segments breaks (empty = all good). Refs whose parent segment is in
 * the set are also checked against that parent: span id exists and is an Exit (for CrossProcess
 * refs to an Exit) and networkAddressUsedAtPeer equals its peer byte for byte.
 */
export function oapRuleViolations(segments: readonly DecodedSegment[]): string[] {
  const problems: string[] = [];
  const bySegmentId = new Map(segments.map((s) => [s.tracesegmentid, s]));
  for (const seg of segments) {
    const where = `segment ${seg.tracesegmentid} (${seg.service})`;
    if (!seg.traceid) problems.push(`${where}: empty traceId`);
    if (!seg.tracesegmentid || seg.tracesegmentid.length > 150) problems.push(`${where}: segment id empty or longer than 150`);
    if (!seg.service || seg.service.length > 70) problems.push(`${where}: service empty or longer than 70`);
    if (!seg.serviceinstance || seg.serviceinstance.length > 70) problems.push(`${where}: instance empty or longer than 70`);
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
      if (!sp.operationname || sp.operationname.length > 150) problems.push(`${at}: operation name empty or longer than 150`);
      for (const ref of sp.refsList) {
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
        if (pSpan.spantype === EXIT && ref.networkaddressusedatpeer !== pSpan.peer) {
          problems.push(`${at}: networkAddressUsedAtPeer "${ref.networkaddressusedatpeer}" != parent Exit peer "${pSpan.peer}"`);
        }
      }
    }
  }
  return problems;
}

export function assertOapRules(segments: readonly DecodedSegment[]): void {
  const problems = oapRuleViolations(segments);
  if (problems.length > 0) throw new Error(`Segments break OAP rules:\n  ${problems.join('\n  ')}`);
}
