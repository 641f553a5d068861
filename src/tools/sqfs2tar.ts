/** sqfs2tar (squashfs-tools-ng): a squashfs as a tar file with pax headers, an independent reader of its extended attributes. */
import type { BuildLog } from '../build-log.js';
import { run } from './process.js';

/** Writes `image` as a tar file (root entry `.`) to `tarFile`. */
export async function squashfsToTar(image: string, tarFile: string, log?: BuildLog): Promise<void> {
  await run('sh', ['-c', 'exec sqfs2tar -r . "$1" > "$2"', 'sh', image, tarFile], { log, what: `sqfs2tar ${image}` });
}
