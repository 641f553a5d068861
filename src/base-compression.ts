/**
 * Whether the base's squashfs packs like this build packs its layers: same compressor, block size and compressor
 * options (the options block mksquashfs writes after the superblock, e.g. a zstd level other than 15). Only then can
 * squashfs-merge.ts put the changes into the base image and reuse its compressed blocks; otherwise the whole rootfs is
 * compressed again. Found by packing an empty directory with the build's own mksquashfs options (so whatever
 * mksquashfs records for them is compared, not a guess of it) and reading both superblocks in-process.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openImages } from './image/open-images.js';
import { SUPERBLOCK_SIZE } from './image/squashfs-format.js';
import { mksquash } from './tools/squashfs.js';
import type { BuildLog } from './build-log.js';
import type { Compression } from './profile/schema.js';

export interface PackingComparison {
  same: boolean;
  /** "xz, 128 KiB blocks" (and the options block in hex when the image has one). */
  base: string;
  build: string;
}

interface Packing {
  compressor: string;
  blockSize: number;
  options: Buffer;
}

async function packingOf(image: string): Promise<Packing> {
  const images = await openImages([image]);
  try {
    const fs = images.layers[0]!;
    const options = await fs.source.read(SUPERBLOCK_SIZE, fs.dataStart - SUPERBLOCK_SIZE, 'squashfs compressor options');
    return { compressor: fs.sb.compressor, blockSize: fs.sb.blockSize, options };
  } finally {
    await images.close();
  }
}

function describe(p: Packing): string {
  return `${p.compressor}, ${p.blockSize / 1024} KiB blocks${p.options.length ? `, options ${p.options.toString('hex')}` : ''}`;
}

export async function compareBasePacking(
  image: string,
  scratch: string,
  pack: { compression: Compression; level?: number },
  log: BuildLog,
): Promise<PackingComparison> {
  const level = pack.level === undefined ? '' : ` level ${pack.level}`;
  let base: Packing;
  try {
    base = await packingOf(image);
  } catch (err) {
    // a compressor the in-process reader lacks (lzo, lz4), or no squashfs at all: nothing to merge into
    return { same: false, base: `in a way iso-build cannot read (${err instanceof Error ? err.message : String(err)})`, build: `${pack.compression}${level}` };
  }
  // Another compressor: no need to ask mksquashfs what it would record.
  if (base.compressor !== pack.compression) return { same: false, base: describe(base), build: `${pack.compression}${level}` };
  const probeDir = join(scratch, 'packing-probe');
  const probe = join(scratch, 'packing-probe.squashfs');
  rmSync(probeDir, { recursive: true, force: true });
  mkdirSync(probeDir, { recursive: true });
  try {
    await mksquash(probeDir, probe, { ...pack, epochSeconds: 0, log });
    const built = await packingOf(probe);
    const same = base.compressor === built.compressor && base.blockSize === built.blockSize && base.options.equals(built.options);
    return { same, base: describe(base), build: describe(built) };
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
    rmSync(probe, { force: true });
  }
}
