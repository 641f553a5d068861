/** `iso-build build VERSION`: the remaster pipeline as one listr2 run, with every resource released on any exit. */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Listr, ListrLogger } from 'listr2';
import { BuildLog } from '../build-log.js';
import { workPaths, type BuildContext } from '../context.js';
import { ExitCode, IsoBuildError, usageError } from '../errors.js';
import { ResourceStack, interruptedBy } from '../lifecycle.js';
import { DEFAULT_PROFILE, loadProfile, renderOutputName } from '../profile/load.js';
import { unmountAllUnder, mountsUnder } from '../tools/mount.js';
import { run } from '../tools/process.js';
import { applyOverlayStage } from '../stages/apply-overlay.js';
import { chrootCommandsStage } from '../stages/chroot-commands.js';
import { detectLayoutStage } from '../stages/detect-layout.js';
import { extractIsoStage } from '../stages/extract-iso.js';
import { md5sumStage } from '../stages/md5sum.js';
import { productFilesStage } from '../stages/product-files.js';
import { publishStage } from '../stages/publish.js';
import { rebuildIsoStage } from '../stages/rebuild-iso.js';
import { repackRootfsStage } from '../stages/repack-rootfs.js';
import { unpackRootfsStage } from '../stages/unpack-rootfs.js';
import { verifyBaseStage } from '../stages/verify-base.js';
import { verifyIsoStage } from '../stages/verify-iso.js';
import type { StageTask } from '../stages/task.js';
import type { Profile } from '../profile/schema.js';

export interface BuildOptions {
  profile?: string;
  base?: string;
  baseSha256?: string;
  output?: string;
  work?: string;
  cache?: string;
  keepWork?: boolean;
  force?: boolean;
}

/** The pipeline, in order. Each stage reads the context and writes only into the work directory, except publish. */
export const STAGES: StageTask[] = [
  verifyBaseStage,
  extractIsoStage,
  detectLayoutStage,
  unpackRootfsStage,
  applyOverlayStage,
  chrootCommandsStage,
  productFilesStage,
  repackRootfsStage,
  md5sumStage,
  rebuildIsoStage,
  verifyIsoStage,
  publishStage,
];

const VERSION_PATTERN = /^(v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?|\d{8})$/;

export function validateVersion(version: string): string {
  if (!VERSION_PATTERN.test(version) || (/^\d{8}$/.test(version) && !isRealDate(version))) {
    throw usageError(
      `"${version}" is not a release version`,
      'use semver with a leading v (v1.0.0, v1.2.0-rc.1) or a date (20261122)',
    );
  }
  return version;
}

function isRealDate(yyyymmdd: string): boolean {
  const [y, m, d] = [yyyymmdd.slice(0, 4), yyyymmdd.slice(4, 6), yyyymmdd.slice(6)].map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

export async function buildCommand(version: string, opts: BuildOptions): Promise<number> {
  validateVersion(version);
  const profile = await loadProfile(opts.profile ?? DEFAULT_PROFILE, { basePath: opts.base, baseSha256: opts.baseSha256 });
  if (process.getuid?.() !== 0) {
    throw usageError('building needs root (chroot, mounts, file ownership in the rootfs)', 'run it with sudo, or as root in CI');
  }
  const ctx = await createContext(profile, version, opts);
  const started = Date.now();
  try {
    await new Listr<BuildContext, 'default', 'simple'>(STAGES, {
      ctx,
      exitOnError: true,
      registerSignalListeners: false, // ours release mounts first (lifecycle.ts)
      renderer: 'default',
      fallbackRenderer: 'simple',
      fallbackRendererCondition: !process.stdout.isTTY || Boolean(process.env.CI),
      // Progress goes to stdout; stderr carries only our one error line and its hint.
      rendererOptions: { collapseSubtasks: false, logger: new ListrLogger({ useIcons: true, toStderr: [] }) },
      fallbackRendererOptions: { logger: new ListrLogger({ useIcons: true, toStderr: [] }) },
    }).run();
  } catch (err) {
    await releaseAfterFailure(ctx);
    throw explainFailure(err, ctx);
  }
  await releaseAll(ctx);
  if (!opts.keepWork) for (const dir of ['tree', 'layer', 'merged', 'lowers', 'overlayWork', 'verify'] as const) rmSync(ctx.work[dir], { recursive: true, force: true });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`\n${ctx.outputIso}\n  sha256 ${ctx.isoSha256}\n  built in ${secs} s; log: ${ctx.log.path}\n`);
  return 0;
}

async function createContext(profile: Profile, version: string, opts: BuildOptions): Promise<BuildContext> {
  const outputDir = resolve(opts.output ?? join('release', version));
  const outputIso = join(outputDir, renderOutputName(profile, version));
  if (existsSync(outputIso) && !opts.force) {
    throw usageError(`${outputIso} already exists`, 'a published release is never overwritten silently: pass --force, or choose another --output');
  }
  const work = workPaths(opts.work ?? join('.iso-build', 'work', `${profile.name}-${version}`));
  if (work.root === '/' || outputDir.startsWith(`${work.root}/`)) {
    throw usageError(`the work directory ${work.root} must not be / or contain the output directory`);
  }
  // A killed earlier build may have left mounts here; never delete through them.
  await unmountAllUnder(work.root);
  rmSync(work.root, { recursive: true, force: true });
  mkdirSync(work.root, { recursive: true });
  if (opts.force) rmSync(outputIso, { force: true });
  mkdirSync(outputDir, { recursive: true });
  const log = new BuildLog(work.log);
  log.line(`iso-build ${version} profile ${profile.file}`);
  return {
    profile,
    version,
    epochSeconds: await sourceDateEpoch(profile),
    work,
    log,
    resources: new ResourceStack(),
    cacheDir: resolve(opts.cache ?? process.env.ISO_BUILD_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'), 'iso-build')),
    outputDir,
    outputIso,
    partialIso: `${outputIso}.partial`,
  };
}

/** SOURCE_DATE_EPOCH from the environment, else the profile, else the commit time of the profile's repository, else now. */
async function sourceDateEpoch(profile: Profile): Promise<number> {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined && env !== '') {
    if (!/^\d+$/.test(env)) throw usageError(`SOURCE_DATE_EPOCH="${env}" is not a number of seconds`);
    return Number(env);
  }
  if (profile.sourceDateEpoch !== undefined) return profile.sourceDateEpoch;
  try {
    const { stdout } = await run('git', ['-C', profile.dir, 'log', '-1', '--format=%ct'], { what: 'git log' });
    if (/^\d+$/.test(stdout.trim())) return Number(stdout.trim());
  } catch {
    /* not a git checkout */
  }
  return Math.floor(Date.now() / 1000);
}

async function releaseAll(ctx: BuildContext): Promise<void> {
  const failures = await ctx.resources.releaseAll();
  for (const f of failures) ctx.log.line(`warning: release failed: ${f}`);
  const left = mountsUnder(ctx.work.root);
  if (left.length) {
    await unmountAllUnder(ctx.work.root, ctx.log);
    ctx.log.line(`warning: unmounted leftovers ${left.join(', ')}`);
  }
}

/** Never throws: the error that failed the build is the one to report. */
async function releaseAfterFailure(ctx: BuildContext): Promise<void> {
  try {
    await releaseAll(ctx);
  } catch (err) {
    ctx.log.line(`warning: cleanup after failure: ${String(err)}`);
    process.stderr.write(`warning: cleanup after failure: ${err instanceof Error ? err.message : String(err)}\n`);
  } finally {
    rmSync(ctx.partialIso, { force: true });
    rmSync(ctx.work.verify, { recursive: true, force: true });
  }
}

function explainFailure(err: unknown, ctx: BuildContext): IsoBuildError {
  const signal = interruptedBy();
  if (signal) {
    const what = err instanceof IsoBuildError ? err.message : 'the build';
    return new IsoBuildError(`${signal}: build stopped (${what}); mounts released, nothing written to ${ctx.outputDir}`, {
      hint: `build log: ${ctx.log.path}`,
      exitCode: ExitCode.Interrupted,
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
