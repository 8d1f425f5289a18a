/**
 * Reads a request body with a hard cap, then undoes gzip/deflate with the same cap on the output.
 * The wire bytes are counted as they arrive (Content-Length is checked first when present), and
 * decompression stops as soon as its output passes the cap (zlib's `maxOutputLength`), so a gzip
 * bomb costs at most `limit` bytes of inflating, never its full expansion.
 */
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../core/errors.ts';

/** Content codings the receiver can undo. */
export type ContentCoding = 'identity' | 'gzip' | 'deflate';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);

/**
 * Maps a `Content-Encoding` header to a coding.
 *
 * @throws UnsupportedMediaTypeError for anything but gzip, deflate, identity or none.
 */
export function parseContentCoding(header: string | undefined): ContentCoding {
  const coding = (header ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity' || coding === 'none') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  if (coding === 'deflate') return 'deflate';
  throw new UnsupportedMediaTypeError(`Content-Encoding ${JSON.stringify(header)} is not supported; send gzip, deflate or an uncompressed body.`);
}

/**
 * Resolves with the decompressed body once the request ended. An empty body stays empty whatever
 * its coding (Zipkin accepts an empty POST as "no spans").
 *
 * @throws PayloadTooLargeError when the body on the wire or after decompression exceeds `limit`
 *   bytes; reading stops there and the caller should close the connection.
 * @throws InvalidInputError when the compressed data is corrupt or the request is cut off.
 */
export async function readBody(req: IncomingMessage, limit: number, coding: ContentCoding): Promise<Buffer> {
  const wire = await readWire(req, limit, coding === 'identity' ? '' : 'compressed ');
  if (coding === 'identity' || wire.length === 0) return wire;
  try {
    if (coding === 'gzip') return await gunzip(wire, { maxOutputLength: limit });
    return await (isZlibHeader(wire) ? inflate : inflateRaw)(wire, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit, 'decompressed ');
    throw new InvalidInputError(`Cannot decompress the ${coding} body: ${err instanceof Error ? err.message : String(err)}.`, err);
  }
}

function readWire(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit, what));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      // Stop holding data; the rest of the body is discarded until the caller answers and closes.
      req.removeListener('data', onData);
      req.resume();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return fail(tooLarge(limit, what));
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => fail(new InvalidInputError(`The request body was cut off: ${err.message}.`, err)));
    req.on('close', () => {
      if (!req.complete) fail(new InvalidInputError('The request body was cut off before its end.'));
    });
  });
}

/**
 * HTTP's "deflate" means the zlib format (RFC 9110 §8.4.1.2), but some clients send raw deflate; a
 * zlib stream starts with a CMF/FLG pair whose method is 8 and whose 16-bit value is a multiple of 31.
 */
function isZlibHeader(b: Buffer): boolean {
  if (b.length < 2) return true;
  return (b[0]! & 0x0f) === 8 && ((b[0]! << 8) | b[1]!) % 31 === 0;
}

function tooLarge(limit: number, what: string): PayloadTooLargeError {
  return new PayloadTooLargeError(`The ${what}request body is larger than max_request_body_size (${limit} bytes).`);
}
