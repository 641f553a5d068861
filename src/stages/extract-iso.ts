/**
 * Stage: reads the VerifiedBase; produces the IsoTree: the ISO tree on disk (xorriso, no loop mount) under an overlay at
 * work.tree, and the base's boot setup recorded for the rebuild. Both are kept in the stage cache by the base's sha256:
 * a rebuild mounts the cached tree read-only under an overlay whose upper dir takes this build's edits.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { together } from '../lifecycle.js';
import { checkIsoTree } from '../safe-path.js';
import { baseTreeMd5s, type Md5Memo } from '../md5-memo.js';
import { mount, unmount } from '../tools/mount.js';
import { extractIsoTree, listBootImages, reportBootSetup } from '../tools/xorriso.js';
import { cachedIsoTree, storeIsoTree } from '../stage-cache.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';
import type { VerifiedBase } from './verify-base.js';

export interface IsoTree {
  /** From xorriso -report_el_torito as_mkisofs of the base ISO. */
  bootSetup: string[];
  /** The base's El Torito platforms, sorted. */
  platforms: string[];
  /** The extracted base tree (stage cache, read-only): the overlay's lower dir. */
  baseTree: string;
  /** md5s of the base tree's files, being computed in the background. */
  baseTreeMd5: Promise<Md5Memo>;
}

export async function extractIsoStage(ctx: BuildInputs, base: VerifiedBase, task: Reporter): Promise<IsoTree> {
  let entry = cachedIsoTree(ctx.work.root, base.sha256);
  const reused = entry !== undefined;
  if (reused) await base.verified;
  // The entry is marked complete only after the base's sha256 matched (verify-base.ts hashes it meanwhile).
  entry ??= await storeIsoTree(ctx.work.root, base.sha256, async (tree) => {
    const call = { log: ctx.log };
    const [, bootSetup, images] = await together(extractIsoTree(base.path, tree, call), reportBootSetup(base.path, call), listBootImages(base.path, call), base.verified);
    return { bootSetup, platforms: [...new Set(images.map((b) => b.platform))].sort() };
  });
  // Every later step (and every tool: mtools, xorriso, unsquashfs) may then use the tree's paths as they are.
  checkIsoTree(entry.tree, `the base ISO ${base.path}`);
  const baseTreeMd5 = baseTreeMd5s(entry.tree);
  for (const dir of [ctx.work.treeChanges, ctx.work.treeWork]) rmSync(dir, { recursive: true, force: true });
  for (const dir of [ctx.work.tree, ctx.work.treeChanges, ctx.work.treeWork]) mkdirSync(dir, { recursive: true });
  // volatile: the edits are read back by xorriso right away; an unmount need not sync them to disk first.
  const options = `lowerdir=${entry.tree},upperdir=${ctx.work.treeChanges},workdir=${ctx.work.treeWork},redirect_dir=off,metacopy=off,volatile`;
  await mount({ target: ctx.work.tree, args: ['-t', 'overlay', 'overlay', '-o', options], what: 'ISO tree' }, ctx.log);
  ctx.resources.push('ISO tree mount', () => unmount(ctx.work.tree, ctx.log));
  const boot = `boot: ${entry.platforms.join(' + ') || 'none'}`;
  task.title = reused ? `Reuse the extracted ISO tree from the stage cache (${boot})` : `Extract ISO tree (${boot})`;
  return { bootSetup: entry.bootSetup, platforms: entry.platforms, baseTree: entry.tree, baseTreeMd5 };
}
