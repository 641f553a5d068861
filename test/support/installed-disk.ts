/**
 * Reading an installed disk image after the guest ran: the fixture's init syncs and powers off without unmounting (a
 * killed qemu does not even sync), so the newest metadata may be only in the ext4 journal, which debugfs does not
 * replay. This copies the root partition aside, replays its journal there (e2fsck -E journal_only, what the kernel does
 * at the next mount) and reads the copy with debugfs; the disk itself is left as the guest left it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { findExtRoot } from '../../src/install-qa/partitions.js';
import { ExtImage } from '../../src/tools/debugfs.js';

export async function replayedRoot(disk: string, copy: string): Promise<ExtImage> {
  const root = await findExtRoot(disk);
  if (!root) throw new Error(`no ext root on ${disk}`);
  execFileSync('dd', [`if=${disk}`, `of=${copy}`, 'bs=1M', `skip=${root.offsetBytes}`, `count=${root.sizeBytes}`, 'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none']);
  const fsck = spawnSync('e2fsck', ['-E', 'journal_only', '-y', copy], { encoding: 'utf8' });
  if (fsck.status !== 0 && fsck.status !== 1) throw new Error(`e2fsck -E journal_only: ${fsck.stdout}${fsck.stderr}`);
  return new ExtImage(copy, 0);
}
