/** squashfs-tools: unpack and pack root filesystems, and read single files back independently of our own code. */
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { run, runBinary } from './process.js';
import type { ToolCall } from './xorriso.js';
import type { PackCompression } from '../profile/schema.js';

/** "[=====\    ] 1234/5678  45%" — the progress bar of mksquashfs/unsquashfs, printed even without a TTY. */
const PROGRESS = /^\[[^\]]*\]\s+(\d+)\/(\d+)\s+(\d+)%/;

function progressOf(call: ToolCall): { onLine: (line: string) => void; isProgress: (line: string) => boolean } {
  return {
    isProgress: (line) => PROGRESS.test(line),
    onLine: (line) => {
      const m = PROGRESS.exec(line);
      if (m) call.onProgress?.(Number(m[3]), `${m[1]}/${m[2]} blocks`);
    },
  };
}

export async function unsquash(image: string, dest: string, call: ToolCall = {}): Promise<void> {
  await run('unsquashfs', ['-processors', String(availableParallelism()), '-d', resolve(dest), resolve(image)], {
    log: call.log,
    what: `unsquashfs ${image}`,
    ...progressOf(call),
  });
}

export interface PackOptions extends ToolCall {
  compression: PackCompression;
  level?: number;
  /** Every inode time and the superblock time. */
  epochSeconds: number;
  /**
   * Inode, directory, id and xattr tables stored uncompressed: for images that are only read by squashfs-merge.ts
   * (which writes its tables uncompressed anyway), so it does not have to decompress them in JavaScript.
   */
  plainTables?: boolean;
}

export function mksquashfsArgs(source: string, image: string, opts: Omit<PackOptions, keyof ToolCall>, processors: number): string[] {
  const args = [resolve(source), resolve(image), '-noappend', '-comp', opts.compression];
  if (opts.level !== undefined) args.push('-Xcompression-level', String(opts.level));
  if (opts.plainTables) args.push('-noI', '-noX');
  args.push('-processors', String(processors));
  args.push('-mkfs-time', String(opts.epochSeconds), '-all-time', String(opts.epochSeconds));
  return args;
}

export async function mksquash(source: string, image: string, opts: PackOptions): Promise<void> {
  await run('mksquashfs', mksquashfsArgs(source, image, opts, availableParallelism()), {
    // mksquashfs 4.5 refuses -mkfs-time/-all-time while SOURCE_DATE_EPOCH is set (fatal error).
    env: { SOURCE_DATE_EPOCH: undefined },
    log: opts.log,
    what: `mksquashfs ${image}`,
    ...progressOf(opts),
  });
}

/** A file's bytes as unsquashfs reads them (the independent check of what we packed). */
export async function catFile(image: string, path: string, call: ToolCall = {}): Promise<Buffer> {
  return runBinary('unsquashfs', ['-cat', resolve(image), path.replace(/^\/+/, '')], {
    log: call.log,
    what: `unsquashfs -cat ${path}`,
  });
}
