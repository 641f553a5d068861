/** Work-directory preparation: what an earlier build left there goes (mounts first), except its stage cache. */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { usageError } from './errors.js';
import { stageCacheDir } from './stage-cache.js';
import { unmountAllUnder } from './tools/mount.js';

/** Checks that `root` may be used as a work directory for a build publishing to `outputDir`, then clears it. */
export async function prepareWorkDir(root: string, outputDir: string): Promise<void> {
  if (root === '/' || outputDir.startsWith(`${root}/`)) {
    throw usageError(`the work directory ${root} must not be / or contain the output directory`);
  }
  // A killed earlier build may have left mounts here; never delete through them.
  await unmountAllUnder(root);
  clearWorkDir(root);
}

/** Everything of an earlier build goes, except its stage cache (stage-cache.ts). */
function clearWorkDir(root: string): void {
  mkdirSync(root, { recursive: true });
  const keep = basename(stageCacheDir(root));
  for (const name of readdirSync(root)) if (name !== keep) rmSync(join(root, name), { recursive: true, force: true });
}
