/**
 * `--check-reproducible`: the release build, then a second one with the same SOURCE_DATE_EPOCH in another work directory
 * (another path depth) with another TZ for the profile's host hooks, passed in its inputs (the process's environment is
 * not touched). Identical ISOs: the first build is the release. Different: nothing is published, both ISOs are kept for
 * inspection and the error names the first differing file (inside the squashfs if that is where).
 */
import { existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ExitCode, IsoBuildError } from '../errors.js';
import { RELEASE_ARTIFACTS } from '../product.js';
import { EARLIER_RELEASE_DIR } from '../release/staging.js';
import { prepareWorkDir } from '../work-dir.js';
import { createInputs, type InputOptions } from './inputs.js';
import { releaseAfterFailure, runBuild } from './run.js';
import type { BuildInputs } from '../context.js';
import type { Profile } from '../profile/schema.js';

/** A time zone far from the usual ones (UTC+14): a build that leaks local time into the ISO differs. */
const SECOND_BUILD_TZ = 'Pacific/Kiritimati';

export async function checkReproducible(profile: Profile, version: string, opts: InputOptions & { keepWork?: boolean }): Promise<{ ctx: BuildInputs; isoSha256: string }> {
  const first = await createInputs(profile, version, opts);
  const scratch = `${first.work.root}.repro`;
  // Cleared only when absent, empty or made by iso-build (its marker), like --work itself: never a user's directory.
  try {
    await prepareWorkDir(scratch, first.outputDir);
  } catch (err) {
    await releaseAfterFailure(first); // the output directory it made goes again
    throw err;
  }
  // --force: the first build replaces the earlier release before the check; a failed check puts it back
  const earlier = keepEarlierRelease(first);
  let firstBuild: Awaited<ReturnType<typeof runBuild>>;
  try {
    firstBuild = await runBuild(first, opts);
  } catch (err) {
    earlier?.discard(); // the earlier release was never replaced
    throw err;
  }
  let secondSha256: string;
  let second: BuildInputs;
  try {
    second = await createInputs(profile, version, {
      ...opts,
      work: join(scratch, 'second', 'work'),
      output: join(scratch, 'second', 'release'),
      force: true,
      childEnv: { ...opts.childEnv, TZ: SECOND_BUILD_TZ },
    });
    secondSha256 = (await runBuild(second, { keepWork: false })).isoSha256;
  } catch (err) {
    unpublish(first); // the check did not pass: the first build is not a release
    earlier?.restore();
    throw err;
  }
  if (secondSha256 === firstBuild.isoSha256) {
    earlier?.discard();
    rmSync(scratch, { recursive: true, force: true });
    return { ctx: first, isoSha256: firstBuild.isoSha256 };
  }
  const keptFirst = join(scratch, `first-${basename(first.outputIso)}`);
  renameSync(first.outputIso, keptFirst);
  unpublish(first);
  earlier?.restore();
  const { firstDifference } = await import('../release/compare.js');
  const difference = await firstDifference(keptFirst, second.outputIso, join(scratch, 'compare'), first.log);
  throw new IsoBuildError(`not reproducible: two builds of ${version} differ (sha256 ${firstBuild.isoSha256.slice(0, 12)}… vs ${secondSha256.slice(0, 12)}…): ${difference}`, {
    hint: `nothing was published; both ISOs are kept: ${keptFirst} and ${second.outputIso}`,
    exitCode: ExitCode.Verification,
  });
}

/** Remove what a build published to its release directory (the ISO and the release artifacts). */
function unpublish(ctx: BuildInputs): void {
  rmSync(ctx.outputIso, { force: true });
  const artifacts: readonly string[] = RELEASE_ARTIFACTS;
  for (const name of readdirSync(ctx.outputDir)) if (artifacts.includes(name)) rmSync(join(ctx.outputDir, name), { force: true });
}

/**
 * Hard links of an earlier release's files (same directory, so same file system), to put back if the check fails and
 * drop if it passes; undefined when there is no earlier release (or the file system has no hard links).
 */
function keepEarlierRelease(ctx: BuildInputs): { restore: () => void; discard: () => void } | undefined {
  if (!existsSync(ctx.outputIso)) return undefined;
  const keep = join(ctx.outputDir, EARLIER_RELEASE_DIR);
  const names = [basename(ctx.outputIso), ...RELEASE_ARTIFACTS].filter((n) => existsSync(join(ctx.outputDir, n)));
  const discard = (): void => rmSync(keep, { recursive: true, force: true });
  try {
    discard();
    mkdirSync(keep);
    for (const n of names) linkSync(join(ctx.outputDir, n), join(keep, n));
  } catch (err) {
    discard();
    ctx.log.line(`warning: the earlier release in ${ctx.outputDir} could not be kept aside for the check: ${String(err)}`);
    return undefined;
  }
  return {
    restore: () => {
      for (const n of names) renameSync(join(keep, n), join(ctx.outputDir, n));
      discard();
    },
    discard,
  };
}
