/** The BuildInputs of one build from the command's options: output and work paths checked and prepared, the log opened. */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BuildLog } from '../build-log.js';
import { workPaths, type BuildInputs } from '../context.js';
import { usageError } from '../errors.js';
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
  if (existsSync(outputIso) && !opts.force) {
    throw usageError(`${outputIso} already exists`, 'a published release is never overwritten silently: pass --force, or choose another --output');
  }
  const work = workPaths(opts.work ?? join('.iso-build', 'work', `${profile.name}-${version}`));
  await prepareWorkDir(work.root, outputDir);
  if (opts.force) rmSync(outputIso, { force: true });
  // The first directory mkdir creates (if any): a failed build removes it again when it is still empty.
  const createdOutputDir = mkdirSync(outputDir, { recursive: true });
  const log = new BuildLog(work.log);
  log.line(`iso-build ${version} profile ${profile.file}`);
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
    childEnv: opts.childEnv ?? {},
  };
}
