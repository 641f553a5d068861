/** `iso-build build VERSION`: checks the inputs before any work, then runs the pipeline (src/pipeline) once or twice. */
import { reportBuild } from '../build-result.js';
import { resolveCacheDir } from '../cache-dir.js';
import { usageError } from '../errors.js';
import { isoWriterChoice } from '../iso-writer.js';
import { DEFAULT_PROFILE, loadProfile } from '../profile/load.js';
import { checkSigningKey, signingKey } from '../release/signing-key.js';
import { checkPrograms } from '../tools/programs.js';
import { requiredPrograms } from '../pipeline/build-pipeline.js';
import { createInputs } from '../pipeline/inputs.js';
import type { BuildInputs } from '../context.js';
import { sourceDateEpoch } from '../pipeline/release-epoch.js';
import { runBuild } from '../pipeline/run.js';
import { validateVersion } from '../pipeline/version.js';

export interface BuildOptions {
  profile?: string;
  base?: string;
  baseSha256?: string;
  output?: string;
  work?: string;
  cache?: string;
  keepWork?: boolean;
  force?: boolean;
  /** Build twice in separate work directories and fail (naming the first differing file) unless the ISOs are identical. */
  checkReproducible?: boolean;
  /** Print the result as JSON (build-result.ts). */
  json?: boolean;
}

export async function buildCommand(version: string, opts: BuildOptions): Promise<number> {
  validateVersion(version);
  isoWriterChoice(); // a wrong ISO_BUILD_ISO_WRITER is a usage error before anything is made, not after the rootfs work
  const profile = await loadProfile(opts.profile ?? DEFAULT_PROFILE, { basePath: opts.base, baseSha256: opts.baseSha256 });
  // Bad templates fail before any work.
  if (profile.autoinstall !== undefined) (await import('../profile/autoinstall.js')).renderAutoinstall(profile, version);
  if (process.getuid?.() !== 0) {
    throw usageError('building needs root (chroot, mounts, file ownership in the rootfs)', 'run it with sudo, or as root in CI');
  }
  // What the build writes (and what chroot commands create) must not depend on the caller's umask.
  process.umask(0o022);
  checkPrograms(requiredPrograms(profile, { signing: signingKey({ profile }) !== undefined, keepWork: opts.keepWork, checkReproducible: opts.checkReproducible }));
  await checkSigningKey(profile);
  let started = Date.now();
  const inputOptions = { output: opts.output, work: opts.work, force: opts.force, cacheDir: resolveCacheDir(opts.cache), epochSeconds: await sourceDateEpoch(profile, version) };
  if (opts.checkReproducible) {
    const { checkReproducible } = await import('../pipeline/reproducible.js');
    const { ctx, isoSha256 } = await checkReproducible(profile, version, { ...inputOptions, keepWork: opts.keepWork });
    reportBuild({ ...finished(ctx, isoSha256, started), reproducible: true }, opts.json === true);
    return 0;
  }
  const ctx = await createInputs(profile, version, inputOptions);
  started = Date.now();
  const { isoSha256 } = await runBuild(ctx, { keepWork: opts.keepWork });
  reportBuild(finished(ctx, isoSha256, started), opts.json === true);
  return 0;
}

function finished(ctx: BuildInputs, isoSha256: string, started: number): Parameters<typeof reportBuild>[0] {
  return { version: ctx.version, profileFile: ctx.profile.file, outputIso: ctx.outputIso, outputDir: ctx.outputDir, isoSha256, logPath: ctx.log.path, seconds: (Date.now() - started) / 1000 };
}
