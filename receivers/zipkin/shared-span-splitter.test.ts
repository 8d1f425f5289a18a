import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { SharedSpanSplitter, serverSpanId } from './shared-span-splitter.ts';
import { emptyZipkinSpan, type ZipkinKind, type ZipkinSpan } from './zipkin-span.ts';

const TRACE = '5af7183fb1d4cf5f';

function span(id: string, parentId: string | undefined, kind: ZipkinKind | undefined, service: string, shared = false): ZipkinSpan {
  const s = emptyZipkinSpan(TRACE, id);
  s.parentId = parentId;
  s.kind = kind;
  s.shared = shared;
  s.timestamp = 1n;
  s.localEndpoint = { serviceName: service, ipv4: undefined, ipv6: undefined, port: undefined };
  return s;
}

describe('SharedSpanSplitter', () => {
  it('derives the server id from sha256(128-bit trace id, span id, "server")', () => {
    const expected = createHash('sha256').update(`0000000000000000${TRACE}00000000000000aaserver`).digest('hex').slice(0, 16);
    assert.equal(serverSpanId(TRACE, '00000000000000aa'), expected);
    // Both spellings of a 64-bit trace id give the same id.
    assert.equal(serverSpanId(`0000000000000000${TRACE}`, '00000000000000aa'), expected);
  });

  it('gives a shared server span its own id as the child of the client span, and re-parents its children', () => {
    const client = span('00000000000000aa', '0000000000000001', 'CLIENT', 'frontend');
    const server = span('00000000000000aa', '0000000000000001', 'SERVER', 'orders', true);
    const child = span('00000000000000bb', '00000000000000aa', 'CLIENT', 'orders');
    new SharedSpanSplitter().split([client, child, server]);

    const serverId = serverSpanId(TRACE, '00000000000000aa');
    assert.deepEqual([client.id, client.parentId], ['00000000000000aa', '0000000000000001']);
    assert.deepEqual([server.id, server.parentId], [serverId, '00000000000000aa']);
    assert.deepEqual([child.id, child.parentId], ['00000000000000bb', serverId]);
  });

  it('gives the same ids when the same spans arrive again', () => {
    const first = span('00000000000000aa', undefined, 'SERVER', 'orders', true);
    const again = span('00000000000000aa', undefined, 'SERVER', 'orders', true);
    new SharedSpanSplitter().split([first]);
    new SharedSpanSplitter().split([again]);
    assert.equal(first.id, again.id);
  });

  it('re-parents a child that arrives in a later request, but only in the server\'s service', () => {
    const splitter = new SharedSpanSplitter();
    splitter.split([span('00000000000000aa', undefined, 'SERVER', 'orders', true)]);
    const laterChild = span('00000000000000cc', '00000000000000aa', undefined, 'orders');
    const otherService = span('00000000000000dd', '00000000000000aa', 'SERVER', 'payments');
    splitter.split([laterChild, otherService]);
    assert.equal(laterChild.parentId, serverSpanId(TRACE, '00000000000000aa'));
    assert.equal(otherService.parentId, '00000000000000aa');
  });

  it('forgets the oldest renames beyond its capacity', () => {
    const splitter = new SharedSpanSplitter(2);
    for (const id of ['0000000000000001', '0000000000000002', '0000000000000003']) splitter.split([span(id, undefined, 'SERVER', 'orders', true)]);
    const children = ['0000000000000001', '0000000000000003'].map((p, i) => span(`00000000000000f${i}`, p, 'CLIENT', 'orders'));
    splitter.split(children);
    assert.equal(children[0]!.parentId, '0000000000000001');
    assert.equal(children[1]!.parentId, serverSpanId(TRACE, '0000000000000003'));
  });

  it('applies Zipkin\'s rules: shared means nothing on a client span, a self-parent means root', () => {
    const client = span('00000000000000aa', undefined, 'CLIENT', 'frontend', true);
    const selfParent = span('00000000000000bb', '00000000000000bb', 'SERVER', 'orders');
    new SharedSpanSplitter().split([client, selfParent]);
    assert.deepEqual([client.id, client.shared], ['00000000000000aa', false]);
    assert.equal(selfParent.parentId, undefined);
  });
});
