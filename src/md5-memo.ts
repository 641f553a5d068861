/** md5s of the cached base ISO tree's files, hashed once per cache entry and kept beside it (md5sum.txt reuses them). */
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hashFile } from './file-hash.js';
import { parseMd5Line } from './image/md5sum.js';
import { md5OfRange, md5sumFiles } from './tools/digest.js';
import type { BuildLog } from './build-log.js';
import type { LeftFile } from './left-in-base.js';

/**
 * The md5s of the cached base tree's files. The base's own md5sum.txt gives most of them (the base's sha256 was
 * verified, and these files are the base's bytes as extracted); the rest is hashed in the background: md5sum on the
 * other core while the stages mostly wait on tools. Never rejects: a file it misses is hashed later.
 */
export function baseTreeMd5s(baseTree: string, left?: { iso: string; files: readonly LeftFile[]; log?: BuildLog }): Promise<Md5Memo> {
  const memo = new Md5Memo(join(dirname(baseTree), 'md5.json'));
  return (async () => {
    try {
      const files = listFiles(baseTree);
      memo.seed(baseMd5sumTxt(baseTree), new Set([...files, ...(left?.files.map((f) => f.path) ?? [])]));
      const sums = await md5sumFiles(baseTree, files.filter((f) => !memo.has(f)));
      for (const [f, md5] of sums) memo.set(f, md5);
      // Files left in the base ISO that its md5sum.txt does not list: hashed where they lie in the ISO.
      for (const f of left?.files ?? []) {
        if (!memo.has(f.path) && f.offset !== undefined) memo.set(f.path, await md5OfRange(left!.iso, f.offset, f.size, { log: left!.log }));
      }
    } catch {
      /* the md5 stage hashes what is missing */
    }
    return memo;
  })();
}

/** The base's md5sum.txt lines by path (empty when it has none). */
function baseMd5sumTxt(baseTree: string): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = readFileSync(join(baseTree, 'md5sum.txt'), 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const parsed = parseMd5Line(line);
    if (parsed) out.set(parsed.path, parsed.md5);
  }
  return out;
}

/** md5 of the base tree's files by path, kept beside the cached tree (which no build writes into). */
export class Md5Memo {
  private readonly known: Map<string, string>;
  private dirty = false;

  constructor(private readonly file: string) {
    let entries: [string, string][] = [];
    try {
      entries = Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>);
    } catch {
      /* first build on this cache entry */
    }
    this.known = new Map(entries);
  }

  has(rel: string): boolean {
    return this.known.has(rel);
  }

  /** The md5 of `rel` if known (never hashes). */
  lookup(rel: string): string | undefined {
    return this.known.get(rel);
  }

  /** Takes the md5s of `sums` for the files of `present` it does not know yet (md5sum.txt may list absent files). */
  seed(sums: ReadonlyMap<string, string>, present: ReadonlySet<string>): void {
    for (const [rel, md5] of sums) if (present.has(rel) && !this.known.has(rel)) this.set(rel, md5);
  }

  set(rel: string, md5: string): void {
    this.known.set(rel, md5);
    this.dirty = true;
  }

  async md5(rel: string, path: string): Promise<string> {
    const hit = this.known.get(rel);
    if (hit) return hit;
    const md5 = await hashFile(path, 'md5');
    this.set(rel, md5);
    return md5;
  }

  save(): void {
    if (!this.dirty) return;
    writeFileSync(`${this.file}.tmp`, JSON.stringify(Object.fromEntries(this.known)));
    renameSync(`${this.file}.tmp`, this.file);
  }
}

/** Every regular file under `root`, relative to it. */
export function listFiles(root: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}
