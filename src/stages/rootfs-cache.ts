/** Stage: keep a copy of the customized rootfs (after chroot commands and packages) for the next build in this work directory. */
import { canLinkCache, saveRootfs } from '../stage-cache.js';
import type { StageTask } from './task.js';

export const saveRootfsCacheStage: StageTask = {
  title: 'Save the customized rootfs to the stage cache',
  skip: (ctx) => (ctx.rootfsFromCache ? 'reused from the stage cache' : false),
  task: async (ctx, task) => {
    await saveRootfs(ctx.work.root, ctx.rootfsCacheKey!, ctx.work.layer, ctx.log, canLinkCache(ctx));
    task.title = `Save the customized rootfs to the stage cache (${ctx.rootfsCacheKey!.slice(0, 12)})`;
  },
};
