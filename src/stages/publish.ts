/** Stage: give the verified ISO its final name and write SHA256SUMS next to it. */
import { renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sha256File } from './verify-base.js';
import { progressReporter, type StageTask } from './task.js';

export const publishStage: StageTask = {
  title: 'Write release artifacts',
  task: async (ctx, task) => {
    ctx.isoSha256 = await sha256File(ctx.partialIso, progressReporter(task, 'sha256'));
    renameSync(ctx.partialIso, ctx.outputIso);
    writeFileSync(join(ctx.outputDir, 'SHA256SUMS'), `${ctx.isoSha256}  ${basename(ctx.outputIso)}\n`);
    task.title = `Write release artifacts: ${ctx.outputIso}`;
  },
};
