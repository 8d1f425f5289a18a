/**
 * Reads an HTTP request body with a hard size cap, decompressing gzip/deflate as it streams in. The
 * cap applies to the bytes on the wire (Content-Length is checked before any byte is read) and again
 * to the decompressed bytes, and decompression stops as soon as the output passes the cap: a small
 * gzip bomb costs at most `limit` bytes of inflating, never its full expansion, and is refused before
 * the sender has finished sending it. Bodies without Content-Length (chunked, as the OTel JS exporter
 * sends them) are counted while they arrive.
 */
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import { InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors.ts';

/** Content codings a receiver can undo. */
export type ContentCoding = 'identity' | 'gzip' | 'deflate';

/**
 * Maps a `Content-Encoding` header to a coding.
 *
 * @throws UnsupportedMediaTypeError for anything but gzip, deflate, identity or none.
 */
export function parseContentCoding(header: string | undefined): ContentCoding {
  if (header === undefined) return 'identity';
  const coding = header.trim().toLowerCase();
  if (coding === '' || coding === 'identity' || coding === 'none') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  if (coding === 'deflate') return 'deflate';
  throw new UnsupportedMediaTypeError(`Content-Encoding ${JSON.stringify(header)} is not supported; send gzip, deflate or an uncompressed body.`);
}

/**
 * Resolves with the (decompressed) body once the request ended. An empty body stays empty whatever
 * its coding.
 *
 * @throws PayloadTooLargeError when the body on the wire or after decompression exceeds `limit`
 *   bytes; reading stops there and the caller should close the connection.
 * @throws InvalidInputError when the compressed data is corrupt or the request is cut off.
 */
export function readBody(req: IncomingMessage, limit: number, coding: ContentCoding): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit, coding !== 'identity' ? 'compressed ' : ''));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let wireSize = 0;
    let settled = false;
    let inflater: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | undefined;

    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      inflater?.destroy();
      // Stop holding data; whatever else the sender writes is discarded until the caller answers
      // and closes the connection.
      req.removeListener('data', onWireData);
      req.resume();
      reject(err);
    };
    const finish = (): void => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onBodyData = (chunk: Buffer): void => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) return fail(tooLarge(limit, coding !== 'identity' ? 'decompressed ' : ''));
      chunks.push(chunk);
    };
    const onWireData = (chunk: Buffer): void => {
      wireSize += chunk.length;
      if (wireSize > limit) return fail(tooLarge(limit, coding !== 'identity' ? 'compressed ' : ''));
      if (coding === 'identity') return onBodyData(chunk);
      inflater ??= createInflater(coding, chunk);
      // Respect the inflater's backpressure so a bomb is inflated only as fast as it is counted.
      if (!inflater.write(chunk)) {
        req.pause();
        inflater.once('drain', () => req.resume());
      }
    };

    req.on('data', onWireData);
    req.on('end', () => {
      if (settled) return;
      // No inflater means no byte arrived: an empty body stays empty whatever its coding (Zipkin
      // reads an empty POST as "no spans"; OTLP as an empty request).
      if (inflater === undefined) finish();
      else inflater.end();
    });
    req.on('error', (err) => fail(new InvalidInputError(`The request body was cut off: ${err.message}.`, err)));
    req.on('close', () => {
      if (!req.complete) fail(new InvalidInputError('The request body was cut off before its end.'));
    });

    function createInflater(kind: 'gzip' | 'deflate', first: Buffer): zlib.Gunzip | zlib.Inflate | zlib.InflateRaw {
      const z = kind === 'gzip' ? zlib.createGunzip() : isZlibHeader(first) ? zlib.createInflate() : zlib.createInflateRaw();
      z.on('data', onBodyData);
      z.on('end', finish);
      z.on('error', (err) => fail(new InvalidInputError(`Cannot decompress the ${kind} body: ${err.message}.`, err)));
      return z;
    }
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
