/** Stage: md5sum.txt in Ubuntu's format ("<md5>  ./path", sorted by path in C order), as casper's integrity check reads it. */
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hashFile } from '../file-hash.js';
import { bootCatalogPath } from '../tools/xorriso.js';
import { md5sumFiles } from '../tools/digest.js';
import type { StageTask } from './task.js';

export const md5sumStage: StageTask = {
  task: async (ctx, task) => {
    const excluded = md5Exclusions(ctx.bootSetup ?? []);
    // Files this build did not touch are the cached base tree's: their md5 is hashed once per cache entry, in the
    // background while the first tools run (baseTreeMd5s).
    const memo = ctx.baseTreeMd5 ? await ctx.baseTreeMd5 : undefined;
    let reused = 0;
    const untouched = (f: string): boolean => !existsSync(join(ctx.work.treeChanges, f)) && ++reused > 0;
    const lines = await md5Lines(ctx.work.tree, excluded, memo && { memo, untouched });
    memo?.save();
    writeFileSync(join(ctx.work.tree, 'md5sum.txt'), lines.join(''));
    task.title = `Regenerate md5sum.txt: ${lines.length} files${memo ? ` (${reused} unchanged since the base)` : ''}`;
  },
};

/**
 * Starts hashing every file of the cached base tree that is not hashed yet, in the background: md5sum on the other
 * core while the stages mostly wait on tools. Never rejects: a file it misses is hashed later.
 */
export function baseTreeMd5s(baseTree: string): Promise<Md5Memo> {
  const memo = new Md5Memo(join(dirname(baseTree), 'md5.json'));
  return (async () => {
    try {
      const sums = await md5sumFiles(baseTree, listFiles(baseTree).filter((f) => !memo.has(f)));
      for (const [f, md5] of sums) memo.set(f, md5);
    } catch {
      /* the md5 stage hashes what is missing */
    }
    return memo;
  })();
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

/**
 * Files the md5sum.txt must not list: itself, the boot catalog xorriso writes, and boot images xorriso
 * patches (-boot-info-table writes the image's own location into it).
 */
export function md5Exclusions(bootSetup: string[]): Set<string> {
  const out = new Set(['md5sum.txt']);
  const catalog = bootCatalogPath(bootSetup);
  if (catalog) out.add(normalize(catalog));
  const patches = bootSetup.includes('-boot-info-table') || bootSetup.includes('--grub2-boot-info');
  for (let i = 0; i < bootSetup.length; i++) {
    if (bootSetup[i] === '-b' && patches && bootSetup[i + 1]) out.add(normalize(bootSetup[i + 1]!));
  }
  return out;
}

function normalize(isoPath: string): string {
  return isoPath.replace(/^\/+/, '');
}

export async function md5Lines(tree: string, excluded: Set<string>, base?: { memo: Md5Memo; untouched: (rel: string) => boolean }): Promise<string[]> {
  const files = listFiles(tree).filter((f) => !excluded.has(f));
  files.sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  const lines: string[] = [];
  for (const f of files) {
    const md5 = base?.untouched(f) ? await base.memo.md5(f, join(tree, f)) : await hashFile(join(tree, f), 'md5');
    lines.push(`${md5}  ./${f}\n`);
  }
  return lines;
}

function listFiles(root: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}
