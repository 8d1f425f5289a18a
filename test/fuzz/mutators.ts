/**
 * Mutations for the fuzzing harness, seeded so a run can be repeated exactly. Three families:
 * raw bytes (flips, splices, truncation, repetition), protobuf structure (walks the tag/length
 * tree of a valid message and corrupts one field: its length, its wire type, a duplicated or
 * deeply nested copy), and JSON structure (parses the document and replaces one node with a hostile
 * value: huge strings, deep nesting, wrong types, extreme numbers). Every family falls back to byte
 * mutations when the input does not parse as what it claims to be.
 */
import { Random } from '../../bench/trace-generator.ts';

/** The bench's seeded PRNG (mulberry32) in the shape the mutators use. */
export class Rng {
  readonly #random: Random;
  constructor(seed: number) {
    this.#random = new Random(seed);
  }
  /** In [0, n). */
  int(n: number): number {
    return Math.floor((this.#random.uint32() / 4294967296) * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x22, 0x7b, 0x5b, 0x22];

export function mutateBytes(rng: Rng, input: Buffer, others: readonly Buffer[]): Buffer {
  if (input.length === 0) return Buffer.from([rng.int(256)]);
  const b = Buffer.from(input);
  switch (rng.int(8)) {
    case 0: { // flip bits in a few bytes
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    }
    case 1: { // interesting values
      for (let i = 0, n = 1 + rng.int(3); i < n; i++) b[rng.int(b.length)] = rng.pick(INTERESTING_BYTES);
      return b;
    }
    case 2: // truncate
      return b.subarray(0, rng.int(b.length));
    case 3: { // delete a range
      const at = rng.int(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(64)))]);
    }
    case 4: { // insert random bytes
      const at = rng.int(b.length + 1);
      const junk = Buffer.from(Array.from({ length: 1 + rng.int(16) }, () => rng.int(256)));
      return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
    }
    case 5: { // repeat a range many times
      const at = rng.int(b.length);
      const piece = b.subarray(at, Math.min(b.length, at + 1 + rng.int(32)));
      return Buffer.concat([b.subarray(0, at), ...Array.from({ length: 2 + rng.int(200) }, () => piece), b.subarray(at)]);
    }
    case 6: { // splice with another seed
      const other = others.length > 0 ? rng.pick(others) : b;
      return Buffer.concat([b.subarray(0, rng.int(b.length)), other.subarray(rng.int(Math.max(1, other.length)))]);
    }
    default: // random garbage of similar size
      return Buffer.from(Array.from({ length: 1 + rng.int(Math.min(4096, b.length * 2)) }, () => rng.int(256)));
  }
}

interface PbField {
  /** Offsets of the tag, the length prefix (LEN only), the value, and the end. */
  tagAt: number;
  lenAt: number;
  valueAt: number;
  end: number;
  wire: number;
}

/** The fields of the message at [from, to), and recursively of LEN fields that parse as messages. */
function pbFields(buf: Buffer, from: number, to: number, depth: number, out: PbField[]): boolean {
  let pos = from;
  while (pos < to) {
    const tagAt = pos;
    const tag = readVarint(buf, pos, to);
    if (tag === undefined || tag.value === 0) return false;
    pos = tag.next;
    const wire = tag.value & 7;
    let lenAt = pos;
    let valueAt = pos;
    let end: number;
    if (wire === 0) {
      const v = readVarint(buf, pos, to);
      if (!v) return false;
      end = v.next;
    } else if (wire === 1) end = pos + 8;
    else if (wire === 5) end = pos + 4;
    else if (wire === 2) {
      const len = readVarint(buf, pos, to);
      if (!len) return false;
      valueAt = len.next;
      end = valueAt + len.value;
    } else return false;
    if (end > to) return false;
    lenAt = wire === 2 ? lenAt : valueAt;
    out.push({ tagAt, lenAt, valueAt, end, wire });
    if (wire === 2 && depth < 8) {
      const inner: PbField[] = [];
      if (pbFields(buf, valueAt, end, depth + 1, inner)) out.push(...inner);
    }
    pos = end;
  }
  return true;
}

function readVarint(buf: Buffer, pos: number, to: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && pos < to; i++) {
    const b = buf[pos++]!;
    value += (b & 127) * scale;
    if (b < 128) return { value, next: pos };
    scale *= 128;
  }
  return undefined;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  for (;;) {
    if (n < 128) {
      out.push(n);
      return Buffer.from(out);
    }
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
}

export function mutateProtobuf(rng: Rng, input: Buffer, others: readonly Buffer[]): Buffer {
  const fields: PbField[] = [];
  if (!pbFields(input, 0, input.length, 0, fields) || fields.length === 0 || rng.int(4) === 0) return mutateBytes(rng, input, others);
  const f = rng.pick(fields);
  const before = input.subarray(0, f.tagAt);
  const field = input.subarray(f.tagAt, f.end);
  const after = input.subarray(f.end);
  switch (rng.int(6)) {
    case 0: { // a length that lies (LEN fields), or a value cut short
      if (f.wire !== 2) return Buffer.concat([before, input.subarray(f.tagAt, f.end - 1), after]);
      const lie = rng.pick([0, f.end - f.valueAt + 1 + rng.int(100), 2 ** 31, 2 ** 53 - 1]);
      return Buffer.concat([input.subarray(0, f.lenAt), varint(lie), input.subarray(f.valueAt)]);
    }
    case 1: { // the same field number with another wire type
      const tag = readVarint(input, f.tagAt, f.end)!;
      const newTag = tag.value - (tag.value & 7) + rng.pick([0, 1, 2, 3, 4, 5, 6, 7]);
      return Buffer.concat([before, varint(newTag), input.subarray(tag.next, f.end), after]);
    }
    case 2: // the field repeated many times
      return Buffer.concat([before, ...Array.from({ length: 2 + rng.int(500) }, () => field), after]);
    case 3: { // the field wrapped in itself, deeply (hostile nesting)
      if (f.wire !== 2) return mutateBytes(rng, input, others);
      const tag = readVarint(input, f.tagAt, f.end)!;
      const tagBytes = input.subarray(f.tagAt, tag.next);
      let inner: Buffer = input.subarray(f.valueAt, f.end);
      for (let i = 0, n = 50 + rng.int(5000); i < n; i++) inner = Buffer.concat([tagBytes, varint(inner.length), inner]);
      return Buffer.concat([before, inner, after]);
    }
    case 4: // the field removed
      return Buffer.concat([before, after]);
    default: { // the value's bytes mutated, its length kept
      const value = mutateBytes(rng, input.subarray(f.valueAt, f.end), others);
      if (f.wire !== 2) return Buffer.concat([before, input.subarray(f.tagAt, f.valueAt), value.subarray(0, f.end - f.valueAt), after]);
      return Buffer.concat([input.subarray(0, f.lenAt), varint(value.length), value, after]);
    }
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function hostileValue(rng: Rng): Json | string {
  switch (rng.int(10)) {
    case 0:
      return 'x'.repeat(1 + rng.int(200_000));
    case 1: {
      let v: Json = 1;
      for (let i = 0, n = 100 + rng.int(20_000); i < n; i++) v = rng.int(2) === 0 ? [v] : { k: v };
      return v;
    }
    case 2:
      return rng.pick([1e308, -1e308, 2 ** 64, -(2 ** 63), 1e-320, 0.5, -1, 1e300]);
    case 3:
      return rng.pick(['', '\u0000', '\ud800', '__proto__', 'constructor', '00-00-00', 'NaN', '1e999']);
    case 4:
      return rng.pick([null, true, false]);
    case 5:
      return Array.from({ length: 1 + rng.int(5_000) }, () => rng.int(1000));
    case 6:
      return { __proto__: { polluted: true }, constructor: { prototype: 1 } } as unknown as Json;
    case 7:
      return rng.pick(['ffffffffffffffffffffffffffffffff', '00000000000000000000000000000000', 'zz', '0x1', '-1']);
    case 8:
      return {};
    default:
      return [];
  }
}

/** Every [container, key] of a parsed document, to pick one node to replace. */
function jsonSlots(v: Json, out: [Json[] | Record<string, Json>, string | number][], depth = 0): void {
  if (depth > 50 || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) v.forEach((item, i) => (out.push([v, i]), jsonSlots(item, out, depth + 1)));
  else for (const k of Object.keys(v)) (out.push([v, k]), jsonSlots(v[k]!, out, depth + 1));
}

export function mutateJson(rng: Rng, input: Buffer, others: readonly Buffer[]): Buffer {
  let doc: Json;
  try {
    doc = JSON.parse(input.toString('utf8')) as Json;
  } catch {
    return mutateBytes(rng, input, others);
  }
  if (rng.int(5) === 0) return mutateBytes(rng, input, others);
  const slots: [Json[] | Record<string, Json>, string | number][] = [];
  jsonSlots(doc, slots);
  if (slots.length === 0) return mutateBytes(rng, input, others);
  const [container, key] = rng.pick(slots);
  const action = rng.int(4);
  if (action === 0 && !Array.isArray(container)) delete (container as Record<string, Json>)[key as string];
  else if (action === 1 && Array.isArray(container)) for (let i = 0, n = rng.int(300); i < n; i++) container.push(container[key as number]!);
  else (container as Record<string | number, Json>)[key] = hostileValue(rng) as Json;
  // Deep nesting overflows JSON.stringify itself: then send the mutation as bytes instead.
  try {
    return Buffer.from(JSON.stringify(doc));
  } catch {
    return mutateBytes(rng, input, others);
  }
}

/** Printable ASCII only: what an HTTP header value may carry. */
export function mutateHeader(rng: Rng, value: string): string {
  const chars = [...value];
  switch (rng.int(5)) {
    case 0:
      return chars.slice(0, rng.int(chars.length + 1)).join('');
    case 1:
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) chars[rng.int(Math.max(1, chars.length))] = String.fromCharCode(0x20 + rng.int(95));
      return chars.join('');
    case 2:
      return value.repeat(2 + rng.int(400)).slice(0, 16_000);
    case 3:
      return Array.from({ length: rng.int(300) }, () => String.fromCharCode(0x20 + rng.int(95))).join('');
    default:
      return chars.join('').replace(/-/g, rng.pick(['--', '', '-0-', ',']));
  }
}
