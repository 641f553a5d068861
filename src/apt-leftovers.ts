/** What apt and dpkg leave in a rootfs that embeds times and host state, and its removal before the rootfs is packed or cached. */
import { existsSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

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

/** Deletes apt/dpkg leftovers under `root`; with `onlyIn`, only those that also exist there (an overlay's upper dir). */
export function removeLeftovers(root: string, onlyIn?: string): void {
  for (const [dir, pattern] of LEFTOVERS) {
    const path = join(root, dir);
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
      if (lstatSync(entry).isDirectory() && dir !== 'var/lib/apt/lists') continue;
      rmSync(entry, { recursive: true, force: true });
    }
  }
}

