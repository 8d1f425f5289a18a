/**
 * How a batch of encoded items is stored in a job. BullMQ keeps job data as JSON, which has no
 * binary type (a Buffer becomes `{"type":"Buffer","data":[...]}`, about 3.3× its size), so the
 * items are framed, compressed and base64-encoded into one string:
 *
 *   base64( deflate-raw( for each item: 0x0a, varint(length), bytes ) )
 *
 * The framing is protobuf's `repeated bytes` field 1, so for SegmentObject items the inflated bytes
 * are exactly a `skywalking.v3.SegmentCollection` message (`protoc --decode` reads them). Level-1
 * deflate is cheap (under 1 ms for 300 KB) and segments repeat their service, instance and tag
 * names, so it saves most of what base64 adds; measured figures are in durable-retry/README.md.
 */
import { deflateRawSync, inflateRawSync, constants } from 'node:zlib';

/** Names the format in every job, so a later skybridge can read jobs an older one wrote. */
export const PAYLOAD_ENCODING = 'pb-repeated-bytes+deflate-raw+base64';

const FIELD_1_BYTES = 0x0a;

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    length++;
  }
  return length;
}

function writeVarint(out: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    out[offset++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[offset++] = n;
  return offset;
}

/** Frames the items without compressing them (also the SegmentCollection body). */
export function frameItems(items: readonly Buffer[]): Buffer {
  let total = 0;
  for (const item of items) total += 1 + varintLength(item.length) + item.length;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const item of items) {
    out[offset++] = FIELD_1_BYTES;
    offset = writeVarint(out, offset, item.length);
    offset += item.copy(out, offset);
  }
  return out;
}

/** Splits framed bytes back into items. Throws on anything but a well-formed sequence of field 1. */
export function unframeItems(bytes: Buffer): Buffer[] {
  const items: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes[offset++] !== FIELD_1_BYTES) throw new Error(`Unexpected tag at byte ${offset - 1} of a stored batch.`);
    let length = 0;
    let shift = 1;
    for (;;) {
      if (offset >= bytes.length) throw new Error('A stored batch ends inside a length.');
      const byte = bytes[offset++]!;
      length += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
      shift *= 0x80;
      if (shift > 2 ** 35) throw new Error('A stored batch has an overlong length.');
    }
    if (offset + length > bytes.length) throw new Error('A stored batch ends inside an item.');
    items.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  return items;
}

/** Items → the string stored in the job. */
export function encodePayload(items: readonly Buffer[]): string {
  return deflateRawSync(frameItems(items), { level: constants.Z_BEST_SPEED }).toString('base64');
}

/** The string stored in the job → items. Throws when the payload is corrupt. */
export function decodePayload(payload: string): Buffer[] {
  return unframeItems(inflateRawSync(Buffer.from(payload, 'base64')));
}
