/**
 * Block decompressors for squashfs: node:zlib (gzip), xz-decompress (wasm), zstddec (wasm; fzstd for frames without
 * a content size), lz4js (pure JS).
 * Each call is bounded by `maxOut`: a block that would inflate past it is corruption, so memory stays bounded.
 */
import { inflateSync } from 'node:zlib';
import { Decompress as ZstdStream, decompress as zstdOneShot } from 'fzstd';
import type { ZSTDDecoder } from 'zstddec';
import { decompressBlock as lz4Block } from 'lz4js';

export type Compressor = 'gzip' | 'lzma' | 'lzo' | 'xz' | 'lz4' | 'zstd';

/** squashfs superblock compression ids. */
export const COMPRESSOR_IDS: Record<number, Compressor> = { 1: 'gzip', 2: 'lzma', 3: 'lzo', 4: 'xz', 5: 'lz4', 6: 'zstd' };

export const SUPPORTED: readonly Compressor[] = ['gzip', 'xz', 'lz4', 'zstd'];

/** Thrown for bytes a decoder rejects; the squashfs reader turns it into an error naming the block. */
export class DecodeError extends Error {}

export async function decompress(compressor: Compressor, data: Uint8Array, maxOut: number): Promise<Buffer> {
  switch (compressor) {
    case 'gzip':
      return gzip(data, maxOut);
    case 'xz':
      return xz(data, maxOut);
    case 'zstd':
      return zstd(data, maxOut);
    case 'lz4':
      return lz4(data, maxOut);
    default:
      throw new DecodeError(`${compressor} is not supported`);
  }
}

function gzip(data: Uint8Array, maxOut: number): Buffer {
  try {
    return inflateSync(data, { maxOutputLength: Math.max(maxOut, 1) });
  } catch (err) {
    throw new DecodeError(`zlib: ${(err as Error).message}`);
  }
}

async function zstd(data: Uint8Array, maxOut: number): Promise<Buffer> {
  // mksquashfs and gensquashfs write the content size in the frame header: then a one-shot decoder allocates exactly
  // that; data blocks use zstddec (wasm, ~3x fzstd). The size check also catches zstddec's error returns (short result).
  const size = zstdContentSize(data);
  if (size !== undefined) {
    if (size > maxOut) throw new DecodeError(`zstd: frame claims ${size} bytes, more than ${maxOut}`);
    let out: Uint8Array;
    try {
      // Metadata blocks (8 KiB) go through fzstd: instantiating the wasm costs ~40 ms, more than a listing decodes.
      out = maxOut <= 8192 ? zstdOneShot(data) : (await zstdWasm()).decode(data, size);
    } catch (err) {
      throw new DecodeError(`zstd: ${(err as Error).message}`);
    }
    if (out.length !== size) throw new DecodeError(`zstd: frame decoded to ${out.length} bytes, its header says ${size}`);
    return Buffer.from(out.buffer, out.byteOffset, out.length);
  }
  // No content size: fzstd's streaming decoder, stopped as soon as the output passes maxOut.
  const parts: Uint8Array[] = [];
  let total = 0;
  const stream = new ZstdStream((chunk) => {
    total += chunk.length;
    if (total > maxOut) throw new DecodeError(`zstd: output exceeds ${maxOut} bytes`);
    parts.push(chunk.slice());
  });
  try {
    stream.push(data, true);
  } catch (err) {
    throw err instanceof DecodeError ? err : new DecodeError(`zstd: ${(err as Error).message}`);
  }
  return Buffer.concat(parts, total);
}

function lz4(data: Uint8Array, maxOut: number): Buffer {
  const out = Buffer.alloc(maxOut);
  let end: number;
  try {
    end = lz4Block(data, out, 0, data.length, 0);
  } catch (err) {
    throw new DecodeError(`lz4: ${(err as Error).message}`);
  }
  if (!(end >= 0 && end <= maxOut)) throw new DecodeError(`lz4: output exceeds ${maxOut} bytes`);
  return out.subarray(0, end);
}

async function xz(data: Uint8Array, maxOut: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let total = 0;
  // Loaded on first use: the wasm module costs start-up time that gzip/zstd/lz4 images never need.
  const reader = new (await xzStream())(oneChunk(data)).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxOut) {
        await reader.cancel().catch(() => undefined);
        throw new DecodeError(`xz: output exceeds ${maxOut} bytes`);
      }
      parts.push(value);
    }
  } catch (err) {
    throw err instanceof DecodeError ? err : new DecodeError(`xz: ${(err as Error).message}`);
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(parts, total);
}

let zstdDecoder: Promise<ZSTDDecoder> | undefined;

/** The wasm decoder, instantiated on first use (gzip/xz/lz4 images never pay for it). */
function zstdWasm(): Promise<ZSTDDecoder> {
  zstdDecoder ??= import('zstddec').then(async ({ ZSTDDecoder: Decoder }) => {
    const decoder = new Decoder();
    await decoder.init();
    return decoder;
  });
  return zstdDecoder;
}

/** Frame_Content_Size of a single zstd frame (RFC 8878 3.1.1.1), undefined when absent or when more frames follow. */
export function zstdContentSize(data: Uint8Array): number | undefined {
  if (data.length < 6 || data[0] !== 0x28 || data[1] !== 0xb5 || data[2] !== 0x2f || data[3] !== 0xfd) return undefined;
  const fhd = data[4]!;
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return undefined;
  const at = 5 + (single ? 0 : 1) + dictBytes;
  if (at + fcsBytes > data.length) return undefined;
  let v = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) v = v * 256 + data[at + i]!;
  return fcsBytes === 2 ? v + 256 : v;
}

type XzStreamClass = typeof import('xz-decompress').XzReadableStream;
let xzClass: XzStreamClass | undefined;

/** The package is a CommonJS bundle: its class is a named export under tsx and `default.XzReadableStream` under node. */
async function xzStream(): Promise<XzStreamClass> {
  if (!xzClass) {
    const mod = (await import('xz-decompress')) as { XzReadableStream?: XzStreamClass; default?: { XzReadableStream?: XzStreamClass } };
    xzClass = mod.XzReadableStream ?? mod.default?.XzReadableStream;
    if (!xzClass) throw new Error('xz-decompress has no XzReadableStream export');
  }
  return xzClass;
}

function oneChunk(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(data);
      controller.close();
    },
  });
}
