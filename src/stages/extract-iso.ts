/** Stage 2: the ISO tree on disk (xorriso, no loop mount) and the base's boot setup, recorded for the rebuild. */
import { mkdirSync } from 'node:fs';
import { extractIsoTree, listBootImages, reportBootSetup } from '../tools/xorriso.js';
import type { StageTask } from './task.js';

export const extractIsoStage: StageTask = {
  title: 'Extract ISO tree',
  task: async (ctx, task) => {
    const base = ctx.base!.path;
    mkdirSync(ctx.work.tree, { recursive: true });
    await extractIsoTree(base, ctx.work.tree, { log: ctx.log });
    ctx.bootSetup = await reportBootSetup(base, { log: ctx.log });
    ctx.basePlatforms = [...new Set((await listBootImages(base, { log: ctx.log })).map((b) => b.platform))].sort();
    task.title = `Extract ISO tree (boot: ${ctx.basePlatforms.join(' + ') || 'none'})`;
  },
};
