/**
 * Stage: the customized rootfs (after chroot commands and packages) moves into the stage cache for the next build in
 * this work directory, and this build goes on in an overlay above it (see stage-cache.ts).
 */
import { storeRootfs } from '../stage-cache.js';
import { mountChanges, releaseOverlay } from './unpack-rootfs.js';
import { removeLeftovers } from './repack-rootfs.js';
import type { StageTask } from './task.js';

export const saveRootfsCacheStage: StageTask = {
  skip: (ctx) => (ctx.rootfsFromCache ? 'reused from the stage cache' : false),
  task: async (ctx, task) => {
    // The squashfs images stay mounted: mountChanges puts a new overlay on the same images.
    await releaseOverlay(ctx);
    // What apt and dpkg left behind goes before the layer is kept (later leftovers: repack-rootfs.ts).
    removeLeftovers(ctx.work.layer);
    ctx.cachedLayer = await storeRootfs(ctx.work.root, ctx.rootfsCacheKey!, ctx.work.layer);
    await mountChanges(ctx);
    task.title = `Save the customized rootfs to the stage cache (${ctx.rootfsCacheKey!.slice(0, 12)})`;
  },
};
