/**
 * Stage: reads the verified *.partial ISO and what the build found out (BuiltIso); writes the release directory.
 * build-manifest.json, RELEASE-NOTES.md, SHA256SUMS, its signature and report.html are written under staging names
 * (NAME.partial) first; then, in one synchronous run of renames (no signal handler can run in between: Node delivers
 * signals on the event loop), each takes its final name, stale ones of an earlier release go and the ISO comes last.
 * So an earlier release (--force) is replaced only by a complete, verified one, never deleted first; a failure or a
 * signal before that point leaves nothing of this build and the earlier release exactly as it was.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isNoSpace, writeReleaseArtifacts, type StagedFile } from '../release/artifacts.js';
import { IsoBuildError } from '../errors.js';
import { interruptedBy } from '../lifecycle.js';
import { RELEASE_ARTIFACTS } from '../product.js';
import { fsError } from '../fs-errors.js';
import type { BuildInputs } from '../context.js';
import type { BuiltIso } from '../release/manifest.js';
import type { Reporter } from '../pipeline/reporter.js';

export async function publishStage(ctx: BuildInputs, built: BuiltIso, task: Reporter): Promise<void> {
  const staged: StagedFile[] = [];
  let result: Awaited<ReturnType<typeof writeReleaseArtifacts>>;
  try {
    result = await writeReleaseArtifacts(ctx, built, task, staged);
    const signal = interruptedBy();
    if (signal) throw new IsoBuildError(`interrupted by ${signal} before the release was complete`);
    commitRelease(ctx, staged);
  } catch (err) {
    for (const file of staged) rmSync(file.partial, { force: true });
    if (isNoSpace(err)) throw fsError(err, `the output directory ${ctx.outputDir}`);
    throw err;
  }
  const signed = result.signedBy ? `, SHA256SUMS signed by ${result.signedBy}` : ` (${result.warning ?? 'unsigned'})`;
  task.title = `Write release artifacts: ${ctx.outputIso}${signed}`;
}

/** Synchronous on purpose (see the top): the release appears complete, or not at all. */
function commitRelease(ctx: BuildInputs, staged: readonly StagedFile[]): void {
  const present = staged.filter((f) => existsSync(f.partial));
  for (const f of present) renameSync(f.partial, f.final);
  // What this release does not have must not stay from the one it replaces (a signature of other sums, an old report).
  const finals = new Set(present.map((f) => f.final));
  for (const name of RELEASE_ARTIFACTS) {
    const path = join(ctx.outputDir, name);
    if (!finals.has(path)) rmSync(path, { force: true });
  }
  renameSync(ctx.partialIso, ctx.outputIso);
}
