/**
 * Stage: reads the verified *.partial ISO and what the build found out (BuiltIso); writes the release directory.
 * build-manifest.json, RELEASE-NOTES.md, SHA256SUMS and its signature are written first; the verified ISO gets its final
 * name last, so a failure leaves nothing of this build at the output path.
 */
import { renameSync, rmSync } from 'node:fs';
import { writeReleaseArtifacts } from '../release/artifacts.js';
import type { BuildInputs } from '../context.js';
import type { BuiltIso } from '../release/manifest.js';
import type { Reporter } from '../pipeline/reporter.js';

export async function publishStage(ctx: BuildInputs, built: BuiltIso, task: Reporter): Promise<void> {
  const written: string[] = [];
  let result: Awaited<ReturnType<typeof writeReleaseArtifacts>>;
  try {
    result = await writeReleaseArtifacts(ctx, built, task, written);
    renameSync(ctx.partialIso, ctx.outputIso);
  } catch (err) {
    for (const file of written) rmSync(file, { force: true });
    throw err;
  }
  const signed = result.signedBy ? `, SHA256SUMS signed by ${result.signedBy}` : ` (${result.warning ?? 'unsigned'})`;
  task.title = `Write release artifacts: ${ctx.outputIso}${signed}`;
}
