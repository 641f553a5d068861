/**
 * build-manifest.json: what went into a release (inputs with their hashes, tool versions, the rootfs package list,
 * the SOURCE_DATE_EPOCH used), so a rebuild can be checked against it and the next release can list changed packages.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { toolVersion } from '../tools/versions.js';
import { packageVersion } from '../package-root.js';
import { lockPath } from '../packages/lock.js';
import type { PayloadItem } from '../packages/manifest.js';
import { MANIFEST_NAME } from '../product.js';
import type { BuildInputs } from '../context.js';
import type { RootfsLayout } from '../layout.js';

/** What the pipeline found out that a release records. */
export interface BuiltIso {
  base: { path: string; sha256: string };
  /** The base's El Torito platforms. */
  platforms: readonly string[];
  layout: RootfsLayout;
  /** `name\tversion` lines of the customized rootfs. */
  packageList?: string;
  isoSha256: string;
  /** The verified payload's items (its manifest.json), when the profile has a payload. */
  payload?: readonly PayloadItem[];
}

export interface Package {
  name: string;
  version: string;
}

export interface InputFile {
  /** Path relative to the profile's directory (overlay entries: `source/relative/path`). */
  path: string;
  sha256: string;
  mode?: string;
  /** Symlinks: their target instead of a hash of content. */
  link?: string;
}

export interface BuildManifest {
  manifestVersion: 1;
  product: string;
  name: string;
  version: string;
  sourceDateEpoch: number;
  iso: { name: string; sha256: string; size: number; volumeLabel: string; bootPlatforms: string[]; rootfs?: string };
  base: { name: string; sha256: string; layout?: string };
  inputs: InputFile[];
  tools: Record<string, string>;
  packages: Package[];
  /** Every payload item (.deb, image, chart, file): its digest, its source, its file below /opt/novasphere/packages. */
  payload?: PayloadItem[];
}

export function sha256Of(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `name\tversion` lines (the casper .manifest format) to packages. */
export function parsePackageList(text: string | undefined): Package[] {
  if (!text) return [];
  return text
    .split('\n')
    .map((l) => l.split(/\s+/))
    .filter((f) => f[0])
    .map(([name, version]) => ({ name: name!, version: version ?? '' }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every file of every input the build reads, sorted, hashed (overlay trees file by file). */
function inputFiles(ctx: Pick<BuildInputs, 'profile'>): InputFile[] {
  const dir = ctx.profile.dir;
  const files: InputFile[] = [{ path: relative(dir, ctx.profile.file), sha256: sha256Of(readFileSync(ctx.profile.file)) }];
  const walk = (path: string): void => {
    const st = lstatSync(path);
    const rel = relative(dir, path);
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    if (st.isDirectory()) {
      for (const name of readdirSync(path).sort()) walk(join(path, name));
    } else if (st.isSymbolicLink()) {
      files.push({ path: rel, sha256: sha256Of(readlinkSync(path)), link: readlinkSync(path) });
    } else if (st.isFile()) {
      files.push({ path: rel, sha256: sha256Of(readFileSync(path)), mode });
    }
  };
  for (const mapping of ctx.profile.overlay) if (existsSync(mapping.source)) walk(mapping.source);
  const lock = lockPath(ctx.profile.file);
  if (ctx.profile.packages && existsSync(lock)) files.push({ path: relative(dir, lock), sha256: sha256Of(readFileSync(lock)) });
  return files;
}

/** The first line each tool prints for its version; a missing tool is recorded as such, not fatal. */
export async function toolVersions(): Promise<Record<string, string>> {
  const [xorriso, mksquashfs, unsquashfs, gpg] = await Promise.all([
    toolVersion('xorriso'),
    toolVersion('mksquashfs'),
    toolVersion('unsquashfs'),
    toolVersion('gpg', ['--version']),
  ]);
  return { 'iso-build': packageVersion(), node: process.version, xorriso, mksquashfs, unsquashfs, gpg };
}

export async function buildManifest(ctx: BuildInputs, built: BuiltIso, isoSize: number): Promise<BuildManifest> {
  return {
    manifestVersion: 1,
    product: ctx.profile.product,
    name: ctx.profile.name,
    version: ctx.version,
    sourceDateEpoch: ctx.epochSeconds,
    iso: {
      name: basename(ctx.outputIso),
      sha256: built.isoSha256,
      size: isoSize,
      volumeLabel: ctx.profile.volumeLabel,
      bootPlatforms: [...built.platforms].sort(),
      rootfs: built.layout.squashfs,
    },
    base: { name: basename(built.base.path), sha256: built.base.sha256, layout: built.layout.kind },
    inputs: inputFiles(ctx),
    tools: await toolVersions(),
    packages: parsePackageList(built.packageList),
    ...(built.payload ? { payload: [...built.payload] } : {}),
  };
}

/** A release directory's manifest, or undefined when it has none (or an unreadable one). */
export function readManifest(releaseDir: string): BuildManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(join(releaseDir, MANIFEST_NAME), 'utf8')) as BuildManifest;
    return typeof m.version === 'string' && Array.isArray(m.packages) ? m : undefined;
  } catch {
    return undefined;
  }
}
