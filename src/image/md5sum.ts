/** md5sum.txt of an ISO checked in place: every listed file is read from the image, nothing is extracted. */
import { createHash } from 'node:crypto';
import { contiguousRange, type IsoEntry, type IsoImage } from './iso9660.js';

export interface Md5Problem {
  kind: 'malformed' | 'missing' | 'mismatch';
  message: string;
}

export interface Md5Report {
  /** False when the ISO has no md5sum.txt. */
  present: boolean;
  listed: number;
  ok: number;
  problems: Md5Problem[];
}

/** Hashes a byte range of the ISO file in another process (so it runs on another core): md5 as lowercase hex. */
export type RangeMd5 = (offset: number, length: number) => Promise<string>;

/** One md5sum.txt line ("<md5>  ./path", or "<md5> *./path"), or undefined when it is not one. */
export function parseMd5Line(line: string): { md5: string; path: string } | undefined {
  const m = /^([0-9a-f]{32}) [ *]\.\/(.+)$/.exec(line);
  return m ? { md5: m[1]!, path: m[2]! } : undefined;
}

export interface Md5CheckOptions {
  onProgress?: (n: number, total: number) => void;
  /**
   * Files the writer copied verbatim from the verified base, by path, with their size there: checked for presence and
   * size instead of being read back (their md5 lines are the base's own; the whole image's sha256 covers the bytes).
   */
  copied?: ReadonlyMap<string, number>;
  /**
   * With `rangeMd5`, the largest files are hashed by it while the rest is hashed here; `otherCoreBytes` is the work
   * already given to the other core (in md5-equivalent bytes), so the two sides finish together.
   */
  offload?: { rangeMd5: RangeMd5; otherCoreBytes: number };
}

export async function checkIsoMd5sums(iso: IsoImage, opts: Md5CheckOptions = {}): Promise<Md5Report> {
  const file = await iso.lookup('/md5sum.txt');
  if (!file || file.isDir) return { present: false, listed: 0, ok: 0, problems: [] };
  const lines = (await iso.readAll(file, 64 << 20)).toString('utf8').split('\n').filter(Boolean);
  const report: Md5Report = { present: true, listed: lines.length, ok: 0, problems: [] };
  const listed: { path: string; md5: string; entry: IsoEntry }[] = [];
  for (const line of lines) {
    const parsed = parseMd5Line(line);
    if (!parsed) {
      report.problems.push({ kind: 'malformed', message: `md5sum.txt has a malformed line: ${line}` });
      continue;
    }
    const { md5, path } = parsed;
    const entry = await iso.lookup(`/${path}`);
    if (!entry || entry.isDir) {
      report.problems.push({ kind: 'missing', message: `md5sum.txt lists ./${path}, which is not in the ISO` });
      continue;
    }
    const baseSize = opts.copied?.get(path);
    if (baseSize === undefined) listed.push({ path, md5, entry });
    else if (entry.size === baseSize) report.ok++;
    else report.problems.push({ kind: 'mismatch', message: `./${path} was copied from the base ISO (${baseSize} bytes) but has ${entry.size} bytes in the new ISO` });
  }
  const check = (item: (typeof listed)[number], actual: string): void => {
    if (actual === item.md5) report.ok++;
    else report.problems.push({ kind: 'mismatch', message: `md5sum.txt mismatch for ./${item.path}: listed ${item.md5}, ISO has ${actual}` });
  };
  // Files stored as one range can be hashed by the other process, one after the other (one core's worth).
  const offload = opts.offload;
  const away = offload
    ? new Set(pickOffload(listed.map((l) => (contiguousRange(l.entry) ? l.entry.size : -1)), offload.otherCoreBytes))
    : new Set<number>();
  const remote = (async () => {
    for (const i of [...away].sort((a, b) => a - b)) {
      const range = contiguousRange(listed[i]!.entry)!;
      check(listed[i]!, await offload!.rangeMd5(range.offset, range.length));
    }
  })();
  remote.catch(() => undefined); // awaited below, after the local share
  let n = 0;
  for (const [i, item] of listed.entries()) {
    opts.onProgress?.(++n, listed.length);
    if (away.has(i)) continue;
    const hash = createHash('md5');
    for await (const chunk of iso.read(item.entry)) hash.update(chunk);
    check(item, hash.digest('hex'));
  }
  await remote;
  return report;
}

/**
 * Which files (by index; a negative size cannot be offloaded) the other core hashes: the largest first, each only
 * when moving it shortens the longer of the two sides (the other one starts with `otherCoreBytes`).
 */
export function pickOffload(sizes: number[], otherCoreBytes: number): number[] {
  let here = sizes.reduce((sum, s) => sum + Math.max(s, 0), 0);
  let there = otherCoreBytes;
  const picked: number[] = [];
  for (const i of sizes.map((_, i) => i).sort((a, b) => sizes[b]! - sizes[a]!)) {
    const size = sizes[i]!;
    if (size <= 0) break;
    if (Math.max(there + size, here - size) >= Math.max(there, here)) continue;
    picked.push(i);
    there += size;
    here -= size;
  }
  return picked;
}
