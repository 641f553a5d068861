/**
 * One build run: the pipeline's steps over the inputs, then every resource released and the scratch directories
 * removed (or the ISO tree kept with --keep-work). A failure releases everything and is explained with the build log.
 */
import { renameSync, rmdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { SCRATCH_DIRS, type BuildInputs } from '../context.js';
import { IsoBuildError, signalExitCode } from '../errors.js';
import { interruptedBy } from '../lifecycle.js';
import { copyTreeReflink } from '../tools/cp.js';
import { mountsUnder, unmountAllUnder } from '../tools/mount.js';
import { buildPipeline, prefetchStages } from './build-pipeline.js';
import { runSteps } from './steps.js';
import { pipelineLine } from './timing-log.js';

export interface BuildOutcome {
  isoSha256: string;
}

/** Builds from `ctx`; on failure releases everything and throws the explained error. */
export async function runBuild(ctx: BuildInputs, opts: { keepWork?: boolean }): Promise<BuildOutcome> {
  ctx.log.line(pipelineLine('starts'));
  prefetchStages(ctx);
  const pipeline = buildPipeline(ctx);
  try {
    await runSteps(pipeline.steps, ctx.log);
  } catch (err) {
    await releaseAfterFailure(ctx);
    throw explainFailure(err, ctx, pipeline.published());
  }
  // --keep-work: the ISO tree is an overlay view that goes with its mount; a real copy of it takes its place.
  const keptTree = `${ctx.work.tree}.kept`;
  if (opts.keepWork) {
    rmSync(keptTree, { recursive: true, force: true });
    await copyTreeReflink(ctx.work.tree, keptTree, { log: ctx.log, what: 'copy of the ISO tree for --keep-work' });
  }
  await releaseAll(ctx);
  if (opts.keepWork) {
    rmSync(ctx.work.tree, { recursive: true, force: true });
    renameSync(keptTree, ctx.work.tree);
  } else {
    for (const dir of SCRATCH_DIRS) rmSync(ctx.work[dir], { recursive: true, force: true });
  }
  ctx.log.line(pipelineLine('done'));
  return { isoSha256: pipeline.isoSha256() };
}

async function releaseAll(ctx: BuildInputs): Promise<void> {
  const failures = await ctx.resources.releaseAll();
  for (const f of failures) ctx.log.line(`warning: release failed: ${f}`);
  const left = mountsUnder(ctx.work.root);
  if (left.length) {
    await unmountAllUnder(ctx.work.root, ctx.log);
    ctx.log.line(`warning: unmounted leftovers ${left.join(', ')}`);
  }
}

/** Never throws: the error that failed the build is the one to report. */
export async function releaseAfterFailure(ctx: BuildInputs): Promise<void> {
  try {
    await releaseAll(ctx);
  } catch (err) {
    ctx.log.line(`warning: cleanup after failure: ${String(err)}`);
    process.stderr.write(`warning: cleanup after failure: ${err instanceof Error ? err.message : String(err)}\n`);
  } finally {
    for (const path of [ctx.partialIso, ctx.work.verify]) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch (err) {
        ctx.log.line(`warning: cleanup after failure: ${String(err)}`);
      }
    }
    ctx.outputLock.release(); // its file would keep the directory from being empty
    removeEmptyDirs(ctx.outputDir, ctx.createdOutputDir);
  }
}

/** Removes `dir` and its parents up to `top` (the first one this build created), as long as they are empty. */
function removeEmptyDirs(dir: string, top: string | undefined): void {
  if (top === undefined) return;
  for (let d = dir; d.startsWith(top); d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty: files of an earlier release stay
    }
    if (d === top) return;
  }
}

function explainFailure(err: unknown, ctx: BuildInputs, published: boolean): IsoBuildError {
  const signal = interruptedBy();
  if (signal) {
    const what = err instanceof IsoBuildError ? err.message : 'the build';
    // After the release's renames (stages/publish.ts) it is complete: say so, do not claim nothing was written.
    const outcome = published ? `the release in ${ctx.outputDir} is complete` : `nothing written to ${ctx.outputDir}`;
    return new IsoBuildError(`${signal}: build stopped (${what}); mounts released, ${outcome}`, {
      hint: `build log: ${ctx.log.path}`,
      exitCode: signalExitCode(signal),
    });
  }
  if (err instanceof IsoBuildError) {
    const mentionsLog = err.hint?.includes(ctx.log.path) ?? false;
    return new IsoBuildError(err.message, {
      hint: mentionsLog ? err.hint : [err.hint, `build log: ${ctx.log.path}`].filter(Boolean).join('; '),
      exitCode: err.exitCode,
    });
  }
  return new IsoBuildError(`internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`, {
    hint: `this is a bug in iso-build; build log: ${ctx.log.path}`,
  });
}
