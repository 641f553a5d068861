/**
 * The external programs the tool wrappers run, each with the Debian package that provides it, and the check that they
 * are all on PATH before a build does any work (a PATH lookup in-process: nothing is started).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { usageError } from '../errors.js';

export interface Program {
  name: string;
  /** The Debian package that provides it. */
  debianPackage: string;
}

const program = (name: string, debianPackage: string): Program => ({ name, debianPackage });

/** By wrapper (src/tools/NAME.ts): what it runs. */
export const PROGRAMS = {
  xorriso: [program('xorriso', 'xorriso'), program('chmod', 'coreutils')],
  squashfs: [program('mksquashfs', 'squashfs-tools'), program('unsquashfs', 'squashfs-tools')],
  mount: [program('mount', 'mount'), program('umount', 'mount')],
  chroot: [program('unshare', 'util-linux'), program('nsenter', 'util-linux'), program('chroot', 'coreutils'), program('sh', 'dash')],
  digest: [program('openssl', 'openssl'), program('md5sum', 'coreutils'), program('xargs', 'findutils'), program('dd', 'coreutils'), program('bash', 'bash')],
  dpkg: [program('dpkg-query', 'dpkg'), program('dpkg', 'dpkg'), program('sh', 'dash')],
  mtools: [program('mdir', 'mtools'), program('mtype', 'mtools'), program('mcopy', 'mtools')],
  apt: [program('apt-get', 'apt'), program('apt-cache', 'apt'), program('apt-ftparchive', 'apt-utils'), program('dpkg-deb', 'dpkg'), program('xz', 'xz-utils')],
  gpg: [program('gpg', 'gpg'), program('gpgv', 'gpgv'), program('gpgconf', 'gpgconf')],
  cp: [program('cp', 'coreutils')],
  git: [program('git', 'git')],
  sqfs2tar: [program('sqfs2tar', 'squashfs-tools-ng')],
  hostScript: [program('sh', 'dash')],
} as const satisfies Record<string, readonly Program[]>;

/** Where `name` is on PATH, if it is there and executable. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Fails (exit 2) naming every missing program and the packages that provide them. */
export function checkPrograms(needed: readonly Program[], path = process.env.PATH ?? ''): void {
  const missing = new Map<string, Program>();
  for (const p of needed) if (!missing.has(p.name) && findOnPath(p.name, path) === undefined) missing.set(p.name, p);
  if (missing.size === 0) return;
  const names = [...missing.keys()].sort();
  const packages = [...new Set([...missing.values()].map((p) => p.debianPackage))].sort();
  throw usageError(`missing program${names.length > 1 ? 's' : ''}: ${names.join(', ')}`, `apt-get install ${packages.join(' ')}`);
}
