/**
 * The compression codecs Kafka users meet besides gzip, which is the only one kafkajs has built in.
 * All are JavaScript or WebAssembly bundled in their packages (nothing native to build, nothing
 * downloaded at install): snappy (kafkajs-snappy over snappyjs, with the xerial framing Java
 * producers write), lz4 (lz4js, the LZ4 frame format Kafka uses since 0.10) and zstd (compressed
 * with the zstd WebAssembly build; decompressed with fzstd, which also reads frames that do not
 * state their size, as Java's streaming zstd writes them).
 *
 * kafkajs keeps codecs in one process-wide table; registering them once lets every consumer read
 * any of them and every producer write the one its config names.
 */
import { init as initZstd, compress as zstdCompress } from '@bokuweb/zstd-wasm';
import { decompress as zstdDecompress } from 'fzstd';
// kafkajs assigns its exports in a way Node's ESM loader cannot list: read them from the default.
import kafkajs from 'kafkajs';
import SnappyCodec from 'kafkajs-snappy';
import * as lz4Block from 'lz4js';
import { hash as xxh32 } from 'lz4js/xxh32.js';

/** zstd level producers use: librdkafka's and Java's default. */
const ZSTD_LEVEL = 3;

interface Encoder {
  buffer: Buffer;
}

/**
 * An LZ4 frame as Kafka's Java client reads it: independent 64 KiB blocks (Kafka refuses frames
 * whose blocks refer back to earlier ones, which lz4js's own frame writer produces), no checksums
 * beyond the header's. lz4js compresses each block; the frame around it is written here.
 */
function lz4Frame(src: Buffer): Buffer {
  const BLOCK = 64 * 1024;
  const FLG = 0x40 | 0x20; // version 01, block independence
  const BD = 4 << 4; // 64 KiB maximum block size
  const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, FLG, BD, 0]);
  header[6] = (xxh32(0, header, 4, 2) >>> 8) & 0xff;
  const parts: Buffer[] = [header];
  const scratch = new Uint8Array(lz4Block.compressBound(BLOCK));
  for (let at = 0; at < src.length; at += BLOCK) {
    const block = src.subarray(at, Math.min(src.length, at + BLOCK));
    // A fresh hash table per block: no match can reach into an earlier block.
    const size = lz4Block.compressBlock(block, scratch, 0, block.length, new Uint32Array(1 << 16));
    const length = Buffer.alloc(4);
    if (size === 0 || size >= block.length) {
      length.writeUInt32LE((0x80000000 | block.length) >>> 0); // stored uncompressed
      parts.push(length, Buffer.from(block));
    } else {
      length.writeUInt32LE(size);
      parts.push(length, Buffer.from(scratch.subarray(0, size)));
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  return Buffer.concat(parts);
}

const lz4Codec = () => ({
  async compress(encoder: Encoder): Promise<Buffer> {
    return lz4Frame(encoder.buffer);
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    return Buffer.from(lz4Block.decompress(buffer));
  },
});

let zstdReady: Promise<void> | undefined;
const zstdCodec = () => ({
  async compress(encoder: Encoder): Promise<Buffer> {
    await (zstdReady ??= initZstd());
    return Buffer.from(zstdCompress(encoder.buffer, ZSTD_LEVEL));
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    return Buffer.from(zstdDecompress(buffer));
  },
});

const { CompressionCodecs, CompressionTypes } = kafkajs;

let registered = false;

/** Adds snappy, lz4 and zstd to kafkajs's codec table (idempotent). */
export function registerKafkaCodecs(): void {
  if (registered) return;
  registered = true;
  CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;
  CompressionCodecs[CompressionTypes.LZ4] = lz4Codec;
  CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;
}
