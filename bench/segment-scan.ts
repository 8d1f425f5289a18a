/**
 * A hand-rolled protobuf field scanner for the benchmark's out-of-process sink (sink-process.ts):
 * it walks a message's top-level fields without decoding them, so the sink can read a
 * SegmentObject's trace id and count its spans at a few hundred nanoseconds a segment.
 *
 * Wire format (protobuf encoding spec): every field is a varint tag `field << 3 | wireType`, then
 * its value: 0 varint, 1 eight bytes, 2 a varint length and that many bytes, 5 four bytes. Wire
 * types 3 and 4 (groups) are not used by any proto3 message here and are refused.
 */

/** Bytes that are not a well-formed protobuf message (truncated, a bad varint, a group). */
export class ProtobufScanError extends Error {}

/** A cursor over one message's bytes. */
interface Cursor {
  pos: number;
}

/** Reads a varint at `c.pos` (advancing it); exact up to 2^53, enough for tags and lengths. */
function readVarint(bytes: Uint8Array, c: Cursor, end: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= end) throw new ProtobufScanError(`A varint runs past the end of the message (at byte ${c.pos}).`);
    const b = bytes[c.pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 128;
  }
  throw new ProtobufScanError(`A varint longer than 10 bytes (ending at byte ${c.pos}).`);
}

/**
 * Calls `onField` for every top-level field of the message in `bytes[start, end)`, in wire order.
 * `valueStart`/`valueEnd` delimit the value: a length-delimited field's payload (without its
 * length), a varint's bytes, a fixed field's 8 or 4 bytes. Throws ProtobufScanError on malformed
 * bytes; fields seen before the error have been reported.
 */
export function forEachField(
  bytes: Uint8Array,
  onField: (field: number, wireType: number, valueStart: number, valueEnd: number) => void,
  start = 0,
  end = bytes.length,
): void {
  const c: Cursor = { pos: start };
  while (c.pos < end) {
    const tag = readVarint(bytes, c, end);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0) throw new ProtobufScanError(`Field number 0 at byte ${c.pos}.`);
    let valueStart = c.pos;
    let valueEnd: number;
    switch (wireType) {
      case 0:
        readVarint(bytes, c, end);
        valueEnd = c.pos;
        break;
      case 1:
        valueEnd = c.pos + 8;
        break;
      case 2: {
        const length = readVarint(bytes, c, end);
        valueStart = c.pos;
        valueEnd = c.pos + length;
        break;
      }
      case 5:
        valueEnd = c.pos + 4;
        break;
      default:
        throw new ProtobufScanError(`Wire type ${wireType} (field ${field}) at byte ${valueStart}: groups and unknown types are not supported.`);
    }
    if (valueEnd > end) throw new ProtobufScanError(`Field ${field} runs past the end of the message (${valueEnd} > ${end}).`);
    onField(field, wireType, valueStart, valueEnd);
    c.pos = valueEnd;
  }
}

/** What the sink needs of one `skywalking.v3.SegmentObject`. */
export interface ScannedSegment {
  /** Field 1, `traceId` (string). */
  traceId: string;
  /** Field 2, `traceSegmentId` (string): a segment id seen before is a redelivery. */
  segmentId: string;
  /** How many field 3 (`spans`, repeated SpanObject) the segment carries; none is decoded. */
  spans: number;
}

/** Scans an encoded SegmentObject; throws ProtobufScanError when the bytes are malformed. */
export function scanSegment(bytes: Uint8Array): ScannedSegment {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let traceId = '';
  let segmentId = '';
  let spans = 0;
  forEachField(buf, (field, wireType, start, end) => {
    if (wireType !== 2) return;
    if (field === 3) spans++;
    else if (field === 1) traceId = buf.toString('utf8', start, end);
    else if (field === 2) segmentId = buf.toString('utf8', start, end);
  });
  return { traceId, segmentId, spans };
}

/**
 * Whether a `grpc-status-details-bin` value (a google.rpc.Status: 3 details, repeated Any
 * { 1 type_url, 2 value }) carries a google.rpc.RetryInfo.
 */
export function statusHasRetryInfo(statusDetails: Uint8Array): boolean {
  const buf = Buffer.isBuffer(statusDetails) ? statusDetails : Buffer.from(statusDetails.buffer, statusDetails.byteOffset, statusDetails.byteLength);
  let found = false;
  try {
    forEachField(buf, (field, wireType, start, end) => {
      if (field !== 3 || wireType !== 2 || found) return;
      forEachField(
        buf,
        (f, w, s, e) => {
          if (f === 1 && w === 2 && buf.toString('utf8', s, e).endsWith('/google.rpc.RetryInfo')) found = true;
        },
        start,
        end,
      );
    });
  } catch {
    return found;
  }
  return found;
}
