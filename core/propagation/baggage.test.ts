import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_BAGGAGE_LIMITS, formatBaggageMember, limitBaggage, parseBaggage, percentDecode, percentEncode, serializeBaggage, type BaggageMember } from './baggage.ts';

const member = (key: string, value: string, properties: BaggageMember['properties'] = []): BaggageMember => ({ key, value, properties });

describe('parseBaggage', () => {
  it('reads the spec example, properties included', () => {
    assert.deepEqual(parseBaggage('key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue'), [
      member('key1', 'value1', [{ key: 'property1' }, { key: 'property2' }]),
      member('key2', 'value2'),
      member('key3', 'value3', [{ key: 'propertyKey', value: 'propertyValue' }]),
    ]);
  });

  it('percent-decodes values as UTF-8 and joins several header fields', () => {
    assert.deepEqual(parseBaggage(['userId=alice', 'serverNode=DF%2028,isProduction=false']), [
      member('userId', 'alice'),
      member('serverNode', 'DF 28'),
      member('isProduction', 'false'),
    ]);
    assert.equal(parseBaggage('city=Z%C3%BCrich')[0]!.value, 'Zürich');
    assert.equal(parseBaggage('p=a%3Bb%2Cc%25d')[0]!.value, 'a;b,c%d');
  });

  it('turns invalid UTF-8 into U+FFFD and keeps a lone % literal', () => {
    assert.equal(parseBaggage('bad=%FF%FE')[0]!.value, '\uFFFD\uFFFD');
    assert.equal(parseBaggage('pct=100%')[0]!.value, '100%');
    assert.equal(percentDecode('%zz'), '%zz');
  });

  it('allows = inside a value', () => {
    assert.equal(parseBaggage('query=a=b=c')[0]!.value, 'a=b=c');
  });

  it('leaves out malformed members and keeps the rest', () => {
    assert.deepEqual(
      parseBaggage('good=1,no-equals,bad key=2,quoted="x",sp=a b,back=a\\b,k=v;bad prop=1,ok=2,=empty,,  ').map((m) => m.key),
      ['good', 'ok'],
    );
  });

  it('keeps duplicate keys in order', () => {
    assert.deepEqual(parseBaggage('k=1,k=2').map((m) => m.value), ['1', '2']);
  });

  it('applies limits when asked', () => {
    const header = Array.from({ length: 70 }, (_, i) => `k${i}=${i}`).join(',');
    assert.equal(parseBaggage(header).length, 70);
    assert.equal(parseBaggage(header, DEFAULT_BAGGAGE_LIMITS).length, 64);
  });

  it('reads nothing from an absent header', () => {
    assert.deepEqual(parseBaggage(undefined), []);
    assert.deepEqual(parseBaggage(''), []);
  });
});

describe('percentEncode', () => {
  it('escapes everything outside baggage-octet, and %', () => {
    assert.equal(percentEncode('DF 28'), 'DF%2028');
    assert.equal(percentEncode('a,b;c\\d"e%f'), 'a%2Cb%3Bc%5Cd%22e%25f');
    assert.equal(percentEncode('Zürich'), 'Z%C3%BCrich');
    assert.equal(percentEncode('a=b/c:d'), 'a=b/c:d');
    assert.equal(percentEncode('😀'), '%F0%9F%98%80');
  });

  it('round-trips through percentDecode', () => {
    for (const text of ['DF 28', 'a,b;c\\d"e%f', 'Zürich', '😀 ok', '100%', '']) assert.equal(percentDecode(percentEncode(text)), text);
  });
});

describe('serializeBaggage', () => {
  it('writes members with properties', () => {
    assert.equal(formatBaggageMember(member('k', 'a b', [{ key: 'p' }, { key: 'q', value: '1;2' }])), 'k=a%20b;p;q=1%3B2');
    assert.equal(serializeBaggage([member('a', '1'), member('b', '2')]), 'a=1,b=2');
  });

  it('round-trips through parseBaggage', () => {
    const members = [member('user', 'alice smith'), member('node', 'DF,28', [{ key: 'ttl', value: '10' }, { key: 'x' }]), member('city', 'Zürich')];
    assert.deepEqual(parseBaggage(serializeBaggage(members)), members);
  });

  it('keeps at most 64 members', () => {
    const members = Array.from({ length: 100 }, (_, i) => member(`k${i}`, 'v'));
    const kept = parseBaggage(serializeBaggage(members));
    assert.equal(kept.length, 64);
    assert.equal(kept.at(-1)!.key, 'k63');
  });

  it('keeps at most 8192 bytes, leaving out whole members only', () => {
    const big = 'x'.repeat(3000);
    const members = [member('a', big), member('b', big), member('c', big), member('d', 'small')];
    const header = serializeBaggage(members);
    assert.ok(Buffer.byteLength(header) <= 8192);
    const kept = parseBaggage(header);
    assert.deepEqual(kept.map((m) => m.key), ['a', 'b', 'd'], 'c does not fit; the later small d still does');
    for (const m of kept.slice(0, 2)) assert.equal(m.value, big, 'never a partial value');
  });

  it('counts bytes after encoding', () => {
    const header = serializeBaggage([member('k', 'é'.repeat(2000))], { maxMembers: 64, maxBytes: 8192 });
    assert.equal(header, '', '2000 × "%C3%A9" is 12002 bytes: left out, not cut');
  });

  it('leaves out members whose keys are not tokens', () => {
    assert.deepEqual(limitBaggage([member('bad key', '1'), member('ok', '2'), member('p', '3', [{ key: 'bad prop' }])]).map((m) => m.key), ['ok']);
  });
});
