/**
 * Content-addressed cache of the extracted base ISO tree and of the customized rootfs, kept in the work directory
 * between builds. Builds never write into an entry: both are mounted as overlayfs lower dirs.
 * The key hashes everything the cached stages read (rootfsCacheKey), so a rebuild that changes only overlay files (or
 * the version, without pre-customize hooks) skips unsquashfs, the chroot commands and apt, and mounts the cached layer read-only under an overlay that collects its changes. The
 * entry also keeps the layer packed as squashfs, so the rebuild packs only the changes and merges them in.
 */
import type { LeftInBase } from './left-in-base.js';
import { lockPath } from './packages/lock.js';
import { hookEnv } from './hook-env.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BuildInputs } from './context.js';
import type { RootfsLayout } from './layout.js';
import type { HeadHashMemo } from './image/iso-in-place.js';
import { ProfileDocumentSchema } from './profile/schema.js';
import { forEachAt, markedFields, markedValues, type FieldPath } from './profile/schema-marks.js';

/** Bump when what a cache entry holds changes meaning. */
const FORMAT = 2;
const KEEP_ENTRIES = 2;
/** Big payload files (images, ISOs) are identified by size and mtime instead of their bytes, to keep keys cheap. */
const HASH_CONTENT_UP_TO = 64 << 20;

export function stageCacheDir(workRoot: string): string {
  return join(workRoot, 'stage-cache');
}

/**
 * Key of the rootfs as it is after unpack, pre-customize hooks, chroot commands and the package payload: the base, the
 * layout, the profile fields the schema marks `stageCache` (with the files their path fields name), and what those
 * stages see besides the profile: the pre-customize hooks' environment (the version and host paths, hooks.ts) and the
 * payload's epoch (its Release file and chart index are dated). Chroot commands see neither (chroot-commands.ts).
 */
export function rootfsCacheKey(ctx: Pick<BuildInputs, 'profile' | 'version' | 'epochSeconds' | 'outputIso' | 'work'>, baseSha256: string, layout: RootfsLayout): string {
  const { profile } = ctx;
  const fields = cacheFields();
  const preCustomize = profile.hooks['pre-customize'].length > 0;
  const inputs = {
    format: FORMAT,
    base: baseSha256,
    // mergeIntoBase: the cached layer is an upper dir over the base, not the whole rootfs
    layout: { kind: layout.kind, squashfs: layout.squashfs, lowers: layout.lowers, strategy: layout.strategy, mergeIntoBase: layout.mergeIntoBase === true },
    profile: markedValues(profile, fields.cached),
    hookEnv: preCustomize ? hookEnv(ctx, 'pre-customize', '/') : null,
    payloadEpoch: profile.packages !== undefined ? ctx.epochSeconds : null,
    // The lock pins what the packages' registry/repository/URL sources are: another lock, another payload.
    packagesLock: profile.packages ? lockPath(profile.file) : null,
  };
  const hash = createHash('sha256');
  hash.update(JSON.stringify(inputs));
  for (const file of referencedFiles(profile, fields.paths)) hash.update(fileFingerprint(file));
  if (inputs.packagesLock !== null && existsSync(inputs.packagesLock)) hash.update(fileFingerprint(inputs.packagesLock));
  return hash.digest('hex').slice(0, 32);
}

let fields: { cached: FieldPath[]; paths: FieldPath[] } | undefined;

/** The schema's stageCache fields, and its path fields inside them (hook scripts, local .debs, charts, images, keys). */
function cacheFields(): { cached: FieldPath[]; paths: FieldPath[] } {
  if (fields) return fields;
  const cached = markedFields(ProfileDocumentSchema, 'stageCache');
  const under = (p: FieldPath, prefix: FieldPath): boolean => prefix.every((s, i) => p[i] === s);
  const paths = markedFields(ProfileDocumentSchema, 'profilePath').filter((p) => cached.some((c) => under(p, c)));
  fields = { cached, paths };
  return fields;
}

/** The existing files and directories the path fields name (absolute after load). */
function referencedFiles(profile: unknown, paths: readonly FieldPath[]): string[] {
  const out: string[] = [];
  for (const field of paths) forEachAt(profile, field, (v) => {
    if (typeof v === 'string' && v.startsWith('/') && existsSync(v)) out.push(v);
  });
  return out;
}

function fileFingerprint(path: string): string {
  const st = statSync(path);
  if (st.isDirectory()) {
    return `${path}/{${readdirSync(path).sort().map((n) => fileFingerprint(join(path, n))).join(',')}}`;
  }
  if (!st.isFile()) return `${path}:${st.mode}`;
  if (st.size > HASH_CONTENT_UP_TO) return `${path}:${st.size}:${st.mtimeMs}`;
  return `${path}:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}

export function cachedRootfs(workRoot: string, key: string): string | undefined {
  const dir = join(stageCacheDir(workRoot), `rootfs-${key}`);
  return existsSync(join(dir, 'complete')) ? join(dir, 'layer') : undefined;
}

/**
 * Move the customized `layer` into the cache under `key` (a rename: no copy) and return where it now lies. From here
 * on it is only ever read: later changes go to an overlayfs upper dir above it. Marked complete last, so an
 * interrupted save is never used.
 */
export async function storeRootfs(workRoot: string, key: string, layer: string): Promise<string> {
  const entry = await commitEntry(join(stageCacheDir(workRoot), `rootfs-${key}`), 'rootfs-', (temp) => renameSync(layer, join(temp, 'layer')));
  return join(entry, 'layer');
}

/**
 * Fills a cache entry under a temp name and marks it complete last, so an interrupted fill is never used; then keeps
 * only the newest entries of its kind.
 */
async function commitEntry(final: string, kind: string, fill: (temp: string) => unknown): Promise<string> {
  const temp = `${final}.partial`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  await fill(temp);
  writeFileSync(join(temp, 'complete'), `${new Date().toISOString()}\n`);
  rmSync(final, { recursive: true, force: true });
  renameSync(temp, final);
  prune(dirname(final), final, kind);
  return final;
}

/** The extracted base ISO and its boot setup as recorded by xorriso: all a build needs of the base besides its hash. */
export interface IsoTreeEntry {
  tree: string;
  bootSetup: string[];
  platforms: string[];
  /** What the extraction left in the base ISO (left-in-base.ts); absent: the whole tree is extracted. */
  leftInBase?: LeftInBase;
}

/** One entry per base and extent: a tree without pool/ cannot serve a build whose hooks read the whole tree. */
function isoTreeDir(workRoot: string, baseSha256: string, partial: boolean): string {
  return join(stageCacheDir(workRoot), `iso-${FORMAT}-${baseSha256.slice(0, 32)}${partial ? '-partial' : ''}`);
}

export function cachedIsoTree(workRoot: string, baseSha256: string, partial: boolean): IsoTreeEntry | undefined {
  const dir = isoTreeDir(workRoot, baseSha256, partial);
  if (!existsSync(join(dir, 'complete'))) return undefined;
  const boot = JSON.parse(readFileSync(join(dir, 'boot.json'), 'utf8')) as Omit<IsoTreeEntry, 'tree'>;
  return { tree: join(dir, 'tree'), ...boot };
}

/** Extract (via `fill`) into a temp entry, then mark it complete; builds only ever read it (overlay lower dir). */
export async function storeIsoTree(workRoot: string, baseSha256: string, partial: boolean, fill: (tree: string) => Promise<Omit<IsoTreeEntry, 'tree'>>): Promise<IsoTreeEntry> {
  let boot: Omit<IsoTreeEntry, 'tree'> | undefined;
  const entry = await commitEntry(isoTreeDir(workRoot, baseSha256, partial), 'iso-', async (temp) => {
    mkdirSync(join(temp, 'tree'));
    boot = await fill(join(temp, 'tree'));
    writeFileSync(join(temp, 'boot.json'), JSON.stringify(boot));
  });
  return { tree: join(entry, 'tree'), ...boot! };
}

/**
 * Where the cached layer packed with `packing` (compressor, level, mksquashfs version) lies, packed or not yet. The
 * image is independent of SOURCE_DATE_EPOCH: the merge stamps every inode's time (squashfs-merge.ts).
 */
export function packedLayerPath(cachedLayer: string, packing: unknown): string {
  const id = createHash('sha256').update(JSON.stringify(packing)).digest('hex').slice(0, 16);
  return join(dirname(cachedLayer), `layer-${id}.squashfs`);
}

/** Keep the newest entries of a kind only: a work directory is not an archive. */
function prune(root: string, keep: string, prefix: string): void {
  const entries = readdirSync(root)
    .filter((n) => n.startsWith(prefix))
    .map((n) => join(root, n))
    .filter((p) => p !== keep)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const old of entries.slice(KEEP_ENTRIES - 1)) rmSync(old, { recursive: true, force: true });
}

/**
 * The in-place writer's hash state after the bytes before its insertion point (HeadHashMemo in image/iso-in-place.ts),
 * a hundred bytes per key: a rebuild that changes only the contents of files does not read the base's gigabytes again.
 * The file carries its key and a checksum of the state, so a damaged or foreign file is ignored, never trusted into
 * SHA256SUMS.
 */
export function headHashMemo(workRoot: string, key: string): HeadHashMemo {
  const file = join(stageCacheDir(workRoot), `head-${key.slice(0, 32)}.json`);
  const check = (state: string): string => createHash('sha256').update(`${key}\0${state}`).digest('hex');
  return {
    key,
    load: () => {
      try {
        const m = JSON.parse(readFileSync(file, 'utf8')) as { key?: unknown; state?: unknown; check?: unknown };
        if (m.key !== key || typeof m.state !== 'string' || m.check !== check(m.state)) return undefined;
        return Buffer.from(m.state, 'hex');
      } catch {
        return undefined;
      }
    },
    save: (state) => {
      mkdirSync(dirname(file), { recursive: true });
      const hex = state.toString('hex');
      writeFileSync(`${file}.partial`, JSON.stringify({ key, state: hex, check: check(hex) }));
      renameSync(`${file}.partial`, file);
      prune(dirname(file), file, 'head-');
    },
  };
}
