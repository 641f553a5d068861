/**
 * Applies an overlayfs upper layer, packed as its own squashfs, to a base squashfs and writes the result as one image,
 * without decompressing or compressing file data: the base's data region is copied as is, the changes' data region is
 * appended after it, and new tables (squashfs-tables.ts) describe the merged tree. A rebuild that changed a few files
 * then costs a copy of the base image instead of a full mksquashfs of the rootfs.
 *
 * The result depends only on the two images, so a build that made the base just now and one that reused it from the
 * stage cache give the same bytes.
 */
import { copyFile, open, truncate } from 'node:fs/promises';
import { IsoBuildError } from '../errors.js';
import { openImages } from './open-images.js';
import { hasOpaqueMark, isWhiteout, OPAQUE_XATTR, TRUSTED_PREFIX } from './overlay-marks.js';
import { SquashFs, type FragmentEntry, type Inode, type Xattr } from './squashfs.js';
import { FLAG, NO_FRAGMENT, SUPERBLOCK_SIZE, encodeDevice } from './squashfs-format.js';
import { encodeSuperblock, writeTables, type TreeNode } from './squashfs-tables.js';

const OVERLAY_PREFIX = Buffer.from('overlay.');

export interface MergeOptions {
  /** The base image (the customized rootfs as the stage cache holds it). */
  base: string;
  /**
   * mksquashfs images of overlayfs upper directories, bottom first (each applied over the result of the ones before):
   * whiteouts are 0/0 character devices, opaque dirs carry an xattr.
   */
  changes: readonly string[];
  out: string;
  /**
   * The result is itself a layer over lower squashfs images (layered casper): whiteouts and opaque markers stay so
   * they keep hiding what lies below. Otherwise the result is a whole filesystem and they are applied and dropped.
   */
  keepWhiteouts: boolean;
  /** Every inode's mtime and the superblock's (SOURCE_DATE_EPOCH). */
  mtime: number;
}

export interface MergeResult {
  inodes: number;
  /** Bytes of compressed data reused from the base image. */
  reusedBytes: number;
  /** Bytes of compressed data taken from the changes image. */
  addedBytes: number;
  /**
   * A whole filesystem (not keepWhiteouts): what `lstat` sums over its non-directories, symlinks by target length
   * (the installer's .size), taken from the merged tree at no extra cost.
   */
  fileBytes?: number;
  /** The same sum over this image's own tree alone (whiteouts count 0): the installed bytes of a layer's content. */
  ownBytes: number;
  /**
   * Bytes at the start of the result that are the base image's own, but for the superblock (its first 96 bytes): the
   * base's data region, up to where its tables began. The in-place ISO writer leaves them where the base ISO has them.
   */
  baseBytesKept: number;
}

export async function mergeSquashfs(opts: MergeOptions): Promise<MergeResult> {
  const images = await openImages([opts.base, ...opts.changes]);
  try {
    const [base, ...changes] = images.layers;
    return await merge(base!, changes, opts);
  } finally {
    await images.close();
  }
}

async function merge(a: SquashFs, layers: readonly SquashFs[], opts: MergeOptions): Promise<MergeResult> {
  const aOptions = await a.source.read(SUPERBLOCK_SIZE, a.dataStart - SUPERBLOCK_SIZE, 'squashfs compressor options');
  for (const c of layers) {
    if (a.sb.compressor !== c.sb.compressor || a.sb.blockSize !== c.sb.blockSize) {
      throw new Error(`squashfs merge: ${c.name} (${c.sb.compressor}, ${c.sb.blockSize}) was not packed like ${a.name} (${a.sb.compressor}, ${a.sb.blockSize})`);
    }
    const cOptions = await c.source.read(SUPERBLOCK_SIZE, c.dataStart - SUPERBLOCK_SIZE, 'squashfs compressor options');
    if (!aOptions.equals(cOptions)) throw new Error(`squashfs merge: ${c.name} has other compressor options than ${a.name}`);
  }

  // Each layer's data region goes right after the one before: its block positions and fragment numbers shift.
  const root = await readTree(a, 0, 0);
  const fragments = await a.fragmentTable();
  const placed: { layer: SquashFs; at: number }[] = [];
  let dataEnd = a.sb.inodeTable;
  for (const c of layers) {
    const shift = dataEnd - c.dataStart;
    const upper = await readTree(c, shift, fragments.length);
    fragments.push(...(await c.fragmentTable()).map((f): FragmentEntry => ({ start: f.start + shift, word: f.word })));
    applyLayer(root, upper, opts.keepWhiteouts);
    placed.push({ layer: c, at: dataEnd });
    dataEnd += c.sb.inodeTable - c.dataStart;
  }

  const tree = finish(root, opts.keepWhiteouts);
  const tables = writeTables({ root: tree, fragments, mtime: opts.mtime, at: dataEnd });
  // The tables are written uncompressed (inodes, ids, xattrs), without an NFS export table, with or without xattrs.
  let flags = (a.sb.flags & ~(FLAG.EXPORTABLE | FLAG.NOX | FLAG.NO_XATTRS)) | FLAG.NOI | FLAG.NOID;
  flags |= tables.xattrTable < 0 ? FLAG.NO_XATTRS : FLAG.NOX;
  const superblock = encodeSuperblock({
    tables,
    mtime: opts.mtime,
    blockSize: a.sb.blockSize,
    compressorId: a.sb.compressorId,
    flags,
    fragmentCount: fragments.length,
  });

  // Kernel-side copy of the base (and its compressor options), cut where its tables began.
  await copyFile(a.name, opts.out);
  await truncate(opts.out, a.sb.inodeTable);
  const out = await open(opts.out, 'r+');
  try {
    for (const { layer: c, at } of placed) {
      for (let p = c.dataStart, pos = at; p < c.sb.inodeTable; ) {
        const n = Math.min(8 << 20, c.sb.inodeTable - p);
        const chunk = await c.source.read(p, n, `squashfs data of ${c.name}`);
        await out.write(chunk, 0, n, pos);
        pos += n;
        p += n;
      }
    }
    await out.write(tables.bytes, 0, tables.bytes.length, dataEnd);
    // Padded to 4 KiB like mksquashfs does, so the image can be a loop device's backing file.
    const padded = Math.ceil(tables.end / 4096) * 4096;
    if (padded > tables.end) await out.write(Buffer.alloc(padded - tables.end), 0, padded - tables.end, tables.end);
    await out.write(superblock, 0, SUPERBLOCK_SIZE, 0);
  } finally {
    await out.close();
  }
  return {
    inodes: tables.inodeCount,
    reusedBytes: a.sb.inodeTable - a.dataStart,
    addedBytes: dataEnd - a.sb.inodeTable,
    fileBytes: opts.keepWhiteouts ? undefined : fileBytes(tree),
    ownBytes: fileBytes(tree),
    baseBytesKept: a.sb.inodeTable,
  };
}

function fileBytes(dir: TreeNode): number {
  let total = 0;
  for (const child of dir.children!.values()) {
    if (child.children) total += fileBytes(child);
    else total += child.file?.size ?? child.target?.length ?? 0;
  }
  return total;
}

/** A tree node with what the overlay rules need besides the squashfs fields. */
interface Entry {
  node: TreeNode;
  whiteout: boolean;
  opaque: boolean;
  /** Directories: entries by name bytes (latin1). */
  kids?: Map<string, Entry>;
}

async function readTree(fs: SquashFs, shift: number, fragmentShift: number): Promise<Entry> {
  const xattrCache = new Map<number, Xattr[]>();
  const hardlinks = new Map<number, Entry>();
  const xattrsOf = async (inode: Inode): Promise<Xattr[]> => {
    if (inode.xattr === undefined) return [];
    let list = xattrCache.get(inode.xattr);
    if (!list) xattrCache.set(inode.xattr, (list = await fs.xattrs(inode.xattr)));
    return list;
  };
  const toEntry = async (inode: Inode, path: string): Promise<Entry> => {
    if (inode.type !== 'dir' && inode.nlink > 1) {
      const seen = hardlinks.get(inode.inodeNumber);
      if (seen) return seen;
    }
    const all = await xattrsOf(inode);
    const overlay = all.filter((x) => x.prefix === TRUSTED_PREFIX && x.name.subarray(0, OVERLAY_PREFIX.length).equals(OVERLAY_PREFIX));
    for (const x of overlay) {
      const name = x.name.toString('latin1');
      if (name === 'overlay.redirect' || name === 'overlay.metacopy') {
        throw new IsoBuildError(`${fs.name}: ${path} carries trusted.${name}: a renamed directory or metadata-only copy-up cannot be merged`, {
          hint: 'the overlay must be mounted with redirect_dir=off,metacopy=off (iso-build does this); rebuild from a clean work directory',
        });
      }
    }
    const opaque = hasOpaqueMark(overlay);
    const node: TreeNode = {
      type: inode.type,
      perm: inode.mode & 0o7777,
      uid: inode.uid,
      gid: inode.gid,
      // overlayfs bookkeeping (origin, impure, uuid, ...) means nothing outside the mount it was made under.
      xattrs: all.filter((x) => !overlay.includes(x)),
    };
    const entry: Entry = { node, whiteout: isWhiteout(inode), opaque };
    if (inode.type === 'dir') {
      entry.kids = new Map();
      for (const e of fs.readdirSync(inode)) entry.kids.set(e.raw.toString('latin1'), await toEntry(fs.inodeSync(e.ref), `${path}/${e.name}`));
    } else if (inode.type === 'file') {
      const d = inode.data!;
      const words = fs.blockWords(inode);
      node.file = {
        start: words.length ? d.start + shift : 0,
        size: inode.size,
        sparse: d.sparse,
        words,
        fragment: d.fragment === NO_FRAGMENT ? NO_FRAGMENT : d.fragment + fragmentShift,
        fragmentOffset: d.fragmentOffset,
      };
    } else if (inode.type === 'symlink') {
      node.target = Buffer.from(inode.targetRaw!);
    } else if (inode.rdev) {
      node.rdev = encodeDevice(inode.rdev.major, inode.rdev.minor);
    }
    if (inode.type !== 'dir' && inode.nlink > 1) hardlinks.set(inode.inodeNumber, entry);
    return entry;
  };
  return toEntry(await fs.root(), '');
}

/** overlayfs semantics of an upper directory over a lower one, applied to the trees. */
function applyLayer(lower: Entry, upper: Entry, keepWhiteouts: boolean): void {
  for (const [name, up] of upper.kids!) {
    const low = lower.kids!.get(name);
    if (up.whiteout) {
      if (keepWhiteouts) lower.kids!.set(name, up);
      else lower.kids!.delete(name);
    } else if (up.node.type === 'dir' && low?.node.type === 'dir' && !up.opaque) {
      // A copied-up directory: its own metadata is the upper's, its entries the union.
      low.node.perm = up.node.perm;
      low.node.uid = up.node.uid;
      low.node.gid = up.node.gid;
      low.node.xattrs = up.node.xattrs;
      applyLayer(low, up, keepWhiteouts);
    } else {
      if (!keepWhiteouts && up.node.type === 'dir') dropWhiteouts(up);
      lower.kids!.set(name, up);
    }
  }
}

function dropWhiteouts(dir: Entry): void {
  for (const [name, child] of dir.kids!) {
    if (child.whiteout) dir.kids!.delete(name);
    else if (child.kids) dropWhiteouts(child);
  }
  dir.opaque = false;
}

/**
 * The merged entries become the squashfs tree; in a layer, directories keep overlayfs's opaque marker
 * (trusted.overlay.opaque=y) where the merged tree has one.
 */
function finish(dir: Entry, keepWhiteouts: boolean): TreeNode {
  if (keepWhiteouts && dir.opaque) {
    const opaque: Xattr = { prefix: TRUSTED_PREFIX, name: Buffer.from(OPAQUE_XATTR), value: Buffer.from('y') };
    dir.node.xattrs = [...dir.node.xattrs, opaque].sort((x, y) => x.prefix - y.prefix || Buffer.compare(x.name, y.name));
  }
  dir.node.children = new Map();
  for (const [name, child] of dir.kids!) dir.node.children.set(name, child.kids ? finish(child, keepWhiteouts) : child.node);
  return dir.node;
}
