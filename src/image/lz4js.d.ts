/** The part of lz4js (no published types) that squashfs needs: raw LZ4 blocks, no frame. */
declare module 'lz4js' {
  /** Decodes src[sIndex, sIndex + sLength) into dst from dIndex; returns the end index in dst (may exceed dst.length on bad input). */
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}
