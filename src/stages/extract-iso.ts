/**
 * Stage 2: the ISO tree on disk (xorriso, no loop mount) and the base's boot setup, recorded for the rebuild. Both are
 * kept in the stage cache by the base's sha256: a rebuild mounts the cached tree read-only under an overlay whose
 * upper dir takes this build's edits, instead of extracting the base again.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { together } from '../lifecycle.js';
import { mount, unmount } from '../tools/mount.js';
import { extractIsoTree, listBootImages, reportBootSetup } from '../tools/xorriso.js';
import { cachedIsoTree, storeIsoTree } from '../stage-cache.js';
import { baseTreeMd5s } from './md5sum.js';
import type { StageTask } from './task.js';

export const extractIsoStage: StageTask = {
  task: async (ctx, task) => {
    const base = ctx.base!.path;
    const verified = ctx.baseVerified ?? Promise.resolve();
    let entry = cachedIsoTree(ctx.work.root, ctx.base!.sha256);
    const reused = entry !== undefined;
    if (reused) await verified;
    // The entry is marked complete only after the base's sha256 matched (verify-base.ts hashes it meanwhile).
    entry ??= await storeIsoTree(ctx.work.root, ctx.base!.sha256, async (tree) => {
      const call = { log: ctx.log };
      const [, bootSetup, images] = await together(extractIsoTree(base, tree, call), reportBootSetup(base, call), listBootImages(base, call), verified);
      return { bootSetup, platforms: [...new Set(images.map((b) => b.platform))].sort() };
    });
    ctx.baseTreeMd5 = baseTreeMd5s(entry.tree);
    ctx.bootSetup = entry.bootSetup;
    ctx.basePlatforms = entry.platforms;
    for (const dir of [ctx.work.treeChanges, ctx.work.treeWork]) rmSync(dir, { recursive: true, force: true });
    for (const dir of [ctx.work.tree, ctx.work.treeChanges, ctx.work.treeWork]) mkdirSync(dir, { recursive: true });
    // volatile: the edits are read back by xorriso right away; an unmount need not sync them to disk first.
    const options = `lowerdir=${entry.tree},upperdir=${ctx.work.treeChanges},workdir=${ctx.work.treeWork},redirect_dir=off,metacopy=off,volatile`;
    await mount({ target: ctx.work.tree, args: ['-t', 'overlay', 'overlay', '-o', options], what: 'ISO tree' }, ctx.log);
    ctx.resources.push('ISO tree mount', () => unmount(ctx.work.tree, ctx.log));
    const boot = `boot: ${ctx.basePlatforms.join(' + ') || 'none'}`;
    task.title = reused ? `Reuse the extracted ISO tree from the stage cache (${boot})` : `Extract ISO tree (${boot})`;
  },
};
