/**
 * Writes the metadata of a squashfs 4.0 image (inode, directory, fragment, id and xattr tables and the superblock) for
 * a tree whose file data is already compressed and placed in the image: what lets a build reuse the compressed blocks
 * of an earlier image instead of compressing the whole rootfs again (squashfs-merge.ts).
 *
 * Metadata blocks are stored uncompressed (header bit 15; Linux and squashfs-tools read them like any other): Node
 * has no xz or zstd encoder, and the tables are a few MB against the hundreds of MB of data.
 */
import type { FileType, FragmentEntry, Xattr } from './squashfs.js';
import { SQUASHFS_MAGIC } from './squashfs.js';

const META_SIZE = 8192;
const META_BLOCK = META_SIZE + 2;
const NO_XATTR = 0xffffffff;
const NO_FRAGMENT = 0xffffffff;
const NONE = 0xffffffffffffffffn;
const BASIC_TYPE: Record<FileType, number> = { dir: 1, file: 2, symlink: 3, blockdev: 4, chardev: 5, fifo: 6, socket: 7 };

export interface FileData {
  /** Absolute position of the first data block in the new image. */
  start: number;
  size: number;
  sparse: number;
  /** Size words of the data blocks, as stored. */
  words: Uint32Array;
  fragment: number;
  fragmentOffset: number;
}

export interface TreeNode {
  type: FileType;
  /** Permission bits (0o7777). */
  perm: number;
  uid: number;
  gid: number;
  xattrs: Xattr[];
  /** Directories: entries by name (the name's bytes as a latin1 string, so any byte sequence is a key). */
  children?: Map<string, TreeNode>;
  file?: FileData;
  target?: Buffer;
  /** Devices: the squashfs device word. */
  rdev?: number;
}

export interface TablesInput {
  root: TreeNode;
  fragments: FragmentEntry[];
  /** Every inode's mtime (and the superblock's). */
  mtime: number;
  /** Absolute position where the tables start: the end of the data region. */
  at: number;
}

export interface Tables {
  /** Bytes to write at `at`, in order. */
  bytes: Buffer;
  inodeCount: number;
  idCount: number;
  rootRef: bigint;
  inodeTable: number;
  directoryTable: number;
  fragmentTable: number;
  idTable: number;
  /** -1 when no inode has xattrs. */
  xattrTable: number;
  end: number;
}

/** A chain of metadata blocks; positions are (block start relative to the chain start, offset in the block). */
class MetaWriter {
  private readonly blocks: Buffer[] = [];
  private cur = Buffer.alloc(META_SIZE);
  private used = 0;

  get block(): number {
    return this.blocks.length * META_BLOCK;
  }

  get offset(): number {
    return this.used;
  }

  write(buf: Buffer): void {
    let p = 0;
    while (p < buf.length) {
      const n = Math.min(buf.length - p, META_SIZE - this.used);
      buf.copy(this.cur, this.used, p, p + n);
      this.used += n;
      p += n;
      if (this.used === META_SIZE) this.flush();
    }
  }

  private flush(): void {
    const out = Buffer.alloc(2 + this.used);
    out.writeUInt16LE(this.used | 0x8000, 0); // bit 15: stored uncompressed
    this.cur.copy(out, 2, 0, this.used);
    this.blocks.push(out);
    this.cur = Buffer.alloc(META_SIZE);
    this.used = 0;
  }

  finish(): Buffer {
    if (this.used) this.flush();
    return Buffer.concat(this.blocks);
  }
}

/** A lookup table (fragments, ids, xattr ids): its metadata blocks, then the u64 positions of those blocks. */
function lookupTable(entries: Buffer, at: number): { bytes: Buffer; indexAt: number } {
  const w = new MetaWriter();
  w.write(entries);
  const blocks = w.finish();
  const count = Math.ceil(entries.length / META_SIZE);
  const index = Buffer.alloc(count * 8);
  for (let k = 0; k < count; k++) index.writeBigUInt64LE(BigInt(at + k * META_BLOCK), k * 8);
  return { bytes: Buffer.concat([blocks, index]), indexAt: at + blocks.length };
}

function sortedEntries(dir: TreeNode): [Buffer, TreeNode][] {
  return [...dir.children!.entries()].map(([k, n]) => [Buffer.from(k, 'latin1'), n] as [Buffer, TreeNode]).sort((a, b) => Buffer.compare(a[0], b[0]));
}

export function writeTables(input: TablesInput): Tables {
  // Pass 1: inode numbers in post-order (children before their directory, the root last, as mksquashfs does),
  // each hard-linked inode once, and how many entries point at each.
  const numbers = new Map<TreeNode, number>();
  const links = new Map<TreeNode, number>();
  const parents = new Map<TreeNode, TreeNode>();
  const listings = new Map<TreeNode, [Buffer, TreeNode][]>();
  const order: TreeNode[] = [];
  const visit = (dir: TreeNode): void => {
    const entries = sortedEntries(dir);
    listings.set(dir, entries);
    for (const [name, node] of entries) {
      if (name.length === 0 || name.length > 256) throw new Error(`squashfs: entry name of ${name.length} bytes`);
      links.set(node, (links.get(node) ?? 0) + 1);
      if (node.type === 'dir') {
        if (parents.has(node)) throw new Error('squashfs: a directory appears twice in the tree');
        parents.set(node, dir);
        visit(node);
      } else if (!numbers.has(node)) {
        numbers.set(node, numbers.size + 1);
        order.push(node);
      }
    }
    numbers.set(dir, numbers.size + 1);
    order.push(dir);
  };
  visit(input.root);
  const inodeCount = numbers.size;

  const ids = new Map<number, number>();
  const idIndex = (id: number): number => {
    let i = ids.get(id);
    if (i === undefined) ids.set(id, (i = ids.size));
    if (i > 0xffff) throw new Error('squashfs: more than 65536 distinct uids/gids');
    return i;
  };
  const xattrIds = new Map<string, number>();
  const xattrKv = new MetaWriter();
  const xattrIdEntries: Buffer[] = [];
  const xattrIndex = (list: Xattr[]): number => {
    if (list.length === 0) return NO_XATTR;
    const key = list.map((x) => `${x.prefix}:${x.name.toString('hex')}=${x.value.toString('hex')}`).join(';');
    let i = xattrIds.get(key);
    if (i !== undefined) return i;
    const id = Buffer.alloc(16);
    id.writeBigUInt64LE((BigInt(xattrKv.block) << 16n) | BigInt(xattrKv.offset), 0);
    let size = 0;
    for (const x of list) {
      const kv = Buffer.alloc(8 + x.name.length + x.value.length);
      kv.writeUInt16LE(x.prefix, 0);
      kv.writeUInt16LE(x.name.length, 2);
      x.name.copy(kv, 4);
      kv.writeUInt32LE(x.value.length, 4 + x.name.length);
      x.value.copy(kv, 8 + x.name.length);
      xattrKv.write(kv);
      size += kv.length;
    }
    id.writeUInt32LE(list.length, 8);
    id.writeUInt32LE(size, 12);
    xattrIdEntries.push(id);
    xattrIds.set(key, (i = xattrIds.size));
    return i;
  };

  // Pass 2: inodes and listings in the same order, so a directory's listing can name its children's positions.
  const inodes = new MetaWriter();
  const dirs = new MetaWriter();
  const refs = new Map<TreeNode, { block: number; offset: number }>();
  const header = (node: TreeNode, ext: boolean, buf: Buffer): void => {
    buf.writeUInt16LE(BASIC_TYPE[node.type] + (ext ? 7 : 0), 0);
    buf.writeUInt16LE(node.perm & 0o7777, 2);
    buf.writeUInt16LE(idIndex(node.uid), 4);
    buf.writeUInt16LE(idIndex(node.gid), 6);
    buf.writeUInt32LE(input.mtime >>> 0, 8);
    buf.writeUInt32LE(numbers.get(node)!, 12);
  };
  for (const node of order) {
    const xattr = xattrIndex(node.xattrs);
    const nlink = node.type === 'dir' ? 2 + listings.get(node)!.filter(([, n]) => n.type === 'dir').length : links.get(node)!;
    let buf: Buffer;
    if (node.type === 'dir') {
      const start = { block: dirs.block, offset: dirs.offset };
      const listing = writeListing(dirs, listings.get(node)!, refs, numbers);
      const size = listing.size + 3; // the size counts "." and ".."
      const parent = parents.get(node);
      const parentNumber = parent ? numbers.get(parent)! : inodeCount + 1;
      if (size <= 0xffff && xattr === NO_XATTR && listing.index.length === 0) {
        buf = Buffer.alloc(32);
        header(node, false, buf);
        buf.writeUInt32LE(start.block, 16);
        buf.writeUInt32LE(nlink, 20);
        buf.writeUInt16LE(size, 24);
        buf.writeUInt16LE(start.offset, 26);
        buf.writeUInt32LE(parentNumber, 28);
      } else {
        buf = Buffer.alloc(40);
        header(node, true, buf);
        buf.writeUInt32LE(nlink, 16);
        buf.writeUInt32LE(size, 20);
        buf.writeUInt32LE(start.block, 24);
        buf.writeUInt32LE(parentNumber, 28);
        buf.writeUInt16LE(listing.index.length, 32);
        buf.writeUInt16LE(start.offset, 34);
        buf.writeUInt32LE(xattr, 36);
        buf = Buffer.concat([buf, ...listing.index]);
      }
    } else if (node.type === 'file') {
      const f = node.file!;
      const words = Buffer.from(f.words.buffer, f.words.byteOffset, f.words.byteLength);
      if (nlink === 1 && xattr === NO_XATTR && f.sparse === 0 && f.start < 2 ** 32 && f.size < 2 ** 32) {
        buf = Buffer.alloc(32 + words.length);
        header(node, false, buf);
        buf.writeUInt32LE(f.start, 16);
        buf.writeUInt32LE(f.fragment, 20);
        buf.writeUInt32LE(f.fragment === NO_FRAGMENT ? 0 : f.fragmentOffset, 24);
        buf.writeUInt32LE(f.size, 28);
        words.copy(buf, 32);
      } else {
        buf = Buffer.alloc(56 + words.length);
        header(node, true, buf);
        buf.writeBigUInt64LE(BigInt(f.start), 16);
        buf.writeBigUInt64LE(BigInt(f.size), 24);
        buf.writeBigUInt64LE(BigInt(f.sparse), 32);
        buf.writeUInt32LE(nlink, 40);
        buf.writeUInt32LE(f.fragment, 44);
        buf.writeUInt32LE(f.fragment === NO_FRAGMENT ? 0 : f.fragmentOffset, 48);
        buf.writeUInt32LE(xattr, 52);
        words.copy(buf, 56);
      }
    } else {
      const ext = xattr !== NO_XATTR;
      const body =
        node.type === 'symlink'
          ? Buffer.concat([u32(nlink), u32(node.target!.length), node.target!])
          : node.type === 'blockdev' || node.type === 'chardev'
            ? Buffer.concat([u32(nlink), u32(node.rdev ?? 0)])
            : u32(nlink);
      buf = Buffer.concat([Buffer.alloc(16), body, ext ? u32(xattr) : Buffer.alloc(0)]);
      header(node, ext, buf);
    }
    refs.set(node, { block: inodes.block, offset: inodes.offset });
    inodes.write(buf);
  }

  const root = refs.get(input.root)!;
  const rootRef = (BigInt(root.block) << 16n) | BigInt(root.offset);
  const parts: Buffer[] = [];
  let at = input.at;
  const put = (b: Buffer): void => {
    parts.push(b);
    at += b.length;
  };
  const inodeTable = at;
  put(inodes.finish());
  const directoryTable = at;
  put(dirs.finish());
  const fragEntries = Buffer.alloc(input.fragments.length * 16);
  input.fragments.forEach((f, i) => {
    fragEntries.writeBigUInt64LE(BigInt(f.start), i * 16);
    fragEntries.writeUInt32LE(f.word, i * 16 + 8);
  });
  const frag = lookupTable(fragEntries, at);
  put(frag.bytes);
  const idEntries = Buffer.alloc(ids.size * 4);
  [...ids.keys()].forEach((id, i) => idEntries.writeUInt32LE(id, i * 4));
  const idt = lookupTable(idEntries, at);
  put(idt.bytes);
  let xattrTable = -1;
  if (xattrIdEntries.length) {
    const kvStart = at;
    put(xattrKv.finish());
    const table = lookupTable(Buffer.concat(xattrIdEntries), at);
    // The xattr lookup table's index is preceded by where the key/value blocks start and how many ids there are.
    const blocks = table.bytes.subarray(0, table.indexAt - at);
    const index = table.bytes.subarray(table.indexAt - at);
    put(blocks);
    const head = Buffer.alloc(16);
    head.writeBigUInt64LE(BigInt(kvStart), 0);
    head.writeUInt32LE(xattrIdEntries.length, 8);
    xattrTable = at;
    put(Buffer.concat([head, index]));
  }
  return {
    bytes: Buffer.concat(parts),
    inodeCount,
    idCount: ids.size,
    rootRef,
    inodeTable,
    directoryTable,
    fragmentTable: frag.indexAt,
    idTable: idt.indexAt,
    xattrTable,
    end: at,
  };
}

/**
 * A directory's entries: runs of up to 256 sharing one inode metadata block and inode numbers within ±32767, each
 * under a header. Returns the listing size and its lookup index: one entry per header that starts in a new metadata
 * block, which lets Linux skip to the right block of a large directory instead of scanning it.
 */
function writeListing(dirs: MetaWriter, entries: [Buffer, TreeNode][], refs: Map<TreeNode, { block: number; offset: number }>, numbers: Map<TreeNode, number>): { size: number; index: Buffer[] } {
  let size = 0;
  let i = 0;
  let lastBlock = dirs.block;
  const index: Buffer[] = [];
  while (i < entries.length) {
    const first = refs.get(entries[i]![1])!;
    const base = numbers.get(entries[i]![1])!;
    let j = i;
    while (j < entries.length && j - i < 256) {
      const node = entries[j]![1];
      const d = numbers.get(node)! - base;
      if (refs.get(node)!.block !== first.block || d < -32768 || d > 32767) break;
      j++;
    }
    if (dirs.block !== lastBlock) {
      const name = entries[i]![0];
      const ix = Buffer.alloc(12 + name.length);
      ix.writeUInt32LE(size, 0);
      ix.writeUInt32LE(dirs.block, 4);
      ix.writeUInt32LE(name.length - 1, 8);
      name.copy(ix, 12);
      index.push(ix);
      lastBlock = dirs.block;
    }
    const head = Buffer.alloc(12);
    head.writeUInt32LE(j - i - 1, 0);
    head.writeUInt32LE(first.block, 4);
    head.writeUInt32LE(base, 8);
    dirs.write(head);
    size += 12;
    for (let k = i; k < j; k++) {
      const [name, node] = entries[k]!;
      const e = Buffer.alloc(8 + name.length);
      e.writeUInt16LE(refs.get(node)!.offset, 0);
      e.writeInt16LE(numbers.get(node)! - base, 2);
      e.writeUInt16LE(BASIC_TYPE[node.type], 4);
      e.writeUInt16LE(name.length - 1, 6);
      name.copy(e, 8);
      dirs.write(e);
      size += e.length;
    }
    i = j;
  }
  return { size, index };
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

export interface SuperblockFields {
  tables: Tables;
  mtime: number;
  blockSize: number;
  compressorId: number;
  flags: number;
  fragmentCount: number;
}

export function encodeSuperblock(f: SuperblockFields): Buffer {
  const b = Buffer.alloc(96);
  b.writeUInt32LE(SQUASHFS_MAGIC, 0);
  b.writeUInt32LE(f.tables.inodeCount, 4);
  b.writeUInt32LE(f.mtime >>> 0, 8);
  b.writeUInt32LE(f.blockSize, 12);
  b.writeUInt32LE(f.fragmentCount, 16);
  b.writeUInt16LE(f.compressorId, 20);
  b.writeUInt16LE(Math.log2(f.blockSize), 22);
  b.writeUInt16LE(f.flags, 24);
  b.writeUInt16LE(f.tables.idCount, 26);
  b.writeUInt16LE(4, 28);
  b.writeUInt16LE(0, 30);
  b.writeBigUInt64LE(f.tables.rootRef, 32);
  b.writeBigUInt64LE(BigInt(f.tables.end), 40);
  b.writeBigUInt64LE(BigInt(f.tables.idTable), 48);
  b.writeBigUInt64LE(f.tables.xattrTable < 0 ? NONE : BigInt(f.tables.xattrTable), 56);
  b.writeBigUInt64LE(BigInt(f.tables.inodeTable), 64);
  b.writeBigUInt64LE(BigInt(f.tables.directoryTable), 72);
  b.writeBigUInt64LE(BigInt(f.tables.fragmentTable), 80);
  b.writeBigUInt64LE(NONE, 88); // no NFS export table
  return b;
}
