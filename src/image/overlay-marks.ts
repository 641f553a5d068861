/** How overlayfs marks a layer's deletions, as squashfs stores them: the rules LayerStack and the merge both apply. */
import type { Inode, Xattr } from './squashfs.js';

/** The trusted. xattr namespace (squashfs prefix id 1), where overlayfs keeps its markers. */
export const TRUSTED_PREFIX = 1;
export const OPAQUE_XATTR = Buffer.from('overlay.opaque');

/** A whiteout: a 0/0 character device hides the same name in lower layers. */
export function isWhiteout(inode: Pick<Inode, 'type' | 'rdev'>): boolean {
  return inode.type === 'chardev' && inode.rdev?.major === 0 && inode.rdev.minor === 0;
}

/** An opaque directory (trusted.overlay.opaque=y) hides the same directory's entries in lower layers. */
export function hasOpaqueMark(xattrs: Xattr[]): boolean {
  return xattrs.some((x) => x.prefix === TRUSTED_PREFIX && x.name.equals(OPAQUE_XATTR) && x.value.toString('latin1') === 'y');
}
