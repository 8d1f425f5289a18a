// Types for the two codec packages that ship none (core/kafka/codecs.ts uses only these).
declare module 'kafkajs-snappy' {
  import type { CompressionCodec } from 'kafkajs';
  const SnappyCodec: () => CompressionCodec;
  export default SnappyCodec;
}

declare module 'lz4js' {
  /** Decodes an LZ4 frame. */
  export function decompress(data: Uint8Array): Uint8Array;
  export function compressBound(n: number): number;
  /** Compresses src[sIndex, sIndex + sLength) into dst as one raw LZ4 block; returns its size (0: not compressible). */
  export function compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
}

declare module 'lz4js/xxh32.js' {
  export function hash(seed: number, src: Uint8Array, index: number, length: number): number;
}
