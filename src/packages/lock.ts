/**
 * The lock file `<profile>.lock.yaml` beside the profile: what each remote payload source (packages.images[].ref,
 * charts from Helm/OCI repositories, files from URLs) resolved to, pinned by digest. `iso-build packages lock` writes
 * it; builds and `packages fetch` read only it, so a tag that moves upstream changes nothing until the lock is
 * refreshed on purpose. Entries are sorted and the YAML is written with a fixed key order: diffs stay small.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parse, stringify } from 'yaml';
import * as z from 'zod';
import { ExitCode, IsoBuildError, usageError } from '../errors.js';
import { normalizeReference } from './images.js';
import { isRemoteChartRepo, type PackagesOptions } from '../profile/schema.js';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX = /^[0-9a-f]{64}$/;

const LockedImageSchema = z.strictObject({
  /** As the profile writes it. */
  ref: z.string(),
  platform: z.string(),
  format: z.enum(['docker-archive', 'oci-archive']),
  /** The repository, normalized (docker.io/library/ made explicit). */
  name: z.string(),
  tag: z.string().optional(),
  /** The digest of the multi-platform index the ref pointed at, if it was one. */
  index: z.string().regex(DIGEST).optional(),
  /** The manifest digest of the platform's image: what is pulled and what images.txt lists. */
  digest: z.string().regex(DIGEST),
});
export type LockedImage = z.output<typeof LockedImageSchema>;

const LockedChartSchema = z.strictObject({
  repo: z.string(),
  name: z.string(),
  /** As the profile writes it (an exact version or a range). */
  version: z.string(),
  resolved: z.string(),
  /** HTTP repositories: the .tgz URL; OCI: `oci://host/path/name@sha256:<manifest>`. */
  url: z.string(),
  sha256: z.string().regex(HEX),
});
export type LockedChart = z.output<typeof LockedChartSchema>;

const LockedFileSchema = z.strictObject({
  url: z.string(),
  dest: z.string(),
  sha256: z.string().regex(HEX),
  size: z.number().int().min(0),
});
export type LockedFile = z.output<typeof LockedFileSchema>;

const LockSchema = z.strictObject({
  lockVersion: z.literal(1),
  images: z.array(LockedImageSchema).default(() => []),
  charts: z.array(LockedChartSchema).default(() => []),
  files: z.array(LockedFileSchema).default(() => []),
});
export type Lock = z.output<typeof LockSchema>;

export function lockPath(profileFile: string): string {
  return profileFile.replace(/(\.ya?ml)?$/, '.lock.yaml');
}

/** The keys by which profile entries and lock entries are matched. */
export function imageKey(ref: string, platform: string, format: string): string {
  return `${normalizeReference(ref)} ${platform} ${format}`;
}
export function chartKey(c: { repo: string; name: string; version: string }): string {
  return `${c.repo.replace(/\/+$/, '')} ${c.name} ${c.version}`;
}
/** A file the profile pins by sha256 matches only a lock entry with it; an unpinned one any entry for its URL. */
function fileKey(f: { url: string; dest: string; sha256?: string }, lockSha?: string): string {
  return `${f.url} ${f.dest} ${f.sha256 ?? lockSha ?? ''}`;
}

export interface RemoteSources {
  images: { ref: string; platform: string; format: 'docker-archive' | 'oci-archive' }[];
  charts: { repo: string; name: string; version: string }[];
  files: { url: string; dest: string; sha256?: string; sha256sums?: string }[];
}

/** The profile's remote sources, platforms filled in from the target architecture. */
export function remoteSources(packages: PackagesOptions, defaultPlatform: () => string): RemoteSources {
  return {
    images: packages.images
      .filter((i) => i.ref !== undefined)
      .map((i) => ({ ref: i.ref!, platform: i.platform ?? defaultPlatform(), format: i.format ?? 'docker-archive' })),
    charts: packages.charts.filter((c) => isRemoteChartRepo(c.repo)).map((c) => ({ repo: c.repo!, name: c.name, version: c.version })),
    files: packages.files.map((f) => ({ url: f.url, dest: f.dest, ...(f.sha256 ? { sha256: f.sha256 } : {}), ...(f.sha256sums ? { sha256sums: f.sha256sums } : {}) })),
  };
}

export function hasRemoteSources(packages: PackagesOptions): boolean {
  return packages.images.some((i) => i.ref !== undefined) || packages.charts.some((c) => isRemoteChartRepo(c.repo)) || packages.files.length > 0;
}

function sortLock(lock: Lock): Lock {
  const by = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  return {
    lockVersion: 1,
    images: [...lock.images].sort(by((i) => imageKey(i.ref, i.platform, i.format))),
    charts: [...lock.charts].sort(by(chartKey)),
    files: [...lock.files].sort(by((f) => f.dest)),
  };
}

function lockYaml(lock: Lock, profileFile: string): string {
  const sorted = sortLock(lock);
  // Fixed key order (zod's output order is the schema's) and no line folding: the file is meant for diffs.
  const doc = {
    lockVersion: 1,
    images: sorted.images.map((i) => LockedImageSchema.parse(i)),
    charts: sorted.charts.map((c) => LockedChartSchema.parse(c)),
    files: sorted.files.map((f) => LockedFileSchema.parse(f)),
  };
  return (
    `# The remote payload sources of ${basename(profileFile)}, pinned by digest. Written by \`iso-build packages lock\`;\n` +
    '# builds and `packages fetch` use only this. Commit it with the profile.\n' +
    stringify(doc, { lineWidth: 0 })
  );
}

export function writeLock(lock: Lock, profileFile: string): string {
  const file = lockPath(profileFile);
  writeFileSync(`${file}.partial`, lockYaml(lock, profileFile));
  renameSync(`${file}.partial`, file);
  return file;
}

export function readLock(profileFile: string): Lock | undefined {
  const file = lockPath(profileFile);
  if (!existsSync(file)) return undefined;
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw usageError(`${file} does not parse: ${(err as Error).message}`, 'regenerate it: iso-build packages lock');
  }
  const parsed = LockSchema.safeParse(doc);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw usageError(`${file}: ${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`, 'regenerate it: iso-build packages lock');
  }
  return parsed.data;
}

/** What of the profile's sources the lock lacks, and what it has that the profile no longer names. */
export function lockMismatch(lock: Lock, sources: RemoteSources): { missing: string[]; extra: string[] } {
  const lockedSha = new Map(lock.files.map((f) => [`${f.url} ${f.dest}`, f.sha256]));
  const want = new Set([
    ...sources.images.map((i) => `image ${imageKey(i.ref, i.platform, i.format)}`),
    ...sources.charts.map((c) => `chart ${chartKey(c)}`),
    ...sources.files.map((f) => `file ${fileKey(f, lockedSha.get(`${f.url} ${f.dest}`))}`),
  ]);
  const have = new Set([
    ...lock.images.map((i) => `image ${imageKey(i.ref, i.platform, i.format)}`),
    ...lock.charts.map((c) => `chart ${chartKey(c)}`),
    ...lock.files.map((f) => `file ${fileKey(f)}`),
  ]);
  return { missing: [...want].filter((k) => !have.has(k)).sort(), extra: [...have].filter((k) => !want.has(k)).sort() };
}

/** The lock for the profile's sources, or an input error saying how to make or refresh it. */
export function requireLock(profileFile: string, sources: RemoteSources): Lock {
  const file = lockPath(profileFile);
  const lock = readLock(profileFile);
  if (!lock) {
    throw new IsoBuildError(`the profile names remote payload sources but has no lock file ${file}`, {
      exitCode: ExitCode.Usage,
      hint: `create it (needs network): iso-build packages lock --profile ${profileFile}`,
    });
  }
  const { missing, extra } = lockMismatch(lock, sources);
  if (missing.length > 0 || extra.length > 0) {
    const parts = [...missing.map((m) => `not in the lock: ${m}`), ...extra.map((e) => `only in the lock: ${e}`)];
    throw new IsoBuildError(`${file} does not match the profile: ${parts.slice(0, 3).join('; ')}${parts.length > 3 ? `; and ${parts.length - 3} more` : ''}`, {
      exitCode: ExitCode.Usage,
      hint: 'refresh it on purpose: iso-build packages lock (or pass --update-lock)',
    });
  }
  return lock;
}
