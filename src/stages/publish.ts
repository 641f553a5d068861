/**
 * Stage: the release directory. build-manifest.json, RELEASE-NOTES.md, SHA256SUMS and its signature are written
 * first; the verified ISO gets its final name last, so a failure leaves nothing of this build at the output path.
 */
import { renameSync, rmSync } from 'node:fs';
import { writeReleaseArtifacts } from './release-artifacts.js';
import type { StageTask } from './task.js';

export const publishStage: StageTask = {
  task: async (ctx, task) => {
    if (!ctx.isoSha256) throw new Error('publish: the ISO has no sha256 (the verify stage takes it)');
    const written: string[] = [];
    let result: Awaited<ReturnType<typeof writeReleaseArtifacts>>;
    try {
      result = await writeReleaseArtifacts(ctx, task, written);
      renameSync(ctx.partialIso, ctx.outputIso);
    } catch (err) {
      for (const file of written) rmSync(file, { force: true });
      throw err;
    }
    const signed = result.signedBy ? `, SHA256SUMS signed by ${result.signedBy}` : ` (${result.warning ?? 'unsigned'})`;
    task.title = `Write release artifacts: ${ctx.outputIso}${signed}`;
  },
};
