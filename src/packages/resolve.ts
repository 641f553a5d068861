/**
 * The dependency closure of `packages.system` for the target: apt with a private configuration whose dpkg status is
 * the target rootfs's, whose architecture is the target's and whose sources are the profile's (or the target's own).
 * The build host's installed packages, sources and keys play no part. Downloads land in a cache keyed by sha256, so
 * resolving the same profile again downloads nothing.
 */
import { sha256File } from '../file-hash.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsoBuildError, usageError } from '../errors.js';
import { acquireLock, describeOwner } from '../owner-lock.js';
import { resolveInRoot } from '../rootfs-path.js';
import { aptGet } from '../tools/apt.js';
import { hasDebEntries, profileSourcesList, targetSources } from './sources.js';
import type { BuildLog } from '../build-log.js';
import type { PackageSource } from '../profile/schema.js';

export interface ResolvedDeb {
  /** Package name, version and architecture, from the pool file name. */
  name: string;
  version: string;
  arch: string;
  /** The pool file name, e.g. jq_1.6-2.1+deb12u2_amd64.deb. */
  fileName: string;
  uri: string;
  size: number;
  sha256: string;
  /** Where the verified file is in the cache. */
  cached: string;
}

export interface ResolveOptions {
  rootfs: string;
  packages: readonly string[];
  sources?: readonly PackageSource[];
  architecture?: string;
  recommends: boolean;
  /** The build's cache directory; debs go to <cache>/packages/debs/<sha256>.deb. */
  cacheDir: string;
  log?: BuildLog;
  onLine?: (line: string) => void;
}

export interface ResolveResult {
  arch: string;
  debs: ResolvedDeb[];
  downloaded: number;
  fromCache: number;
}

/** The dpkg architecture of a rootfs: the Architecture of its installed dpkg package. */
export function targetArchitecture(rootfs: string): string {
  const status = readFileSync(resolveInRoot(rootfs, '/var/lib/dpkg/status'), 'utf8');
  for (const stanza of status.split(/\n\n+/)) {
    if (/^Package: dpkg$/m.test(stanza)) {
      const arch = /^Architecture: (\S+)$/m.exec(stanza)?.[1];
      if (arch) return arch;
    }
  }
  throw new IsoBuildError('cannot tell the target architecture: no dpkg package in the rootfs\'s /var/lib/dpkg/status', {
    hint: 'set packages.architecture in the profile',
  });
}

function foreignArchitectures(rootfs: string, arch: string): string[] {
  try {
    const text = readFileSync(resolveInRoot(rootfs, '/var/lib/dpkg/arch'), 'utf8');
    return text.split('\n').map((s) => s.trim()).filter((s) => s && s !== arch);
  } catch {
    return [];
  }
}

/** A private apt: its own etc/state/cache dirs (kept in the cache so index downloads are incremental). */
export function writeAptConfig(rootfs: string, stateDir: string, arch: string, sourcesFiles: { name: string; text: string }[]): string {
  // A payload for another architecture than the rootfs's own (an arm64 payload resolved against an amd64 rootfs) is
  // resolved from scratch: the rootfs's installed packages say nothing about what an arm64 machine has.
  let statusFile = resolveInRoot(rootfs, '/var/lib/dpkg/status');
  if (arch !== targetArchitecture(rootfs)) {
    statusFile = join(stateDir, 'empty-status');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(statusFile, '');
  }
  const etc = join(stateDir, 'etc');
  rmSync(etc, { recursive: true, force: true });
  for (const d of [join(etc, 'apt.conf.d'), join(etc, 'sources.list.d'), join(etc, 'preferences.d'), join(stateDir, 'lists/partial'), join(stateDir, 'cache/archives/partial'), join(stateDir, 'log')]) {
    mkdirSync(d, { recursive: true });
  }
  writeFileSync(join(etc, 'sources.list'), '');
  for (const f of sourcesFiles) writeFileSync(join(etc, f.name === 'sources.list' ? 'sources.list' : `sources.list.d/${f.name}`), f.text);
  const q = (s: string): string => JSON.stringify(s);
  const inRoot = (p: string): string => resolveInRoot(rootfs, p);
  const arches = [arch, ...foreignArchitectures(rootfs, arch)];
  const conf = [
    `Dir::Etc ${q(etc)};`,
    'Dir::Etc::main "apt.conf";',
    'Dir::Etc::parts "apt.conf.d";',
    'Dir::Etc::sourcelist "sources.list";',
    'Dir::Etc::sourceparts "sources.list.d";',
    `Dir::Etc::preferences ${q(inRoot('/etc/apt/preferences'))};`,
    `Dir::Etc::preferencesparts ${q(inRoot('/etc/apt/preferences.d'))};`,
    `Dir::Etc::trusted ${q(inRoot('/etc/apt/trusted.gpg'))};`,
    `Dir::Etc::trustedparts ${q(inRoot('/etc/apt/trusted.gpg.d'))};`,
    `Dir::State ${q(stateDir)};`,
    'Dir::State::lists "lists";',
    `Dir::State::status ${q(statusFile)};`,
    `Dir::Cache ${q(join(stateDir, 'cache'))};`,
    `Dir::Log ${q(join(stateDir, 'log'))};`,
    `APT::Architecture ${q(arch)};`,
    `APT::Architectures { ${arches.map((a) => `${q(a)};`).join(' ')} };`,
    'APT::Sandbox::User "root";',
    'Acquire::Languages "none";',
    'Acquire::ForceHash "SHA256";',
    'Acquire::Retries "3";',
    'Binary::apt-get::Acquire::AllowInsecureRepositories "false";',
    '',
  ].join('\n');
  const file = join(stateDir, 'apt.conf');
  writeFileSync(file, conf);
  return file;
}

/** `'uri' file size SHA256:hex` lines of apt-get --print-uris. */
export function parsePrintUris(stdout: string): Omit<ResolvedDeb, 'cached'>[] {
  const debs: Omit<ResolvedDeb, 'cached'>[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^'([^']+)' (\S+) (\d+) SHA256:([0-9a-f]{64})$/.exec(line.trim());
    if (!m) continue;
    const [, uri, fileName, size, sha256] = m as unknown as [string, string, string, string, string];
    const parts = /^([^_]+)_([^_]+)_([^_]+)\.deb$/.exec(fileName);
    if (!parts) continue;
    debs.push({ name: parts[1]!, version: decodeURIComponent(parts[2]!), arch: parts[3]!, fileName, uri, size: Number(size), sha256 });
  }
  return debs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : 1));
}

export async function resolveClosure(opts: ResolveOptions): Promise<ResolveResult> {
  const arch = opts.architecture ?? targetArchitecture(opts.rootfs);
  const sourcesFiles = opts.sources
    ? [{ name: 'sources.list', text: profileSourcesList(opts.sources, opts.rootfs, arch) }]
    : targetSources(opts.rootfs);
  if (!hasDebEntries(sourcesFiles)) {
    throw usageError('packages.system: the target has no apt sources to resolve packages from', 'list the repositories in packages.sources');
  }
  const key = createHash('sha256').update(JSON.stringify({ arch, sourcesFiles }).replaceAll(opts.rootfs, '<rootfs>')).digest('hex').slice(0, 16);
  const stateDir = join(opts.cacheDir, 'packages', 'apt', key);
  mkdirSync(stateDir, { recursive: true });
  const unlock = await lockAptState(join(stateDir, 'apt-state.lock'), opts);
  try {
    return await resolveLocked(opts, arch, sourcesFiles, stateDir);
  } finally {
    unlock();
  }
}

/**
 * An exclusive lock between builds sharing the cache's apt state. Its owner is recorded (owner-lock.ts): a lock left by a
 * killed build is taken over at once, a live holder is named while this build waits, and Ctrl-C ends the wait.
 */
async function lockAptState(file: string, opts: ResolveOptions): Promise<() => void> {
  const lock = await acquireLock(file, `iso-build (pid ${process.pid}) resolving ${opts.packages.slice(0, 3).join(' ')}`, {
    onWait: (owner, waited) => {
      const line = `waiting for the apt state lock ${file}, held by ${describeOwner(owner)}${waited > 0 ? ` (${Math.round(waited / 1000)} s so far)` : ''}`;
      opts.log?.line(`packages: ${line}`);
      opts.onLine?.(line);
    },
  });
  return () => lock.release();
}

async function resolveLocked(opts: ResolveOptions, arch: string, sourcesFiles: { name: string; text: string }[], stateDir: string, forceUpdate = false): Promise<ResolveResult> {
  const aptConfig = writeAptConfig(opts.rootfs, stateDir, arch, sourcesFiles);
  opts.log?.line(`packages: private apt in ${stateDir} (architecture ${arch})\n${sourcesFiles.map((f) => `${f.name}:\n${f.text}`).join('')}`);
  const call = { log: opts.log, onLine: opts.onLine };
  const stamp = join(stateDir, 'updated');
  const update = async (): Promise<void> => {
    await aptGet(aptConfig, ['update'], call);
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
  };
  const maxAgeMs = Number(process.env.ISO_BUILD_APT_LISTS_MAX_AGE ?? 6 * 3600) * 1000;
  const age = existsSync(stamp) ? Date.now() - statSync(stamp).mtimeMs : Infinity;
  let refreshed = false;
  if (forceUpdate || age > maxAgeMs) {
    await update();
    refreshed = true;
  } else {
    opts.log?.line(`packages: apt lists are ${Math.round(age / 60000)} min old (< ISO_BUILD_APT_LISTS_MAX_AGE=${maxAgeMs / 1000} s): not refreshed`);
  }
  const recommends = opts.recommends ? '--install-recommends' : '--no-install-recommends';
  let printed;
  try {
    printed = await aptGet(aptConfig, ['-qq', '--print-uris', '-y', recommends, 'install', ...opts.packages], { log: opts.log });
  } catch (err) {
    if (refreshed) throw err;
    opts.log?.line(`packages: resolving failed with cached apt lists (${(err as Error).message}); refreshing them and retrying once`);
    return await resolveLocked(opts, arch, sourcesFiles, stateDir, true);
  }
  const wanted = parsePrintUris(printed.stdout);
  opts.log?.line(`packages: closure of ${opts.packages.join(' ')}: ${wanted.length} .debs the target lacks`);

  const debDir = join(opts.cacheDir, 'packages', 'debs');
  mkdirSync(debDir, { recursive: true });
  const cachedPath = (sha: string): string => join(debDir, `${sha}.deb`);
  const missing = wanted.filter((d) => !existsSync(cachedPath(d.sha256)));
  if (missing.length > 0) {
    const tmp = join(stateDir, 'download.tmp');
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      const download = (): Promise<unknown> => aptGet(aptConfig, ['download', ...missing.map((d) => `${d.name}:${d.arch}=${d.version}`)], { ...call, cwd: tmp });
      try {
        await download();
      } catch (err) {
        if (refreshed) throw err;
        opts.log?.line(`packages: download failed with cached apt lists (${(err as Error).message}); refreshing them and retrying once`);
        return await resolveLocked(opts, arch, sourcesFiles, stateDir, true);
      }
      const bySha = new Map(missing.map((d) => [d.sha256, d]));
      for (const f of readdirSync(tmp).filter((n) => n.endsWith('.deb'))) {
        const sha = await sha256File(join(tmp, f));
        if (bySha.has(sha)) renameSync(join(tmp, f), cachedPath(sha));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    for (const d of missing) {
      if (!existsSync(cachedPath(d.sha256))) throw new IsoBuildError(`download of ${d.fileName} did not produce a file with sha256 ${d.sha256}`);
    }
  }
  for (const d of wanted) opts.log?.line(`packages: ${missing.includes(d) ? 'downloaded' : 'cached    '} ${d.fileName} sha256 ${d.sha256}`);
  opts.log?.line(`packages: downloaded ${missing.length}, from cache ${wanted.length - missing.length}`);
  return {
    arch,
    debs: wanted.map((d) => ({ ...d, cached: cachedPath(d.sha256) })),
    downloaded: missing.length,
    fromCache: wanted.length - missing.length,
  };
}
