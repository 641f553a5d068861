/**
 * How this build packs the squashfs it writes, and whether the base's squashfs packs the same way.
 * - `rootfs.compression: auto` takes the base's own compressor and level from its superblock and compressor options
 *   (zstd and gzip record a level other than their default there; xz records none for mksquashfs's defaults).
 * - "The same way" is the same compressor, block size and compressor options block. Only then can squashfs-merge.ts put
 *   the changes into the base image and reuse its compressed blocks; otherwise the whole rootfs is compressed again.
 *   It is found by packing an empty directory with the build's own mksquashfs options (so whatever mksquashfs records
 *   for them is compared, not a guess of it) and reading both superblocks in-process.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openImages } from './image/open-images.js';
import { SUPERBLOCK_SIZE } from './image/squashfs-format.js';
import { mksquash } from './tools/squashfs.js';
import type { BuildLog } from './build-log.js';
import type { Compression, PackCompression } from './profile/schema.js';

/** What mksquashfs is told for the squashfs this build writes. */
export interface Packing {
  compression: PackCompression;
  level?: number;
}

interface ImagePacking {
  compressor: string;
  blockSize: number;
  options: Buffer;
}

const PACKABLE: readonly string[] = ['xz', 'zstd', 'gzip'] satisfies PackCompression[];

async function packingOf(image: string): Promise<ImagePacking> {
  const images = await openImages([image]);
  try {
    const fs = images.layers[0]!;
    const options = await fs.source.read(SUPERBLOCK_SIZE, fs.dataStart - SUPERBLOCK_SIZE, 'squashfs compressor options');
    return { compressor: fs.sb.compressor, blockSize: fs.sb.blockSize, options };
  } finally {
    await images.close();
  }
}

function describeImage(p: ImagePacking): string {
  return `${p.compressor}, ${p.blockSize / 1024} KiB blocks${p.options.length ? `, options ${p.options.toString('hex')}` : ''}`;
}

function describePacking(p: Packing): string {
  return `${p.compression}${p.level === undefined ? '' : ` level ${p.level}`}`;
}

/**
 * The level a zstd or gzip options block records: the block is a metadata block (a u16 header, always stored
 * uncompressed) whose data starts with the level as a u32 (squashfs-tools zstd_wrapper.h / gzip_wrapper.h).
 */
function recordedLevel(p: ImagePacking): number | undefined {
  return (p.compressor === 'zstd' || p.compressor === 'gzip') && p.options.length >= 6 ? p.options.readUInt32LE(2) : undefined;
}

export interface ResolvedPacking {
  packing: Packing;
  /** The base squashfs, described ("xz, 128 KiB blocks"), or why it could not be read. */
  base: string;
  /** One line for the log when `auto` chose something. */
  note?: string;
  baseImage?: ImagePacking;
}

/** The packing this build uses for `image`'s replacement: the profile's, or with `auto` the base's own. */
export async function resolvePacking(image: string, rootfs: { compression: Compression; compressionLevel?: number }): Promise<ResolvedPacking> {
  let baseImage: ImagePacking | undefined;
  let unreadable = '';
  try {
    baseImage = await packingOf(image);
  } catch (err) {
    // a compressor the in-process reader lacks (lzo), or no squashfs at all
    unreadable = err instanceof Error ? err.message : String(err);
  }
  const base = baseImage ? describeImage(baseImage) : `in a way iso-build cannot read (${unreadable})`;
  if (rootfs.compression !== 'auto') return { packing: { compression: rootfs.compression, level: rootfs.compressionLevel }, base, baseImage };
  if (baseImage && PACKABLE.includes(baseImage.compressor)) {
    const packing: Packing = { compression: baseImage.compressor as PackCompression, level: recordedLevel(baseImage) };
    return { packing, base, baseImage, note: `rootfs.compression auto: ${describePacking(packing)}, the base's own (${base})` };
  }
  const packing: Packing = { compression: 'xz' };
  return { packing, base, baseImage, note: `rootfs.compression auto: xz (the base is packed ${base}, which this build does not write)` };
}

/** Whether mksquashfs with `packing` writes images packed like `base` (a probe in `scratch`, removed again). */
export async function packsLike(base: ImagePacking | undefined, packing: Packing, scratch: string, log: BuildLog): Promise<{ same: boolean; build: string }> {
  // Another compressor, or an unreadable base: no need to ask mksquashfs what it would record.
  if (!base || base.compressor !== packing.compression) return { same: false, build: describePacking(packing) };
  const probeDir = join(scratch, 'packing-probe');
  const probe = join(scratch, 'packing-probe.squashfs');
  rmSync(probeDir, { recursive: true, force: true });
  mkdirSync(probeDir, { recursive: true });
  try {
    await mksquash(probeDir, probe, { ...packing, epochSeconds: 0, log });
    const built = await packingOf(probe);
    const same = base.compressor === built.compressor && base.blockSize === built.blockSize && base.options.equals(built.options);
    return { same, build: describeImage(built) };
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
    rmSync(probe, { force: true });
  }
}
