/** `iso-build packages fetch|verify|list`: the offline payload outside a full build. */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExitCode, IsoBuildError, usageError } from '../errors.js';
import { buildPayload, fetchRemote } from '../packages/payload.js';
import { hasRemoteSources, lockMismatch, lockPath, readLock, remoteSources, writeLock } from '../packages/lock.js';
import { platformForDebianArch, resolveSources } from '../packages/remote.js';
import { targetArchitecture } from '../packages/resolve.js';
import { resolveCacheDir } from '../cache-dir.js';
import { parseChartIndex } from '../packages/charts.js';
import { parseImagesTxt } from '../packages/images.js';
import { MANIFEST_NAME, type PayloadManifest } from '../packages/manifest.js';
import { controlField } from '../packages/repo.js';
import { resolveClosure } from '../packages/resolve.js';
import { verifyPayload } from '../packages/verify.js';
import { extractTargetAptState } from '../packages/target.js';
import { DEFAULT_PROFILE, loadProfile } from '../profile/load.js';
import type { PackagesOptions, Profile } from '../profile/schema.js';
import { isQuiet, result, resultJson } from '../output.js';
import { stderrSink, TransferProgress, type ProgressSink } from '../packages/progress.js';

export interface FetchOptions {
  profile?: string;
  base?: string;
  baseSha256?: string;
  rootfs?: string;
  cache?: string;
  output?: string;
  updateLock?: boolean;
}

/** Images pulled by reference without a platform: their platform comes from the target's architecture. */
function imagesNeedArchitecture(packages: PackagesOptions): boolean {
  return packages.images.some((i) => i.ref !== undefined && !i.platform);
}

/** Progress on stderr (a redrawn status line in a terminal, plain lines elsewhere, nothing with --quiet); stdout has only the result. */
function progressSink(): ProgressSink {
  return stderrSink({ quiet: isQuiet(), live: Boolean(process.stderr.isTTY) && !process.env.CI });
}

function aptLine(sink: ProgressSink): (line: string) => void {
  // apt's "Get:N uri ... [size]" lines are the download progress
  return (line) => {
    if (/^(Get|Hit|Ign):\d+ /.test(line) || /^Fetched /.test(line)) sink.line(`  ${line}`);
  };
}

/** Resolves the profile's `packages.system` for an unpacked target rootfs and fills the cache; with --output, writes the whole payload there. */
export async function packagesFetchCommand(opts: FetchOptions): Promise<number> {
  const profile = await loadProfile(opts.profile ?? DEFAULT_PROFILE, opts.base ? { basePath: opts.base, baseSha256: opts.baseSha256 } : {});
  const packages = profile.packages;
  if (!packages) throw usageError(`${profile.file} has no packages section`);
  // The target is in a base ISO still to be downloaded: fetch what the lock pins; the build resolves packages.system.
  if (!opts.output && !opts.rootfs && !opts.base && !profile.base.path && hasRemoteSources(packages)) {
    return await fetchRemoteOnly(profile, packages, opts);
  }
  let rootfs: string;
  let scratch: string | undefined;
  if (opts.rootfs) rootfs = resolve(opts.rootfs);
  else {
    const iso = profile.base.path;
    if (!iso) throw usageError('packages fetch: the profile\'s base ISO is a URL', 'pass --base <local iso>, or --rootfs <unpacked target rootfs>');
    scratch = mkdtempSync(join(tmpdir(), 'isob-target-'));
    rootfs = scratch;
    const n = await extractTargetAptState(iso, rootfs);
    progressSink().line(`target: ${n} apt/dpkg files read from ${iso}`);
  }
  try {
    return await fetchFor(profile, packages, rootfs, opts);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

async function fetchFor(profile: Profile, packages: PackagesOptions, rootfs: string, opts: FetchOptions): Promise<number> {
  if (!existsSync(join(rootfs, 'var/lib/dpkg/status'))) throw usageError(`${rootfs} is not a Debian/Ubuntu root filesystem (no var/lib/dpkg/status)`);
  const cache = resolveCacheDir(opts.cache);
  const sink = progressSink();
  if (opts.output) {
    const result = await buildPayload({
      name: profile.name,
      product: profile.product,
      version: 'unreleased',
      profileDir: profile.dir,
      profileFile: profile.file,
      updateLock: opts.updateLock,
      packages,
      rootfs: resolve(opts.output),
      resolveRoot: rootfs,
      cacheDir: cache,
      epochSeconds: Math.floor(Date.now() / 1000),
      progress: sink,
    });
    process.stdout.write(`${result.payloadDir}: ${result.debs.length} .debs, ${result.images.length} images, ${result.charts.length} charts, ${result.files} files\n`);
    return 0;
  }
  await fetchRemote({ packages, profileDir: profile.dir, profileFile: profile.file, updateLock: opts.updateLock, cacheDir: cache, rootfs, resolveRoot: rootfs }, sink);
  if (packages.system.length === 0) {
    process.stdout.write('packages.system is empty: no .debs to resolve\n');
    return 0;
  }
  const result = await resolveClosure({
    rootfs,
    packages: packages.system,
    sources: packages.sources,
    architecture: packages.architecture,
    recommends: packages.recommends,
    cacheDir: cache,
    onLine: aptLine(sink),
  });
  for (const d of result.debs) process.stdout.write(`${d.fileName}  ${d.size}  sha256:${d.sha256}\n`);
  process.stdout.write(`${result.debs.length} .debs for ${result.arch}: ${result.downloaded} downloaded, ${result.fromCache} from the cache (${join(cache, 'packages/debs')})\n`);
  return 0;
}

/** `packages fetch` for a profile whose target is not at hand: the lock's items need no rootfs unless a platform is missing. */
async function fetchRemoteOnly(profile: Profile, packages: PackagesOptions, opts: FetchOptions): Promise<number> {
  const rootfs = '/nonexistent-target';
  if (!packages.architecture && imagesNeedArchitecture(packages)) {
    throw usageError('packages fetch: images without a platform need the target architecture', 'set packages.architecture, or pass --base <iso> / --rootfs <dir>');
  }
  await fetchRemote({ packages, profileDir: profile.dir, profileFile: profile.file, updateLock: opts.updateLock, cacheDir: resolveCacheDir(opts.cache), rootfs }, progressSink());
  if (packages.system.length > 0) result('packages.system: resolved by the build (the base ISO is a URL; pass --base ISO to resolve it now)');
  return 0;
}

export interface LockOptions {
  profile?: string;
  arch?: string;
  cache?: string;
  /** Keep a lock that exists and matches the profile (release jobs: create it only when missing). */
  ifMissing?: boolean;
}

/** Resolves every remote payload source and writes `<profile>.lock.yaml` (needs the network; fills the cache too). */
export async function packagesLockCommand(opts: LockOptions): Promise<number> {
  const profile = await loadProfile(opts.profile ?? DEFAULT_PROFILE);
  const packages = profile.packages;
  if (!packages || !hasRemoteSources(packages)) {
    throw usageError(`${profile.file} names no remote payload sources (packages.images[].ref, charts from a repository URL, files)`, 'nothing to lock');
  }
  const debianArch = opts.arch ?? packages.architecture ?? (imagesNeedArchitecture(packages) ? await baseArchitecture(profile) : 'amd64');
  const sources = remoteSources(packages, () => platformForDebianArch(debianArch));
  if (opts.ifMissing) {
    const existing = readLock(profile.file);
    if (existing) {
      const { missing, extra } = lockMismatch(existing, sources);
      if (missing.length === 0 && extra.length === 0) {
        result(`${lockPath(profile.file)} matches the profile: kept`);
        return 0;
      }
    }
  }
  const lock = await resolveSources(sources, {
    cacheDir: resolveCacheDir(opts.cache),
    caFile: packages.caFile ? resolve(profile.dir, packages.caFile) : undefined,
    progress: new TransferProgress(progressSink()),
  });
  const file = writeLock(lock, profile.file);
  process.stdout.write(`${file}: ${lock.images.length} images, ${lock.charts.length} charts, ${lock.files.length} files\n`);
  return 0;
}

/** The dpkg architecture of the installed system in the profile's local base ISO (read without extracting it). */
async function baseArchitecture(profile: Profile): Promise<string> {
  if (!profile.base.path) {
    throw usageError(
      `cannot tell the target architecture of ${profile.file} for images without a platform (its base ISO is a URL)`,
      `set packages.architecture (e.g. amd64) or pass --arch; the lock goes to ${lockPath(profile.file)}`,
    );
  }
  const scratch = mkdtempSync(join(tmpdir(), 'isob-target-'));
  try {
    await extractTargetAptState(profile.base.path, scratch);
    return targetArchitecture(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export async function packagesVerifyCommand(dir: string): Promise<number> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw usageError(`${dir} is not a directory`, 'pass the payload directory, e.g. <rootfs>/opt/novasphere/packages');
  const problems = await verifyPayload(root);
  if (problems.length > 0) {
    for (const p of problems) process.stdout.write(`BAD ${p.file}: ${p.problem}\n`);
    throw new IsoBuildError(`${dir}: ${problems.length} problem(s): ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`, {
      exitCode: ExitCode.Verification,
      hint: 'rebuild the payload (iso-build packages fetch --output, or a build)',
    });
  }
  const manifest = JSON.parse(readFileSync(join(root, MANIFEST_NAME), 'utf8')) as PayloadManifest;
  process.stdout.write(`${dir}: OK (${manifest.files.length} files match manifest.json)\n`);
  return 0;
}

/** `packages list --json` (docs/cli-json.md). */
export interface PackagesListResult {
  dir: string;
  product: string;
  debs: { package: string; version: string; architecture: string }[];
  images: { ref: string; digest: string }[];
  charts: { name: string; version: string }[];
  files: number;
  bytes: number;
}

export function packagesListCommand(dir: string, opts: { json?: boolean } = {}): number {
  const root = resolve(dir);
  if (!existsSync(join(root, MANIFEST_NAME))) throw usageError(`${dir} has no ${MANIFEST_NAME}`, 'pass a payload directory, e.g. <rootfs>/opt/novasphere/packages');
  const read = (p: string): string => (existsSync(join(root, p)) ? readFileSync(join(root, p), 'utf8') : '');
  const manifest = JSON.parse(read(MANIFEST_NAME)) as PayloadManifest;
  const list: PackagesListResult = {
    dir: root,
    product: manifest.product,
    debs: read('system/Packages')
      .split(/\n\s*\n/)
      .filter((s) => s.trim())
      .map((stanza) => ({ package: controlField(stanza, 'Package') ?? '?', version: controlField(stanza, 'Version') ?? '?', architecture: controlField(stanza, 'Architecture') ?? '?' })),
    images: parseImagesTxt(read('images/images.txt')).map((i) => ({ ref: i.reference, digest: i.digest })),
    charts: parseChartIndex(read('charts/index.yaml')).map((c) => ({ name: c.name, version: c.version })),
    files: manifest.files.length,
    bytes: manifest.files.reduce((s, f) => s + f.size, 0),
  };
  if (opts.json) {
    resultJson(list);
    return 0;
  }
  const out = [
    ...list.debs.map((d) => `deb    ${d.package} ${d.version} ${d.architecture}`),
    ...list.images.map((i) => `image  ${i.ref} ${i.digest}`),
    ...list.charts.map((c) => `chart  ${c.name} ${c.version}`),
    `${list.files} files, ${(list.bytes / 1048576).toFixed(1)} MiB (${list.product})`,
  ];
  result(out.join('\n'));
  return 0;
}
