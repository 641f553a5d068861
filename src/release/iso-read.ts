/**
 * Reading files of a published ISO without extracting it (a 2-5 GB download must not need as much temp space):
 * xorriso lists every file's extents (`-exec report_lba`), the bytes are read at those offsets, and a squashfs in
 * the ISO is read by unsquashfs at its byte offset (`-o`).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { run, runBinary } from '../tools/process.js';
import { splitShellWords } from '../tools/shell-words.js';

const SECTOR = 2048;

export interface IsoFile {
  /** Path inside the ISO, without the leading slash. */
  path: string;
  /** Data extents in order: byte offset in the image and length. */
  extents: { offset: number; size: number }[];
  size: number;
}

/** "File data lba:  0 ,    17771 ,        1 ,       15 , '/.disk/cd_type'" lines of `-exec report_lba`. */
export function parseReportLba(report: string): Map<string, IsoFile> {
  const files = new Map<string, IsoFile>();
  const parts = new Map<string, { xt: number; offset: number; size: number }[]>();
  for (const line of report.split('\n')) {
    const m = /^File data lba:\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(.+)$/.exec(line.trim());
    if (!m) continue;
    const path = (splitShellWords(m[5]!)[0] ?? '').replace(/^\/+/, '');
    const list = parts.get(path) ?? [];
    list.push({ xt: Number(m[1]), offset: Number(m[2]) * SECTOR, size: Number(m[4]) });
    parts.set(path, list);
  }
  for (const [path, list] of parts) {
    const extents = list.sort((a, b) => a.xt - b.xt).map(({ offset, size }) => ({ offset, size }));
    files.set(path, { path, extents, size: extents.reduce((n, e) => n + e.size, 0) });
  }
  return files;
}

/** Every regular file of the ISO with its extents, as xorriso reads the directory tree. */
export async function listIsoFiles(iso: string): Promise<Map<string, IsoFile>> {
  const { stdout } = await run('xorriso', ['-indev', resolve(iso), '-find', '/', '-type', 'f', '-exec', 'report_lba', '--'], {
    what: `xorriso file list of ${iso}`,
  });
  return parseReportLba(stdout);
}

async function* extentChunks(iso: string, file: IsoFile): AsyncGenerator<Buffer> {
  for (const { offset, size } of file.extents) {
    if (size === 0) continue;
    for await (const chunk of createReadStream(iso, { start: offset, end: offset + size - 1, highWaterMark: 4 << 20 })) yield chunk as Buffer;
  }
}

export async function isoFileHash(iso: string, file: IsoFile, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of extentChunks(iso, file)) hash.update(chunk);
  return hash.digest('hex');
}

export async function readIsoFile(iso: string, file: IsoFile): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of extentChunks(iso, file)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A file from a squashfs stored (in one extent) inside the ISO, read by unsquashfs at its offset. */
export async function catFromSquashfsInIso(iso: string, squashfs: IsoFile, path: string): Promise<Buffer> {
  return runBinary('unsquashfs', ['-o', String(squashfs.extents[0]!.offset), '-cat', resolve(iso), path.replace(/^\/+/, '')], {
    what: `unsquashfs -cat ${path} from ${squashfs.path}`,
  });
}
