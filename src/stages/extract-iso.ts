/**
 * Stage: reads the VerifiedBase; produces the IsoTree: the ISO tree on disk (xorriso, no loop mount) under an overlay at
 * work.tree, less what no stage reads (left-in-base.ts), and the base's boot setup recorded for the write. Both are
 * kept in the stage cache by the base's sha256: a rebuild mounts the cached tree read-only under an overlay whose upper
 * dir takes this build's edits.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { together } from '../lifecycle.js';
import { checkIsoTree } from '../safe-path.js';
import { baseTreeMd5s, type Md5Memo } from '../md5-memo.js';
import { mount, unmount } from '../tools/mount.js';
import { extractIsoTree, listBootImages, reportBootSetup } from '../tools/xorriso.js';
import { cachedIsoTree, storeIsoTree } from '../stage-cache.js';
import { LEFT_IN_BASE_DIRS, leavesInBase, listLeftInBase, type LeftInBase } from '../left-in-base.js';
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
  /** What the extraction left in the base ISO (pool/); absent when the whole tree is extracted. */
  leftInBase?: LeftInBase;
  /** md5s of the base tree's files, being computed in the background. */
  baseTreeMd5: Promise<Md5Memo>;
}

export async function extractIsoStage(ctx: BuildInputs, base: VerifiedBase, task: Reporter): Promise<IsoTree> {
  const partial = leavesInBase(ctx.profile);
  let entry = cachedIsoTree(ctx.work.root, base.sha256, partial);
  const reused = entry !== undefined;
  if (reused) await base.verified;
  // The entry is marked complete only after the base's sha256 matched (verify-base.ts hashes it meanwhile).
  entry ??= await storeIsoTree(ctx.work.root, base.sha256, partial, async (tree) => {
    const call = { log: ctx.log };
    await base.verified; // the in-process reader parses the base only once it is the one the profile pins
    const listed = partial ? await listLeftInBase(base.path) : undefined;
    const only = listed?.rootNames.filter((name) => !LEFT_IN_BASE_DIRS.includes(name));
    const [, bootSetup, images] = await together(extractIsoTree(base.path, tree, { ...call, ...(only ? { only } : {}) }), reportBootSetup(base.path, call), listBootImages(base.path, call));
    return { bootSetup, platforms: [...new Set(images.map((b) => b.platform))].sort(), ...(listed ? { leftInBase: listed.left } : {}) };
  });
  const left = entry.leftInBase;
  if (left && left.dirs.length > 0) {
    const bytes = left.files.reduce((sum, f) => sum + f.size, 0);
    ctx.log.line(`extract: ${LEFT_IN_BASE_DIRS.join(', ')} (${left.files.length} files, ${bytes} bytes) left in the base ISO: no stage reads them, the write copies them from the base`);
  } else {
    const why = !partial ? 'a pre-repack or post-build hook gets the ISO tree\'s path and may read any of it' : left ? `the base has no ${LEFT_IN_BASE_DIRS.join(', ')}` : 'the base has no Rock Ridge names';
    ctx.log.line(`extract: the whole tree (${why})`);
  }
  // Every later step (and every tool: mtools, xorriso, unsquashfs) may then use the tree's paths as they are.
  checkIsoTree(entry.tree, `the base ISO ${base.path}`);
  const baseTreeMd5 = baseTreeMd5s(entry.tree, left ? { iso: base.path, files: left.files, log: ctx.log } : undefined);
  for (const dir of [ctx.work.treeChanges, ctx.work.treeWork]) rmSync(dir, { recursive: true, force: true });
  for (const dir of [ctx.work.tree, ctx.work.treeChanges, ctx.work.treeWork]) mkdirSync(dir, { recursive: true });
  // volatile: the edits are read back by xorriso right away; an unmount need not sync them to disk first.
  const options = `lowerdir=${entry.tree},upperdir=${ctx.work.treeChanges},workdir=${ctx.work.treeWork},redirect_dir=off,metacopy=off,volatile`;
  await mount({ target: ctx.work.tree, args: ['-t', 'overlay', 'overlay', '-o', options], what: 'ISO tree' }, ctx.log);
  ctx.resources.push('ISO tree mount', () => unmount(ctx.work.tree, ctx.log));
  const boot = `boot: ${entry.platforms.join(' + ') || 'none'}`;
  task.title = reused ? `Reuse the extracted ISO tree from the stage cache (${boot})` : `Extract ISO tree (${boot})`;
  return { bootSetup: entry.bootSetup, platforms: entry.platforms, baseTree: entry.tree, ...(left ? { leftInBase: left } : {}), baseTreeMd5 };
}
