/**
 * Content-addressed cache of the customized rootfs, kept in the work directory between builds.
 * The key hashes everything the cached stages read (base ISO, layout, chroot commands, pre-customize hooks,
 * package payload), so a rebuild that changes only overlay files or the version skips unsquashfs, the
 * chroot commands and apt, and starts from the copy.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './tools/process.js';
import type { BuildLog } from './build-log.js';
import type { BuildContext } from './context.js';

/** Bump when what a cache entry holds changes meaning. */
const FORMAT = 1;
const KEEP_ENTRIES = 2;
/** Big payload files (images, ISOs) are identified by size and mtime instead of their bytes, to keep keys cheap. */
const HASH_CONTENT_UP_TO = 64 << 20;

export function stageCacheDir(workRoot: string): string {
  return join(workRoot, 'stage-cache');
}

/** Key of the rootfs as it is after unpack, pre-customize hooks, chroot commands and the package payload. */
export function rootfsCacheKey(ctx: BuildContext): string {
  const { profile, layout } = ctx;
  const inputs = {
    format: FORMAT,
    base: ctx.base?.sha256,
    layout: layout && { kind: layout.kind, squashfs: layout.squashfs, lowers: layout.lowers, strategy: layout.strategy },
    chroot: profile.chroot,
    preCustomize: profile.hooks?.['pre-customize'] ?? [],
    packages: profile.packages ?? null,
  };
  const hash = createHash('sha256');
  hash.update(JSON.stringify(inputs));
  for (const file of referencedFiles(inputs)) hash.update(fileFingerprint(file));
  return hash.digest('hex').slice(0, 32);
}

/** Absolute paths of existing files and directories named anywhere in the inputs (hook scripts, local .debs, charts). */
function referencedFiles(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (value.startsWith('/') && existsSync(value)) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) referencedFiles(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) referencedFiles(v, out);
  }
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
 * Copy with ownership, modes, xattrs (overlayfs opaque dirs) and device nodes (whiteouts) intact.
 * `link` hard-links the files instead of copying them (creating ~10^4 files is what costs here, not the bytes):
 * safe when nothing after the cache point writes into an existing file in place. iso-build's own stages replace
 * files (unlink, then write); only user hooks may write in place, so the caller links only when there are none.
 */
export async function copyTree(from: string, to: string, log: BuildLog, link = false): Promise<void> {
  rmSync(to, { recursive: true, force: true });
  await run('cp', [link ? '-al' : '-a', ...(link ? [] : ['--reflink=auto']), from, to], { log, what: `copy ${from} to ${to}` });
}

/** Whether the stages after the cache point only ever replace files (see copyTree). */
export function canLinkCache(ctx: BuildContext): boolean {
  return (ctx.profile.hooks?.['post-customize'] ?? []).length === 0;
}

/** Store `layer` under `key`; written to a temp name and marked complete last, so an interrupted save is never used. */
export async function saveRootfs(workRoot: string, key: string, layer: string, log: BuildLog, link: boolean): Promise<void> {
  const root = stageCacheDir(workRoot);
  mkdirSync(root, { recursive: true });
  const final = join(root, `rootfs-${key}`);
  const temp = `${final}.partial`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp);
  await copyTree(layer, join(temp, 'layer'), log, link);
  writeFileSync(join(temp, 'complete'), `${new Date().toISOString()}\n`);
  rmSync(final, { recursive: true, force: true });
  renameSync(temp, final);
  prune(root, final);
}

/** Keep the newest entries only: a work directory is not an archive. */
function prune(root: string, keep: string): void {
  const entries = readdirSync(root)
    .filter((n) => n.startsWith('rootfs-'))
    .map((n) => join(root, n))
    .filter((p) => p !== keep)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const old of entries.slice(KEEP_ENTRIES - 1)) rmSync(old, { recursive: true, force: true });
}
