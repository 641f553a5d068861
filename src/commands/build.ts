/** `iso-build build VERSION`: the remaster pipeline as one listr2 run, with every resource released on any exit. */
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Listr, ListrLogger } from 'listr2';
import { BuildLog } from '../build-log.js';
import { workPaths, type BuildContext } from '../context.js';
import { ExitCode, IsoBuildError, usageError } from '../errors.js';
import { ResourceStack, interruptedBy } from '../lifecycle.js';
import { DEFAULT_PROFILE, loadProfile, renderOutputName } from '../profile/load.js';
import { unmountAllUnder, mountsUnder } from '../tools/mount.js';
import { run } from '../tools/process.js';
import { checkSigningKey } from '../release/signing-key.js';
import { stageCacheDir } from '../stage-cache.js';
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
  /** Build twice in separate work directories and fail (naming the first differing file) unless the ISOs are identical. */
  checkReproducible?: boolean;
}

/**
 * A stage whose module is loaded only when the pipeline gets to it, or earlier by prefetchStages(): start-up pays
 * only for the profile and the process runner, and the rest loads while the first tools run.
 */
function lazyStage(title: string, load: () => Promise<StageTask>): StageTask & { load: () => Promise<StageTask> } {
  let loaded: Promise<StageTask> | undefined;
  const get = (): Promise<StageTask> => (loaded ??= load());
  return {
    title,
    load: get,
    skip: async (ctx) => {
      const stage = await get();
      return typeof stage.skip === 'function' ? stage.skip(ctx) : (stage.skip ?? false);
    },
    task: async (ctx, task) => (await get()).task(ctx, task),
  };
}

const stage = <K extends string>(title: string, load: () => Promise<Record<K, StageTask>>, name: K): ReturnType<typeof lazyStage> =>
  lazyStage(title, async () => (await load())[name]);
const hook = (point: 'pre-customize' | 'post-customize' | 'pre-repack' | 'post-build'): ReturnType<typeof lazyStage> =>
  lazyStage(`Run ${point} hooks`, async () => (await import('../stages/hooks.js')).hookStage(point));

/** The pipeline, in order. Each stage reads the context and writes only into the work directory, except publish. */
export const STAGES = [
  stage('Verify base ISO', () => import('../stages/verify-base.js'), 'verifyBaseStage'),
  stage('Extract ISO tree', () => import('../stages/extract-iso.js'), 'extractIsoStage'),
  stage('Detect rootfs layout', () => import('../stages/detect-layout.js'), 'detectLayoutStage'),
  stage('Unpack rootfs', () => import('../stages/unpack-rootfs.js'), 'unpackRootfsStage'), // or the stage cache's, skipping up to the save
  ...[
    hook('pre-customize'),
    stage('Run chroot commands', () => import('../stages/chroot-commands.js'), 'chrootCommandsStage'),
    stage('Build the offline package payload', () => import('../stages/packages.js'), 'packagesStage'),
  ].map(skippedWhenCached),
  stage('Verify the package payload', () => import('../stages/packages.js'), 'packagesVerifyStage'),
  stage('Save the customized rootfs to the stage cache', () => import('../stages/rootfs-cache.js'), 'saveRootfsCacheStage'),
  // After the cache point: changing an overlay file or the version does not run apt or the chroot commands again.
  stage('Apply overlay files', () => import('../stages/apply-overlay.js'), 'applyOverlayStage'),
  hook('post-customize'),
  stage('Write VERSION, build-info.json and .disk/info', () => import('../stages/product-files.js'), 'productFilesStage'),
  stage('Write the first-boot bring-up', () => import('../stages/bringup.js'), 'bringupStage'),
  stage('Write autoinstall (nocloud user-data, meta-data)', () => import('../stages/autoinstall.js'), 'autoinstallStage'),
  stage('Edit the boot menu', () => import('../stages/boot-menu.js'), 'bootMenuStage'),
  hook('pre-repack'),
  stage('Repack rootfs squashfs', () => import('../stages/repack-rootfs.js'), 'repackRootfsStage'),
  stage('Regenerate md5sum.txt', () => import('../stages/md5sum.js'), 'md5sumStage'),
  stage('Rebuild ISO (replaying the base boot setup)', () => import('../stages/rebuild-iso.js'), 'rebuildIsoStage'),
  stage('Verify the new ISO', () => import('../stages/verify-iso.js'), 'verifyIsoStage'),
  stage('Write release artifacts', () => import('../stages/publish.js'), 'publishStage'),
  hook('post-build'),
];

/** Load every stage module in pipeline order, in the background (their evaluation fills the waits on tools). */
function prefetchStages(): void {
  void STAGES.reduce<Promise<unknown>>((prev, s) => prev.then(() => s.load()), Promise.resolve()).catch(() => undefined);
}

/** Each stage's wall time goes to the build log: where a slow build spends its time, without a profiler. */
function timed(stage: StageTask): StageTask {
  const task = stage.task;
  return {
    ...stage,
    task: async (ctx, wrapper) => {
      const t0 = performance.now();
      try {
        return await task(ctx, wrapper);
      } finally {
        ctx.log.line(`stage "${String(stage.title)}" took ${((performance.now() - t0) / 1000).toFixed(3)} s`);
      }
    },
  };
}

function skippedWhenCached(s: ReturnType<typeof lazyStage>): ReturnType<typeof lazyStage> {
  return {
    ...s,
    skip: async (ctx) => (ctx.rootfsFromCache ? 'reused from the stage cache' : typeof s.skip === 'function' ? s.skip(ctx) : (s.skip ?? false)),
  };
}

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
  // Bad templates fail before any work.
  if (profile.autoinstall !== undefined) (await import('../profile/autoinstall.js')).renderAutoinstall(profile, version);
  if (process.getuid?.() !== 0) {
    throw usageError('building needs root (chroot, mounts, file ownership in the rootfs)', 'run it with sudo, or as root in CI');
  }
  // What the build writes (and what chroot commands create) must not depend on the caller's umask.
  process.umask(0o022);
  await checkSigningKey(profile);
  if (opts.checkReproducible) return checkReproducible(profile, version, opts);
  const ctx = await createContext(profile, version, opts);
  const started = Date.now();
  await runPipeline(ctx, opts);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`\n${ctx.outputIso}\n  sha256 ${ctx.isoSha256}\n  built in ${secs} s; log: ${ctx.log.path}\n`);
  return 0;
}

/** Builds into ctx; on failure releases everything and throws the explained error. */
async function runPipeline(ctx: BuildContext, opts: BuildOptions): Promise<void> {
  ctx.log.line(`pipeline starts ${(performance.now() / 1000).toFixed(3)} s after the process started`);
  prefetchStages();
  try {
    await new Listr<BuildContext, 'default', 'simple'>(STAGES.map(timed), {
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
  // --keep-work: the ISO tree is an overlay view that goes with its mount; a real copy of it takes its place.
  const keptTree = `${ctx.work.tree}.kept`;
  if (opts.keepWork) {
    rmSync(keptTree, { recursive: true, force: true });
    await run('cp', ['-a', '--reflink=auto', ctx.work.tree, keptTree], { log: ctx.log, what: 'copy of the ISO tree for --keep-work' });
  }
  await releaseAll(ctx);
  if (opts.keepWork) {
    rmSync(ctx.work.tree, { recursive: true, force: true });
    renameSync(keptTree, ctx.work.tree);
  } else {
    for (const dir of ['tree', 'treeChanges', 'treeWork', 'layer', 'changes', 'merged', 'lowers', 'overlayWork', 'verify'] as const) rmSync(ctx.work[dir], { recursive: true, force: true });
  }
  ctx.log.line(`pipeline done ${(performance.now() / 1000).toFixed(3)} s after the process started`);
}

/**
 * `--check-reproducible`: the release build, then a second one with the same SOURCE_DATE_EPOCH in another work directory
 * (another path depth, another TZ). Identical ISOs: the first build is the release. Different: nothing is published, both
 * ISOs are kept for inspection and the error names the first differing file (inside the squashfs if that is where).
 */
async function checkReproducible(profile: Profile, version: string, opts: BuildOptions): Promise<number> {
  const started = Date.now();
  const epoch = await sourceDateEpoch(profile, version);
  const first = await createContext(profile, version, opts, epoch);
  const scratch = `${first.work.root}.repro`;
  await unmountAllUnder(scratch);
  rmSync(scratch, { recursive: true, force: true });
  await runPipeline(first, opts);
  const tz = process.env.TZ;
  process.env.TZ = 'Pacific/Kiritimati';
  let second: BuildContext;
  try {
    second = await createContext(profile, version, { ...opts, work: join(scratch, 'second', 'work'), output: join(scratch, 'second', 'release'), force: true }, epoch);
    await runPipeline(second, { ...opts, keepWork: false });
  } catch (err) {
    unpublish(first); // the check did not pass: the first build is not a release
    throw err;
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
  if (second.isoSha256 === first.isoSha256) {
    rmSync(scratch, { recursive: true, force: true });
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(`\n${first.outputIso}\n  sha256 ${first.isoSha256}\n  reproducible: a second build in another work directory gave the same sha256 (${secs} s for both)\n`);
    return 0;
  }
  const keptFirst = join(scratch, `first-${basename(first.outputIso)}`);
  renameSync(first.outputIso, keptFirst);
  unpublish(first);
  const { firstDifference } = await import('../release/compare.js');
  const difference = await firstDifference(keptFirst, second.outputIso, join(scratch, 'compare'), first.log);
  throw new IsoBuildError(`not reproducible: two builds of ${version} differ (sha256 ${first.isoSha256!.slice(0, 12)}… vs ${second.isoSha256!.slice(0, 12)}…): ${difference}`, {
    hint: `nothing was published; both ISOs are kept: ${keptFirst} and ${second.outputIso}`,
    exitCode: ExitCode.Verification,
  });
}

/** Remove what a build published to its release directory (the ISO and the release artifacts). */
function unpublish(ctx: BuildContext): void {
  rmSync(ctx.outputIso, { force: true });
  for (const name of readdirSync(ctx.outputDir)) {
    if (/^(SHA256SUMS(\.asc)?|build-manifest\.json|RELEASE-NOTES\.md|report\.html)$/.test(name)) rmSync(join(ctx.outputDir, name), { force: true });
  }
}

async function createContext(profile: Profile, version: string, opts: BuildOptions, epochSeconds?: number): Promise<BuildContext> {
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
  clearWorkDir(work.root);
  if (opts.force) rmSync(outputIso, { force: true });
  // The first directory mkdir creates (if any): a failed build removes it again when it is still empty.
  const createdOutputDir = mkdirSync(outputDir, { recursive: true });
  const log = new BuildLog(work.log);
  log.line(`iso-build ${version} profile ${profile.file}`);
  return {
    profile,
    version,
    epochSeconds: epochSeconds ?? (await sourceDateEpoch(profile, version)),
    work,
    log,
    resources: new ResourceStack(),
    cacheDir: resolve(opts.cache ?? process.env.ISO_BUILD_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'), 'iso-build')),
    outputDir,
    outputIso,
    partialIso: `${outputIso}.partial`,
    createdOutputDir,
  };
}

/** Everything of an earlier build goes, except its stage cache (stage-cache.ts). */
function clearWorkDir(root: string): void {
  mkdirSync(root, { recursive: true });
  const keep = basename(stageCacheDir(root));
  for (const name of readdirSync(root)) if (name !== keep) rmSync(join(root, name), { recursive: true, force: true });
}

/**
 * SOURCE_DATE_EPOCH from the environment, else the commit time of the release tag (the version, if it is a tag in the
 * profile's git checkout) or of HEAD, else the profile's `sourceDateEpoch`, else now (not reproducible).
 */
export async function sourceDateEpoch(profile: Profile, version: string): Promise<number> {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined && env !== '') {
    if (!/^\d+$/.test(env)) throw usageError(`SOURCE_DATE_EPOCH="${env}" is not a number of seconds`);
    return Number(env);
  }
  for (const rev of [`refs/tags/${version}^{commit}`, 'HEAD']) {
    try {
      const { stdout } = await run('git', ['-C', profile.dir, 'log', '-1', '--format=%ct', rev, '--'], { what: 'git log' });
      if (/^\d+$/.test(stdout.trim())) return Number(stdout.trim());
    } catch {
      /* no such tag, or not a git checkout */
    }
  }
  if (profile.sourceDateEpoch !== undefined) return profile.sourceDateEpoch;
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
