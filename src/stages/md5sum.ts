/**
 * Stage: reads the ISO tree, its overlay's changes and the base tree's md5s (IsoTree); writes md5sum.txt in Ubuntu's
 * format ("<md5>  ./path", sorted by path in C order), as casper's integrity check reads it, and produces Md5Sums
 * (which files were copied unchanged from the base).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hashFile } from '../file-hash.js';
import { ISO_TREE, writeFileBeneath } from '../safe-path.js';
import { listFiles, type Md5Memo } from '../md5-memo.js';
import { bootCatalogPath } from '../tools/xorriso.js';
import { IsoBuildError } from '../errors.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';
import type { IsoTree } from './extract-iso.js';

export interface Md5Sums {
  /**
   * The listed files this build did not touch, with their size: the rebuild copies them verbatim from the base tree,
   * and their md5 lines are the base's, so the verify stage checks their size instead of hashing them again.
   */
  copied: Map<string, number>;
}

export async function md5sumStage(ctx: BuildInputs, tree: IsoTree, task: Reporter): Promise<Md5Sums> {
  const excluded = md5Exclusions(tree.bootSetup);
  // Files this build did not touch are the cached base tree's: their md5 comes from the base's md5sum.txt, or is
  // hashed once per cache entry in the background while the first tools run (baseTreeMd5s).
  const memo = await tree.baseTreeMd5;
  const copied = new Map<string, number>();
  const untouched = (f: string): boolean => {
    if (existsSync(join(ctx.work.treeChanges, f))) return false;
    copied.set(f, statSync(join(ctx.work.tree, f)).size);
    return true;
  };
  // Files left in the base ISO (left-in-base.ts) are not in the tree: their lines come from the memo, seeded with the
  // base's md5sum.txt lines and hashed in the ISO for the rest. A file this build wrote there is in the tree.
  const left = new Map((tree.leftInBase?.files ?? []).map((f) => [f.path, f]));
  const leftMd5 = (f: string): string => {
    const md5 = memo.lookup(f);
    if (md5 === undefined) throw new IsoBuildError(`no md5 for ${f}, left in the base ISO: it lies in separate extents, which are not hashed in place`);
    copied.set(f, left.get(f)!.size);
    return md5;
  };
  const lines = await md5Lines(ctx.work.tree, excluded, { memo, untouched, left: new Set(left.keys()), leftMd5 });
  memo.save();
  writeFileBeneath(ctx.work.tree, 'md5sum.txt', lines.join(''), { what: ISO_TREE });
  ctx.log.line(`md5sum.txt: ${lines.length} files, ${copied.size} unchanged since the base (md5 from the base's md5sum.txt or hashed once per cached base tree), ${lines.length - copied.size} written by this build (hashed); the verify stage reads back only those`);
  task.title = `Regenerate md5sum.txt: ${lines.length} files (${copied.size} unchanged since the base)`;
  return { copied };
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

interface BaseMd5s {
  memo: Md5Memo;
  untouched: (rel: string) => boolean;
  /** Files the base ISO keeps that the tree lacks, and their md5 lines' source. */
  left: ReadonlySet<string>;
  leftMd5: (rel: string) => string;
}

async function md5Lines(tree: string, excluded: Set<string>, base?: BaseMd5s): Promise<string[]> {
  const inTree = new Set(listFiles(tree));
  const files = [...inTree, ...[...(base?.left ?? [])].filter((f) => !inTree.has(f))].filter((f) => !excluded.has(f));
  files.sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  const lines: string[] = [];
  for (const f of files) {
    const md5 = !inTree.has(f) ? base!.leftMd5(f) : base?.untouched(f) ? await base.memo.md5(f, join(tree, f)) : await hashFile(join(tree, f), 'md5');
    lines.push(`${md5}  ./${f}\n`);
  }
  return lines;
}

