/** The one way tests make squashfs images: squashfs-tools' mksquashfs, so the reader is checked against the reference writer. */
import { execFileSync } from 'node:child_process';

/**
 * Packs `src` into a new `image` (never appended to) with mksquashfs's own options `args` (`-comp zstd`, `-b 4K`,
 * `-p` pseudo definitions, ...). Returns `image`; a failure throws with mksquashfs's message.
 */
export function mksquashfs(src: string, image: string, args: readonly string[] = []): string {
  execFileSync('mksquashfs', [src, image, '-noappend', '-quiet', '-no-progress', ...args], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return image;
}
