/** The package list of a rootfs (the .manifest beside the squashfs and the build manifest's package list). */
import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { dpkgQueryPackages } from './tools/dpkg.js';

/** "package<TAB>version" lines, sorted, as the rootfs's own dpkg database has it (not the build host's). */
export async function packageManifest(rootfs: string): Promise<string | undefined> {
  const admindir = join(rootfs, 'var/lib/dpkg');
  if (!existsSync(join(admindir, 'status'))) return undefined;
  const stdout = await dpkgQueryPackages(admindir);
  return stdout.split('\n').filter(Boolean).sort().join('\n') + '\n';
}

/**
 * Whether dpkg's database may differ from what it was when `changes` (an overlay upper dir over `view`) was empty:
 * the upper dir has var/lib/dpkg, or replaced var or var/lib with something that is not a directory, or the
 * database is gone from the view (an opaque var or var/lib).
 */
export function dpkgChangedSince(changes: string, view: string): boolean {
  for (const dir of ['var', 'var/lib', 'var/lib/dpkg']) {
    let isDir: boolean;
    try {
      isDir = lstatSync(join(changes, dir)).isDirectory();
    } catch {
      return !existsSync(join(view, 'var/lib/dpkg/status'));
    }
    if (!isDir || dir === 'var/lib/dpkg') return true;
  }
  return true;
}
