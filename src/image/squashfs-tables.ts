/**
 * Writes the metadata of a squashfs 4.0 image (inode, directory, fragment, id and xattr tables and the superblock) for
 * a tree whose file data is already compressed and placed in the image: what lets a build reuse the compressed blocks
 * of an earlier image instead of compressing the whole rootfs again (squashfs-merge.ts).
 *
 * Metadata blocks are stored uncompressed (header bit 15; Linux and squashfs-tools read them like any other): Node
 * has no xz or zstd encoder, and the tables are a few MB against the hundreds of MB of data.
 *
 * writeTables runs in passes: number the inodes; write inodes and directory listings together (assigning id and
 * xattr indexes on the way); then lay out the tables after them: fragments, ids, xattrs.
 */
import {
  BASIC_TYPE,
  DIR_NAME_MAX,
  DIR_RUN_MAX,
  EXTENDED_TYPE_OFFSET,
  FRAGMENT_ENTRY_SIZE,
  ID_ENTRY_SIZE,
  META_HEADER_SIZE,
  META_SIZE,
  META_UNCOMPRESSED,
  NO_FRAGMENT,
  NO_XATTR,
  SQUASHFS_MAGIC,
  SQUASHFS_VERSION,
  TABLE_ABSENT,
  XATTR_ID_ENTRY_SIZE,
  XATTR_TABLE_HEADER_SIZE,
  writeSuperblock,
  type FileType,
} from './squashfs-format.js';
import type { FragmentEntry, Xattr } from './squashfs.js';

const META_BLOCK = META_HEADER_SIZE + META_SIZE;

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

  /** Position of the current block: every block but the last is full (META_BLOCK bytes on disk). */
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
    const out = Buffer.alloc(META_HEADER_SIZE + this.used);
    out.writeUInt16LE(this.used | META_UNCOMPRESSED, 0);
    this.cur.copy(out, META_HEADER_SIZE, 0, this.used);
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
  const tree = numberInodes(input.root);
  const ids = new IdTable();
  const xattrs = new XattrTable();
  const { inodes, dirs, refs } = writeInodes(tree, input.mtime, ids, xattrs);
  const root = refs.get(input.root)!;
  const rootRef = (BigInt(root.block) << 16n) | BigInt(root.offset);

  // Pass 3: the tables after the data region: inodes, directories, fragments, ids, xattrs.
  const parts: Buffer[] = [];
  let at = input.at;
  const put = (b: Buffer): number => {
    const start = at;
    parts.push(b);
    at += b.length;
    return start;
  };
  const inodeTable = put(inodes.finish());
  const directoryTable = put(dirs.finish());
  const frag = lookupTable(fragmentEntries(input.fragments), at);
  put(frag.bytes);
  const idt = lookupTable(ids.entries(), at);
  put(idt.bytes);
  let xattrTable = -1;
  if (xattrs.count) {
    const x = xattrs.place(at);
    put(x.bytes);
    xattrTable = x.tableAt;
  }
  return {
    bytes: Buffer.concat(parts),
    inodeCount: tree.inodeCount,
    idCount: ids.count,
    rootRef,
    inodeTable,
    directoryTable,
    fragmentTable: frag.indexAt,
    idTable: idt.indexAt,
    xattrTable,
    end: at,
  };
}

/** The tree with its inode numbers, link counts, parents and sorted listings. */
interface NumberedTree {
  numbers: Map<TreeNode, number>;
  links: Map<TreeNode, number>;
  parents: Map<TreeNode, TreeNode>;
  listings: Map<TreeNode, [Buffer, TreeNode][]>;
  /** Every inode once, in number order. */
  order: TreeNode[];
  inodeCount: number;
}

/**
 * Pass 1: inode numbers in post-order (children before their directory, the root last, as mksquashfs does), each
 * hard-linked inode once, and how many entries point at each.
 */
function numberInodes(root: TreeNode): NumberedTree {
  const t: NumberedTree = { numbers: new Map(), links: new Map(), parents: new Map(), listings: new Map(), order: [], inodeCount: 0 };
  const visit = (dir: TreeNode): void => {
    const entries = sortedEntries(dir);
    t.listings.set(dir, entries);
    for (const [name, node] of entries) {
      if (name.length === 0 || name.length > DIR_NAME_MAX) throw new Error(`squashfs: entry name of ${name.length} bytes`);
      t.links.set(node, (t.links.get(node) ?? 0) + 1);
      if (node.type === 'dir') {
        if (t.parents.has(node)) throw new Error('squashfs: a directory appears twice in the tree');
        t.parents.set(node, dir);
        visit(node);
      } else if (!t.numbers.has(node)) {
        t.numbers.set(node, t.numbers.size + 1);
        t.order.push(node);
      }
    }
    t.numbers.set(dir, t.numbers.size + 1);
    t.order.push(dir);
  };
  visit(root);
  t.inodeCount = t.numbers.size;
  return t;
}

/** The id table: each distinct uid/gid once, in order of first use. */
class IdTable {
  private readonly ids = new Map<number, number>();

  index(id: number): number {
    let i = this.ids.get(id);
    if (i === undefined) this.ids.set(id, (i = this.ids.size));
    if (i > 0xffff) throw new Error('squashfs: more than 65536 distinct uids/gids');
    return i;
  }

  get count(): number {
    return this.ids.size;
  }

  entries(): Buffer {
    const b = Buffer.alloc(this.ids.size * ID_ENTRY_SIZE);
    [...this.ids.keys()].forEach((id, i) => b.writeUInt32LE(id, i * ID_ENTRY_SIZE));
    return b;
  }
}

/** The xattr tables: each distinct list of xattrs once, its key/value pairs in metadata blocks, an id per list. */
class XattrTable {
  private readonly byKey = new Map<string, number>();
  private readonly kv = new MetaWriter();
  private readonly ids: Buffer[] = [];

  index(list: Xattr[]): number {
    if (list.length === 0) return NO_XATTR;
    const key = list.map((x) => `${x.prefix}:${x.name.toString('hex')}=${x.value.toString('hex')}`).join(';');
    let i = this.byKey.get(key);
    if (i !== undefined) return i;
    const id = Buffer.alloc(XATTR_ID_ENTRY_SIZE);
    id.writeBigUInt64LE((BigInt(this.kv.block) << 16n) | BigInt(this.kv.offset), 0);
    let size = 0;
    for (const x of list) {
      const kv = Buffer.alloc(8 + x.name.length + x.value.length);
      kv.writeUInt16LE(x.prefix, 0);
      kv.writeUInt16LE(x.name.length, 2);
      x.name.copy(kv, 4);
      kv.writeUInt32LE(x.value.length, 4 + x.name.length);
      x.value.copy(kv, 8 + x.name.length);
      this.kv.write(kv);
      size += kv.length;
    }
    id.writeUInt32LE(list.length, 8);
    id.writeUInt32LE(size, 12);
    this.ids.push(id);
    this.byKey.set(key, (i = this.byKey.size));
    return i;
  }

  get count(): number {
    return this.ids.length;
  }

  /**
   * The tables as they go at `at`: the key/value blocks, the id blocks, then the header (where the key/value blocks
   * start, how many ids) and the index of the id blocks; `tableAt` is the header's position (the superblock's field).
   */
  place(at: number): { bytes: Buffer; tableAt: number } {
    const kv = this.kv.finish();
    const idsAt = at + kv.length;
    const ids = lookupTable(Buffer.concat(this.ids), idsAt);
    const split = ids.indexAt - idsAt;
    const head = Buffer.alloc(XATTR_TABLE_HEADER_SIZE);
    head.writeBigUInt64LE(BigInt(at), 0);
    head.writeUInt32LE(this.ids.length, 8);
    return { bytes: Buffer.concat([kv, ids.bytes.subarray(0, split), head, ids.bytes.subarray(split)]), tableAt: ids.indexAt };
  }
}

function fragmentEntries(fragments: readonly FragmentEntry[]): Buffer {
  const b = Buffer.alloc(fragments.length * FRAGMENT_ENTRY_SIZE);
  fragments.forEach((f, i) => {
    b.writeBigUInt64LE(BigInt(f.start), i * FRAGMENT_ENTRY_SIZE);
    b.writeUInt32LE(f.word, i * FRAGMENT_ENTRY_SIZE + 8);
  });
  return b;
}

type Refs = Map<TreeNode, { block: number; offset: number }>;

/** Pass 2: inodes and listings in the same order, so a directory's listing can name its children's positions. */
function writeInodes(tree: NumberedTree, mtime: number, ids: IdTable, xattrs: XattrTable): { inodes: MetaWriter; dirs: MetaWriter; refs: Refs } {
  const inodes = new MetaWriter();
  const dirs = new MetaWriter();
  const refs: Refs = new Map();
  const header = (node: TreeNode, ext: boolean, buf: Buffer): void => {
    buf.writeUInt16LE(BASIC_TYPE[node.type] + (ext ? EXTENDED_TYPE_OFFSET : 0), 0);
    buf.writeUInt16LE(node.perm & 0o7777, 2);
    buf.writeUInt16LE(ids.index(node.uid), 4);
    buf.writeUInt16LE(ids.index(node.gid), 6);
    buf.writeUInt32LE(mtime >>> 0, 8);
    buf.writeUInt32LE(tree.numbers.get(node)!, 12);
  };
  for (const node of tree.order) {
    const xattr = xattrs.index(node.xattrs);
    const buf =
      node.type === 'dir'
        ? dirInode(node, tree, dirs, refs, xattr, header)
        : node.type === 'file'
          ? fileInode(node, tree.links.get(node)!, xattr, header)
          : otherInode(node, tree.links.get(node)!, xattr, header);
    refs.set(node, { block: inodes.block, offset: inodes.offset });
    inodes.write(buf);
  }
  return { inodes, dirs, refs };
}

type Header = (node: TreeNode, ext: boolean, buf: Buffer) => void;

/** A directory inode (basic when its listing is small and it has no xattrs and no index), its listing written first. */
function dirInode(node: TreeNode, tree: NumberedTree, dirs: MetaWriter, refs: Refs, xattr: number, header: Header): Buffer {
  const entries = tree.listings.get(node)!;
  const nlink = 2 + entries.filter(([, n]) => n.type === 'dir').length;
  const start = { block: dirs.block, offset: dirs.offset };
  const listing = writeListing(dirs, entries, refs, tree.numbers);
  const size = listing.size + 3; // the size counts "." and ".."
  const parent = tree.parents.get(node);
  const parentNumber = parent ? tree.numbers.get(parent)! : tree.inodeCount + 1;
  if (size <= 0xffff && xattr === NO_XATTR && listing.index.length === 0) {
    const buf = Buffer.alloc(32);
    header(node, false, buf);
    buf.writeUInt32LE(start.block, 16);
    buf.writeUInt32LE(nlink, 20);
    buf.writeUInt16LE(size, 24);
    buf.writeUInt16LE(start.offset, 26);
    buf.writeUInt32LE(parentNumber, 28);
    return buf;
  }
  const buf = Buffer.alloc(40);
  header(node, true, buf);
  buf.writeUInt32LE(nlink, 16);
  buf.writeUInt32LE(size, 20);
  buf.writeUInt32LE(start.block, 24);
  buf.writeUInt32LE(parentNumber, 28);
  buf.writeUInt16LE(listing.index.length, 32);
  buf.writeUInt16LE(start.offset, 34);
  buf.writeUInt32LE(xattr, 36);
  return Buffer.concat([buf, ...listing.index]);
}

/** A regular file inode with its block size words (extended for links, xattrs, sparse files and 4 GiB positions). */
function fileInode(node: TreeNode, nlink: number, xattr: number, header: Header): Buffer {
  const f = node.file!;
  const words = Buffer.from(f.words.buffer, f.words.byteOffset, f.words.byteLength);
  const fragmentOffset = f.fragment === NO_FRAGMENT ? 0 : f.fragmentOffset;
  if (nlink === 1 && xattr === NO_XATTR && f.sparse === 0 && f.start < 2 ** 32 && f.size < 2 ** 32) {
    const buf = Buffer.alloc(32 + words.length);
    header(node, false, buf);
    buf.writeUInt32LE(f.start, 16);
    buf.writeUInt32LE(f.fragment, 20);
    buf.writeUInt32LE(fragmentOffset, 24);
    buf.writeUInt32LE(f.size, 28);
    words.copy(buf, 32);
    return buf;
  }
  const buf = Buffer.alloc(56 + words.length);
  header(node, true, buf);
  buf.writeBigUInt64LE(BigInt(f.start), 16);
  buf.writeBigUInt64LE(BigInt(f.size), 24);
  buf.writeBigUInt64LE(BigInt(f.sparse), 32);
  buf.writeUInt32LE(nlink, 40);
  buf.writeUInt32LE(f.fragment, 44);
  buf.writeUInt32LE(fragmentOffset, 48);
  buf.writeUInt32LE(xattr, 52);
  words.copy(buf, 56);
  return buf;
}

/** Symlinks, devices, fifos and sockets: the link count, then the target or device word; the xattr index if any. */
function otherInode(node: TreeNode, nlink: number, xattr: number, header: Header): Buffer {
  const ext = xattr !== NO_XATTR;
  const body =
    node.type === 'symlink'
      ? Buffer.concat([u32(nlink), u32(node.target!.length), node.target!])
      : node.type === 'blockdev' || node.type === 'chardev'
        ? Buffer.concat([u32(nlink), u32(node.rdev ?? 0)])
        : u32(nlink);
  const buf = Buffer.concat([Buffer.alloc(16), body, ext ? u32(xattr) : Buffer.alloc(0)]);
  header(node, ext, buf);
  return buf;
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
    while (j < entries.length && j - i < DIR_RUN_MAX) {
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
  return writeSuperblock({
    magic: SQUASHFS_MAGIC,
    inodeCount: f.tables.inodeCount,
    mtime: f.mtime,
    blockSize: f.blockSize,
    fragmentCount: f.fragmentCount,
    compressorId: f.compressorId,
    blockLog: Math.log2(f.blockSize),
    flags: f.flags,
    idCount: f.tables.idCount,
    versionMajor: SQUASHFS_VERSION.major,
    versionMinor: SQUASHFS_VERSION.minor,
    rootRef: f.tables.rootRef,
    bytesUsed: BigInt(f.tables.end),
    idTable: BigInt(f.tables.idTable),
    xattrTable: f.tables.xattrTable < 0 ? TABLE_ABSENT : BigInt(f.tables.xattrTable),
    inodeTable: BigInt(f.tables.inodeTable),
    directoryTable: BigInt(f.tables.directoryTable),
    fragmentTable: BigInt(f.tables.fragmentTable),
    exportTable: TABLE_ABSENT, // no NFS export table
  });
}
