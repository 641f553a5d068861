/** What apt and dpkg leave in a rootfs that embeds times and host state, and its removal before the rootfs is packed or cached. */
import { existsSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { resolveInRoot } from './rootfs-path.js';

/** Directory (relative to the rootfs) and the names in it to delete. */
const LEFTOVERS: [string, RegExp][] = [
  ['var/cache/apt', /\.bin$/],
  ['var/cache/apt/archives', /\.deb$/],
  ['var/cache/apt/archives/partial', /./],
  ['var/lib/apt/lists', /^(?!lock$|partial$)/],
  ['var/log/apt', /./],
  ['var/log', /^(dpkg|alternatives|bootstrap)\.log$/],
  ['var/lib/dpkg', /-old$/],
  ['var/cache/debconf', /-old$/],
  ['var/cache/ldconfig', /^aux-cache$/],
  ['root', /^\.bash_history$/],
];

/**
 * Deletes apt/dpkg leftovers under `root`; with `onlyIn`, only those that also exist there (an overlay's upper dir).
 * The directories are resolved as inside a chroot (rootfs-path.ts): a `/var/log` that is an absolute symlink to a host
 * path means that path inside the rootfs, never the host's.
 */
export function removeLeftovers(root: string, onlyIn?: string): void {
  for (const [inRoot, pattern] of LEFTOVERS) {
    const path = resolveInRoot(root, inRoot);
    const dir = relative(root, path);
    let names: string[];
    try {
      if (!lstatSync(path).isDirectory()) continue;
      names = readdirSync(path);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!pattern.test(name)) continue;
      if (onlyIn !== undefined && !existsSync(join(onlyIn, dir, name))) continue;
      const entry = join(path, name);
      if (lstatSync(entry).isDirectory() && inRoot !== 'var/lib/apt/lists') continue;
      rmSync(entry, { recursive: true, force: true });
    }
  }
}

