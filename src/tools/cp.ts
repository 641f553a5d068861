/** cp -a: a copy of a directory tree with owners, modes, xattrs and hard links, reflinked where the filesystem can. */
import type { BuildLog } from '../build-log.js';
import { run } from './process.js';

export async function copyTreeReflink(from: string, to: string, opts: { log?: BuildLog; what: string }): Promise<void> {
  await run('cp', ['-a', '--reflink=auto', from, to], { log: opts.log, what: opts.what });
}
