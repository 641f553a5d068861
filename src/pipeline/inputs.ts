/** The BuildInputs of one build from the command's options: output and work paths checked and prepared, the log opened. */
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { BuildLog } from '../build-log.js';
import { workPaths, type BuildInputs } from '../context.js';
import { usageError } from '../errors.js';
import { mkdirNamed } from '../fs-errors.js';
import { OUTPUT_LOCK, removeKilledBuildLeftovers, stagedName } from '../release/staging.js';
import { buildCommandLine, describeOwner, holdLock } from '../owner-lock.js';
import { ResourceStack } from '../lifecycle.js';
import { renderOutputName } from '../profile/load.js';
import { prepareWorkDir } from '../work-dir.js';
import type { Profile } from '../profile/schema.js';

export interface InputOptions {
  /** The release directory (default release/VERSION). */
  output?: string;
  /** The work directory (default .iso-build/work/NAME-VERSION). */
  work?: string;
  /** The download cache, resolved (cache-dir.ts). */
  cacheDir: string;
  force?: boolean;
  epochSeconds: number;
  /** Added to the environment of the profile's host hooks. */
  childEnv?: Record<string, string>;
}

export async function createInputs(profile: Profile, version: string, opts: InputOptions): Promise<BuildInputs> {
  const outputDir = resolve(opts.output ?? join('release', version));
  const outputIso = join(outputDir, renderOutputName(profile, version));
  checkOutputName(outputIso);
  const outputStat = statIfExists(outputDir);
  if (outputStat && !outputStat.isDirectory()) {
    throw usageError(`the output directory ${outputDir} is not a directory`, 'pass --output with a directory (new, or an earlier release of this profile)');
  }
  if (existsSync(outputIso) && !opts.force) {
    throw usageError(`${outputIso} already exists`, 'a published release is never overwritten silently: pass --force, or choose another --output');
  }
  const work = workPaths(opts.work ?? join('.iso-build', 'work', `${profile.name}-${version}`));
  await prepareWorkDir(work.root, outputDir);
  // --force: the earlier ISO stays until the new one is verified and renamed over it (stages/publish.ts).
  // The first directory mkdir creates (if any): a failed build removes it again when it is still empty.
  const createdOutputDir = mkdirNamed(outputDir, `the output directory ${outputDir}`);
  const outputLock = holdLock(join(outputDir, OUTPUT_LOCK), buildCommandLine(), (owner) =>
    usageError(`the output directory ${outputDir} is in use by another build: ${describeOwner(owner)}`, 'wait for that build to finish, or pass another --output'),
  );
  const log = new BuildLog(work.log);
  log.line(`iso-build ${version} profile ${profile.file}`);
  // Under the lock: a *.partial here is a killed build's, never one a running build writes.
  for (const name of removeKilledBuildLeftovers(outputDir)) log.line(`output: removed ${name}, left by a build that was killed`);
  return {
    profile,
    version,
    epochSeconds: opts.epochSeconds,
    work,
    log,
    resources: new ResourceStack(),
    cacheDir: opts.cacheDir,
    outputDir,
    outputIso,
    partialIso: `${outputIso}.partial`,
    createdOutputDir,
    outputLock,
    childEnv: opts.childEnv ?? {},
  };
}

/** Longest file name most Linux file systems take (NAME_MAX), in bytes. */
const NAME_MAX = 255;

/** The ISO's name and its staging name must fit a directory entry: a too long one is a profile error, found before any work. */
function checkOutputName(outputIso: string): void {
  const name = basename(outputIso);
  const room = NAME_MAX - (Buffer.byteLength(basename(stagedName(outputIso))) - Buffer.byteLength(name));
  if (Buffer.byteLength(name) > room) {
    throw usageError(
      `the output file name ${name.slice(0, 40)}... is ${Buffer.byteLength(name)} bytes long; it may have at most ${room} (NAME_MAX ${NAME_MAX} with ".partial" while it is written)`,
      'shorten the profile\'s output name (output.name, or the name/version it is made of)',
    );
  }
}

function statIfExists(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}
