import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { oapRuleViolations, type DecodedRef, type DecodedSegment, type DecodedSpan } from './oap-rules.ts';

const T = 'a'.repeat(32);
const MS = 1_700_000_000_000;
const ENTRY = 0;
const EXIT = 1;
const LOCAL = 2;
const CROSS_PROCESS = 0;
const CROSS_THREAD = 1;

function span(spanid: number, spantype: number, extra: Partial<DecodedSpan> = {}): DecodedSpan {
  return {
    spanid, parentspanid: spanid === 0 ? -1 : 0, starttime: MS, endtime: MS + 1, refsList: [], operationname: `op${spanid}`,
    peer: spantype === EXIT ? 'b:80' : '', spantype, spanlayer: 3, componentid: 0, iserror: false, tagsList: [], logsList: [], skipanalysis: false, ...extra,
  };
}
function segment(id: string, service: string, instance: string, spans: DecodedSpan[]): DecodedSegment {
  return { traceid: T, tracesegmentid: id, service, serviceinstance: instance, spansList: spans, issizelimited: false };
}
function ref(parent: DecodedSegment, parentspanid: number, reftype: number, networkaddressusedatpeer = 'b:80'): DecodedRef {
  return {
    reftype, traceid: T, parenttracesegmentid: parent.tracesegmentid, parentspanid, parentservice: parent.service,
    parentserviceinstance: parent.serviceinstance, parentendpoint: 'op0', networkaddressusedatpeer,
  };
}
/** a (Entry 0, Exit 1, Local 2) → b, with b's Entry referring to whatever `make` says. */
function pair(make: (a: DecodedSegment) => { service?: string; instance?: string; spantype?: number; ref: DecodedRef }): DecodedSegment[] {
  const a = segment('seg-a', 'a', 'a-1', [span(0, ENTRY), span(1, EXIT), span(2, LOCAL)]);
  const m = make(a);
  const b = segment('seg-b', m.service ?? 'b', m.instance ?? 'b-1', [span(0, m.spantype ?? ENTRY, { refsList: [m.ref] })]);
  return [a, b];
}

describe('oapRuleViolations', () => {
  it('accepts a CrossProcess ref to an Exit of another service, and a CrossThread ref on a Local span', () => {
    assert.deepEqual(oapRuleViolations(pair((a) => ({ ref: ref(a, 1, CROSS_PROCESS) }))), []);
    assert.deepEqual(oapRuleViolations(pair((a) => ({ service: 'a', instance: 'a-1', spantype: LOCAL, ref: ref(a, 2, CROSS_THREAD, '') }))), []);
  });

  it('rejects a CrossProcess ref whose parent span is not an Exit', () => {
    const toLocal = oapRuleViolations(pair((a) => ({ ref: ref(a, 2, CROSS_PROCESS, '') })));
    assert.equal(toLocal.length, 1);
    assert.match(toLocal[0]!, /CrossProcess ref to parent span 2 "op2", which is a Local span, not an Exit/);
    assert.match(oapRuleViolations(pair((a) => ({ ref: ref(a, 0, CROSS_PROCESS, '') })))[0]!, /an Entry span, not an Exit/);
    assert.deepEqual(oapRuleViolations(pair((a) => ({ ref: ref(a, 2, CROSS_PROCESS, '') })), { crossProcessParentIsExit: false }), []);
  });

  it('rejects an Entry span with a CrossThread ref', () => {
    const v = oapRuleViolations(pair((a) => ({ service: 'a', instance: 'a-1', ref: ref(a, 2, CROSS_THREAD, '') })));
    assert.deepEqual(v.length, 1);
    assert.match(v[0]!, /Entry span with a CrossThread ref/);
    assert.deepEqual(oapRuleViolations(pair((a) => ({ service: 'a', instance: 'a-1', ref: ref(a, 2, CROSS_THREAD, '') })), { noCrossThreadRefOnEntry: false }), []);
  });

  it('rejects a CrossProcess ref to a segment of the same service and instance (self-loop), not of another instance', () => {
    const v = oapRuleViolations(pair((a) => ({ service: 'a', instance: 'a-1', ref: ref(a, 1, CROSS_PROCESS) })));
    assert.equal(v.length, 1);
    assert.match(v[0]!, /same service and instance \(a \/ a-1\): a self-loop/);
    assert.deepEqual(oapRuleViolations(pair((a) => ({ service: 'a', instance: 'a-2', ref: ref(a, 1, CROSS_PROCESS) }))), []);
    assert.deepEqual(oapRuleViolations(pair((a) => ({ service: 'a', instance: 'a-1', ref: ref(a, 1, CROSS_PROCESS) })), { noSelfLoopCrossProcess: false }), []);
  });

  it('rejects an Exit without a peer', () => {
    const segs = [segment('s', 'a', 'a-1', [span(0, ENTRY), span(1, EXIT, { peer: '' })])];
    assert.deepEqual(oapRuleViolations(segs).map((p) => /Exit span without peer/.test(p)), [true]);
  });

  it('rejects names over the OAP 10.1 defaults (service 70, instance 70, endpoint 150), in segments and refs', () => {
    const long = (n: number) => 'x'.repeat(n);
    const ok = [segment('s', long(70), long(70), [span(0, ENTRY, { operationname: long(150) })])];
    assert.deepEqual(oapRuleViolations(ok), []);
    const bad = [segment('s', long(71), long(71), [span(0, ENTRY, { operationname: long(151) })])];
    assert.equal(oapRuleViolations(bad).length, 3);
    const a = segment('seg-a', 'a', 'a-1', [span(0, ENTRY), span(1, EXIT)]);
    const r = { ...ref(a, 1, CROSS_PROCESS), parenttracesegmentid: 'elsewhere', parentservice: long(71), parentserviceinstance: long(71), parentendpoint: long(151) };
    const v = oapRuleViolations([segment('seg-b', 'b', 'b-1', [span(0, ENTRY, { refsList: [r] })])]);
    assert.deepEqual(v.map((p) => p.replace(/^.*: ref /, '').replace(/ longer.*$/, '')), ['parentService', 'parentServiceInstance', 'parentEndpoint']);
  });
});
