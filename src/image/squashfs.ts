/**
 * In-process squashfs 4.0 reader (the format of mksquashfs and squashfs-tools-ng): superblock, inodes, directories,
 * ids, fragments and data blocks, for gzip, xz, zstd and lz4 images. Works on a ByteSource, so a squashfs inside an
 * ISO is read where it lies. Files stream block by block; every structure is bounds-checked and named in errors.
 */
import { ExitCode, IsoBuildError } from '../errors.js';
import { COMPRESSOR_IDS, DecodeError, SUPPORTED, decompress, type Compressor } from './codecs.js';
import { DecodedTable, MetadataReader, type SyncCursor } from './metadata.js';
import { corrupt, type ByteSource } from './source.js';
import {
  BASIC_TYPE,
  DATA_SIZE_MASK,
  DATA_UNCOMPRESSED,
  DIR_RUN_MAX,
  EXTENDED_TYPE_OFFSET,
  FLAG,
  FRAGMENT_ENTRY_SIZE,
  ID_ENTRY_SIZE,
  META_HEADER_SIZE,
  META_SIZE,
  META_SIZE_MASK,
  NO_FRAGMENT,
  NO_XATTR,
  SQUASHFS_MAGIC,
  SQUASHFS_VERSION,
  SUPERBLOCK_SIZE,
  TABLE_ABSENT,
  TYPES,
  TYPE_BITS,
  XATTR_ID_ENTRY_SIZE,
  XATTR_PREFIX_MASK,
  XATTR_TABLE_HEADER_SIZE,
  XATTR_VALUE_OOL,
  decodeDevice,
  readSuperblock,
  type FileType,
} from './squashfs-format.js';

export { SQUASHFS_MAGIC };
/** Bigger block lists (4 bytes per block) are corruption: 16 M blocks is 2 TiB at 128 KiB. */
const MAX_BLOCK_LIST = 16 << 20;
const MAX_SYMLINK = 4096;
const MAX_SYMLINK_HOPS = 40;
const FRAGMENT_CACHE = 8;
/** Decoded inode or directory table above this is refused: about 4 million files, far past any installer rootfs. */
const MAX_TABLE = 256 << 20;
/** Tables up to this size are read at open in one go; bigger ones (huge trees) block by block, bounding memory. */
const PRELOAD_MAX = 32 << 20;

export interface SquashStat {
  type: FileType;
  /** st_mode: type bits and permissions. */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  nlink: number;
  inodeNumber: number;
  /** Bytes of a file, length of a symlink target, a directory's listing size as unsquashfs shows it, 0 otherwise. */
  size: number;
  target?: string;
  /** The symlink target's bytes as stored. */
  targetRaw?: Buffer;
  rdev?: { major: number; minor: number };
}

export interface Inode extends SquashStat {
  /** Inode reference: metadata block position * 65536 + offset (a number: listing makes one per entry). */
  readonly ref: number;
  readonly dir?: { block: number; offset: number; listingSize: number };
  /** Data blocks: their sizes are `blocks` u32 words at `list` in the decoded inode table (read lazily). */
  readonly data?: { start: number; blocks: number; list: number; fragment: number; fragmentOffset: number; sparse: number };
  /** Index into the xattr id table (extended inodes only); undefined when the inode has none. */
  readonly xattr?: number;
}

/** One extended attribute as stored: prefix id (0 user., 1 trusted., 2 security.), name without prefix, value. */
export interface Xattr {
  prefix: number;
  name: Buffer;
  value: Buffer;
}

/** A fragment table entry: where the fragment block lies and its size word (bit 24 = stored uncompressed). */
export interface FragmentEntry {
  start: number;
  word: number;
}

export interface DirEntry {
  name: string;
  ref: number;
  type: FileType;
  /** The name's bytes as stored (names need not be UTF-8). */
  raw: Buffer;
}

export interface Superblock {
  inodeCount: number;
  mtime: number;
  blockSize: number;
  fragmentCount: number;
  compressor: Compressor;
  /** The compressor as the superblock numbers it. */
  compressorId: number;
  flags: number;
  idCount: number;
  rootRef: number;
  bytesUsed: number;
  idTable: number;
  inodeTable: number;
  directoryTable: number;
  fragmentTable: number;
  /** -1 when absent. */
  exportTable: number;
  /** -1 when absent. */
  xattrTable: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function setXattr(inode: Mutable<Inode>, index: number): void {
  if (index !== NO_XATTR) inode.xattr = index;
}

export class SquashFs {
  private readonly meta: MetadataReader;
  private inodes!: DecodedTable;
  private dirs!: DecodedTable;
  private ids: Uint32Array | undefined;
  private readonly fragments = new Map<number, Buffer>();
  /** Where file data begins: after the superblock and the compressor options block that follows it (FLAG.COMPRESSOR_OPTIONS). */
  dataStart = SUPERBLOCK_SIZE;

  private constructor(
    readonly source: ByteSource,
    readonly sb: Superblock,
  ) {
    this.meta = new MetadataReader(source, sb.compressor, sb.bytesUsed);
  }

  /** Reads and checks the superblock of the squashfs that fills `source`. */
  static async open(source: ByteSource): Promise<SquashFs> {
    const sb = parseSuperblock(source.name, await source.read(0, Math.min(SUPERBLOCK_SIZE, source.size), 'squashfs superblock'), source.size);
    const fs = new SquashFs(source, sb);
    if (sb.flags & FLAG.COMPRESSOR_OPTIONS) {
      // the options are one metadata block: its header word gives its size on disk
      const header = await source.read(SUPERBLOCK_SIZE, META_HEADER_SIZE, 'squashfs compressor options');
      fs.dataStart = SUPERBLOCK_SIZE + META_HEADER_SIZE + (header.readUInt16LE(0) & META_SIZE_MASK);
    }
    await fs.meta.preload(sb.inodeTable, PRELOAD_MAX);
    await fs.loadIds();
    fs.inodes = await DecodedTable.load(fs.meta, sb.inodeTable, sb.directoryTable, MAX_TABLE, 'squashfs inode table');
    fs.dirs = await DecodedTable.load(fs.meta, sb.directoryTable, await fs.directoryTableEnd(), MAX_TABLE, 'squashfs directory table');
    return fs;
  }

  get name(): string {
    return this.source.name;
  }

  async root(): Promise<Inode> {
    const root = this.inodeSync(this.sb.rootRef);
    if (root.type !== 'dir') throw corrupt(this.name, 'squashfs root inode', `it is a ${root.type}, not a directory`);
    return root;
  }

  /** Parses an inode from the decoded inode table (no I/O, no per-field allocation: listing calls this per entry). */
  inodeSync(ref: number): Inode {
    const block = Math.floor(ref / 65536);
    const offset = ref % 65536;
    const what = (): string => `squashfs inode table (inode at block ${block} offset ${offset})`;
    const c = this.inodes.cursor(block, offset, what);
    const b = c.bytes;
    let p = c.span(16);
    const typeCode = b.readUInt16LE(p);
    const ext = typeCode > EXTENDED_TYPE_OFFSET;
    const type = TYPES[(ext ? typeCode - EXTENDED_TYPE_OFFSET : typeCode) - 1];
    if (!type || typeCode < BASIC_TYPE.dir || typeCode > BASIC_TYPE.socket + EXTENDED_TYPE_OFFSET) throw corrupt(this.name, what(), `unknown inode type ${typeCode}`);
    const inode: Mutable<Inode> = {
      ref,
      type,
      mode: TYPE_BITS[type] | (b.readUInt16LE(p + 2) & 0o7777),
      uid: this.id(b.readUInt16LE(p + 4), what),
      gid: this.id(b.readUInt16LE(p + 6), what),
      mtime: b.readUInt32LE(p + 8),
      inodeNumber: b.readUInt32LE(p + 12),
      nlink: 1,
      size: 0,
    };
    switch (type) {
      case 'dir':
        if (!ext) {
          p = c.span(16);
          inode.nlink = b.readUInt32LE(p + 4);
          inode.size = b.readUInt16LE(p + 8);
          inode.dir = { block: b.readUInt32LE(p), offset: b.readUInt16LE(p + 10), listingSize: inode.size };
        } else {
          p = c.span(24);
          inode.nlink = b.readUInt32LE(p);
          inode.size = b.readUInt32LE(p + 4);
          inode.dir = { block: b.readUInt32LE(p + 8), offset: b.readUInt16LE(p + 18), listingSize: inode.size };
          setXattr(inode, b.readUInt32LE(p + 20));
        }
        return inode;
      case 'file':
        return this.fileInode(c, inode, ext, what);
      case 'symlink': {
        p = c.span(8);
        inode.nlink = b.readUInt32LE(p);
        const len = b.readUInt32LE(p + 4);
        if (len === 0 || len > MAX_SYMLINK) throw corrupt(this.name, what(), `symlink target length ${len}`);
        p = c.span(len);
        inode.size = len;
        inode.target = b.toString('utf8', p, p + len);
        inode.targetRaw = b.subarray(p, p + len);
        if (ext) setXattr(inode, b.readUInt32LE(c.span(4)));
        return inode;
      }
      case 'blockdev':
      case 'chardev': {
        p = c.span(8);
        inode.nlink = b.readUInt32LE(p);
        inode.rdev = decodeDevice(b.readUInt32LE(p + 4));
        if (ext) setXattr(inode, b.readUInt32LE(c.span(4)));
        return inode;
      }
      default:
        inode.nlink = b.readUInt32LE(c.span(4));
        if (ext) setXattr(inode, b.readUInt32LE(c.span(4)));
        return inode;
    }
  }

  private fileInode(c: SyncCursor, inode: Mutable<Inode>, ext: boolean, what: () => string): Inode {
    const b = c.bytes;
    let start: number, fragment: number, fragmentOffset: number;
    let sparse = 0;
    if (!ext) {
      const p = c.span(16);
      [start, fragment, fragmentOffset, inode.size] = [b.readUInt32LE(p), b.readUInt32LE(p + 4), b.readUInt32LE(p + 8), b.readUInt32LE(p + 12)];
    } else {
      const p = c.span(40);
      start = safe(b.readBigUInt64LE(p), this.name, what(), 'blocks start');
      inode.size = safe(b.readBigUInt64LE(p + 8), this.name, what(), 'file size');
      sparse = safe(b.readBigUInt64LE(p + 16), this.name, what(), 'sparse bytes');
      [inode.nlink, fragment, fragmentOffset] = [b.readUInt32LE(p + 24), b.readUInt32LE(p + 28), b.readUInt32LE(p + 32)];
      setXattr(inode, b.readUInt32LE(p + 36));
    }
    const bs = this.sb.blockSize;
    const size = inode.size;
    const count = fragment === NO_FRAGMENT ? Math.ceil(size / bs) : Math.floor(size / bs);
    if (count > MAX_BLOCK_LIST) throw corrupt(this.name, what(), `file size ${size} needs ${count} blocks`);
    if (fragment !== NO_FRAGMENT && fragment >= this.sb.fragmentCount) {
      throw corrupt(this.name, what(), `fragment ${fragment} is not in the fragment table (${this.sb.fragmentCount} entries)`);
    }
    const p = c.span(count * 4);
    inode.data = { start, blocks: count, list: p, fragment, fragmentOffset, sparse };
    return inode;
  }

  /** Entries of a directory in stored (sorted) order, without . and ..: parsed from the decoded directory table (no I/O). */
  readdirSync(dir: Inode): DirEntry[] {
    if (!dir.dir) throw new IsoBuildError(`${this.name}: not a directory`, { exitCode: ExitCode.Usage });
    const { block, offset, listingSize } = dir.dir;
    const what = `squashfs directory table (directory inode ${dir.inodeNumber})`;
    if (listingSize < 3) throw corrupt(this.name, what, `listing size ${listingSize} is below the minimum of 3`);
    const c = this.dirs.cursor(block, offset, what);
    const b = c.bytes;
    const entries: DirEntry[] = [];
    let left = listingSize - 3; // the size counts "." and ".." that are not stored
    while (left > 0) {
      if (left < 12) throw corrupt(this.name, what, `${left} stray bytes after the last entry`);
      let p = c.span(12);
      left -= 12;
      const count = b.readUInt32LE(p) + 1;
      const start = b.readUInt32LE(p + 4) * 65536;
      if (count > DIR_RUN_MAX) throw corrupt(this.name, what, `a header announces ${count} entries (at most ${DIR_RUN_MAX})`);
      for (let i = 0; i < count; i++) {
        if (left < 8) throw corrupt(this.name, what, 'an entry runs past the listing size');
        p = c.span(8);
        const nameLen = b.readUInt16LE(p + 6) + 1;
        const typeCode = b.readUInt16LE(p + 4);
        const ref = start + b.readUInt16LE(p);
        left -= 8 + nameLen;
        if (left < 0) throw corrupt(this.name, what, 'an entry name runs past the listing size');
        const at = c.span(nameLen);
        const raw = b.subarray(at, at + nameLen);
        const name = raw.toString('utf8');
        const type = TYPES[typeCode - 1];
        if (!type || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
          throw corrupt(this.name, what, `invalid entry ${JSON.stringify(name)} (type ${typeCode})`);
        }
        entries.push({ name, ref, type, raw });
      }
    }
    return entries;
  }

  /**
   * The inode at an absolute path. Symlinks in the middle are followed (relative to their directory, absolute ones
   * from this filesystem's root); the last component is followed only with `follow`. Undefined when it does not exist.
   */
  async lookup(path: string, opts: { follow?: boolean } = {}): Promise<Inode | undefined> {
    let hops = 0;
    const resolve = async (parts: string[], from: Inode[]): Promise<Inode | undefined> => {
      const stack = [...from];
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        if (part === '' || part === '.') continue;
        if (part === '..') {
          if (stack.length > 1) stack.pop();
          continue;
        }
        const dir = stack[stack.length - 1]!;
        if (dir.type !== 'dir') return undefined;
        const entry = this.readdirSync(dir).find((e) => e.name === part);
        if (!entry) return undefined;
        const node = this.inodeSync(entry.ref);
        const last = i === parts.length - 1;
        if (node.type === 'symlink' && (!last || opts.follow)) {
          if (++hops > MAX_SYMLINK_HOPS) throw new IsoBuildError(`${this.name}: too many symlinks resolving ${path}`, { exitCode: ExitCode.Usage });
          const target = node.target!;
          const base = target.startsWith('/') ? [stack[0]!] : stack;
          const hit = await resolve(target.split('/'), base);
          if (!hit) return undefined;
          stack.push(hit);
        } else {
          stack.push(node);
        }
      }
      return stack[stack.length - 1];
    };
    return resolve(path.split('/'), [await this.root()]);
  }

  /** Every entry under `dir` in unsquashfs order (pre-order, stored order), with paths relative to it. */
  async *walk(dir: Inode, prefix = ''): AsyncGenerator<{ path: string; inode: Inode }> {
    yield* this.walkSync(dir, prefix);
  }

  /** walk() without a promise per entry (the tables are in memory): what listings use. */
  *walkSync(dir: Inode, prefix = ''): Generator<{ path: string; inode: Inode }> {
    // An explicit stack, not nested generators: each yield then costs one promise, not one per tree level.
    const seen = new Set<number>([dir.ref]);
    const stack: { at: string; entries: DirEntry[]; next: number }[] = [{ at: prefix, entries: this.readdirSync(dir), next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const e = top.entries[top.next++];
      if (!e) {
        stack.pop();
        continue;
      }
      const inode = this.inodeSync(e.ref);
      const path = `${top.at}/${e.name}`;
      if (inode.type !== e.type) throw corrupt(this.name, `squashfs directory entry ${path}`, `says ${e.type} but its inode is a ${inode.type}`);
      yield { path, inode };
      if (inode.type !== 'dir') continue;
      if (seen.has(e.ref)) throw corrupt(this.name, `squashfs directory ${path}`, 'it is listed twice (a directory loop)');
      if (stack.length > 4096) throw corrupt(this.name, 'squashfs directory tree', `deeper than 4096 levels at ${path}`);
      seen.add(e.ref);
      stack.push({ at: path, entries: this.readdirSync(inode), next: 0 });
    }
  }

  /** A regular file's bytes, block by block (at most one block in memory). */
  async *read(file: Inode): AsyncGenerator<Buffer> {
    if (!file.data) throw new IsoBuildError(`${this.name}: not a regular file`, { exitCode: ExitCode.Usage });
    const { start, blocks, list, fragment, fragmentOffset } = file.data;
    const table = this.inodes.bytes;
    const bs = this.sb.blockSize;
    const what = `squashfs data of inode ${file.inodeNumber}`;
    let pos = start;
    for (let i = 0; i < blocks; i++) {
      const want = Math.min(bs, file.size - i * bs);
      const word = table.readUInt32LE(list + i * 4);
      const onDisk = word & DATA_SIZE_MASK;
      if (onDisk === 0) {
        yield Buffer.alloc(want); // sparse block
        continue;
      }
      const block = await this.dataBlock(pos, word, `${what}, block ${i}`);
      if (block.length !== want) throw corrupt(this.name, `${what}, block ${i}`, `it holds ${block.length} bytes, expected ${want}`);
      yield block;
      pos += onDisk;
    }
    const tail = file.size - blocks * bs;
    if (fragment !== NO_FRAGMENT && tail > 0) {
      const frag = await this.fragment(fragment, `${what}, fragment ${fragment}`);
      if (fragmentOffset + tail > frag.length) {
        throw corrupt(this.name, `${what}, fragment ${fragment}`, `the file's tail ${fragmentOffset}+${tail} lies outside the ${frag.length}-byte fragment block`);
      }
      yield frag.subarray(fragmentOffset, fragmentOffset + tail);
    }
  }

  /** A small file's bytes, refusing files over `max` (VERSION, build-info.json, ...). */
  async readAll(file: Inode, max = 16 << 20): Promise<Buffer> {
    if (file.size > max) throw new IsoBuildError(`${this.name}: file of ${file.size} bytes is larger than the ${max} bytes expected`, { exitCode: ExitCode.Usage });
    const parts: Buffer[] = [];
    for await (const chunk of this.read(file)) parts.push(chunk);
    return Buffer.concat(parts);
  }

  /** A file's block size words as stored (size on disk in the low 24 bits, bit 24 = stored uncompressed, 0 = sparse). */
  blockWords(file: Inode): Uint32Array {
    if (!file.data) throw new IsoBuildError(`${this.name}: not a regular file`, { exitCode: ExitCode.Usage });
    const words = new Uint32Array(file.data.blocks);
    for (let i = 0; i < words.length; i++) words[i] = this.inodes.bytes.readUInt32LE(file.data.list + i * 4);
    return words;
  }

  /** Every fragment table entry, in order. */
  async fragmentTable(): Promise<FragmentEntry[]> {
    return this.fragmentEntries(0, this.sb.fragmentCount);
  }

  private async fragmentEntries(first: number, count: number): Promise<FragmentEntry[]> {
    const what = 'squashfs fragment table';
    const data = await this.tableEntries(this.sb.fragmentTable, first, count, FRAGMENT_ENTRY_SIZE, what);
    const entries: FragmentEntry[] = [];
    for (let at = 0; at < data.length; at += FRAGMENT_ENTRY_SIZE) {
      entries.push({ start: safe(data.readBigUInt64LE(at), this.name, what, 'start'), word: data.readUInt32LE(at + 8) });
    }
    return entries;
  }

  /**
   * Entries [first, first + count) of a lookup table (fragments, ids, xattr ids): fixed-size entries packed in
   * metadata blocks (never across one), the blocks' u64 positions an index at `indexAt`.
   */
  private async tableEntries(indexAt: number, first: number, count: number, entrySize: number, table: string): Promise<Buffer> {
    const perBlock = META_SIZE / entrySize;
    const firstBlock = Math.floor(first / perBlock);
    const blocks = count > 0 ? Math.ceil((first + count) / perBlock) - firstBlock : 0;
    if (blocks === 0) return Buffer.alloc(0);
    const ptrs = await this.source.read(indexAt + firstBlock * 8, blocks * 8, `${table} index`);
    const parts: Buffer[] = [];
    for (let b = 0; b < blocks; b++) {
      const ptr = safe(ptrs.readBigUInt64LE(b * 8), this.name, `${table} index`, 'pointer');
      const from = Math.max(first, (firstBlock + b) * perBlock);
      const to = Math.min(first + count, (firstBlock + b + 1) * perBlock);
      parts.push(await this.meta.cursor(ptr, 0, (from % perBlock) * entrySize, table).take((to - from) * entrySize));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** The extended attributes of xattr id `index` (out-of-line values resolved). */
  async xattrs(index: number): Promise<Xattr[]> {
    const what = `squashfs xattr table (id ${index})`;
    if (this.sb.xattrTable < 0) throw corrupt(this.name, what, 'an inode has xattrs but the filesystem has no xattr table');
    const head = await this.source.read(this.sb.xattrTable, XATTR_TABLE_HEADER_SIZE, 'squashfs xattr id table');
    const kvStart = safe(head.readBigUInt64LE(0), this.name, what, 'key/value table start');
    if (index >= head.readUInt32LE(8)) throw corrupt(this.name, what, `index ${index} is past the ${head.readUInt32LE(8)} ids`);
    const id = await this.tableEntries(this.sb.xattrTable + XATTR_TABLE_HEADER_SIZE, index, 1, XATTR_ID_ENTRY_SIZE, 'squashfs xattr id table');
    const ref = safe(id.readBigUInt64LE(0), this.name, what, 'reference');
    const count = id.readUInt32LE(8);
    const cur = this.meta.cursor(kvStart, Math.floor(ref / 65536), ref % 65536, what);
    const out: Xattr[] = [];
    for (let i = 0; i < count; i++) {
      const kh = await cur.take(4);
      const type = kh.readUInt16LE(0);
      const name = Buffer.from(await cur.take(kh.readUInt16LE(2)));
      let value: Buffer;
      const vsize = (await cur.take(4)).readUInt32LE(0);
      if (type & XATTR_VALUE_OOL) {
        // Out of line: the value field is a u64 reference to the value stored elsewhere in the key/value table.
        const vref = safe((await cur.take(vsize)).readBigUInt64LE(0), this.name, what, 'value reference');
        const vc = this.meta.cursor(kvStart, Math.floor(vref / 65536), vref % 65536, what);
        value = Buffer.from(await vc.take((await vc.take(4)).readUInt32LE(0)));
      } else {
        value = Buffer.from(await cur.take(vsize));
      }
      out.push({ prefix: type & XATTR_PREFIX_MASK, name, value });
    }
    return out;
  }

  private async dataBlock(pos: number, word: number, what: string): Promise<Buffer> {
    const onDisk = word & DATA_SIZE_MASK;
    if (onDisk > this.sb.blockSize || pos + onDisk > this.sb.bytesUsed) {
      throw corrupt(this.name, what, `${onDisk} bytes at ${pos} do not fit a ${this.sb.blockSize}-byte block inside the filesystem`);
    }
    const raw = await this.source.read(pos, onDisk, what);
    if (word & DATA_UNCOMPRESSED) return raw;
    try {
      return await decompress(this.sb.compressor, raw, this.sb.blockSize);
    } catch (err) {
      if (err instanceof DecodeError) throw corrupt(this.name, what, `it does not decompress (${err.message})`);
      throw err;
    }
  }

  private async fragment(index: number, what: string): Promise<Buffer> {
    const hit = this.fragments.get(index);
    if (hit) return hit;
    const [entry] = await this.fragmentEntries(index, 1);
    const data = await this.dataBlock(entry!.start, entry!.word, what);
    if (this.fragments.size >= FRAGMENT_CACHE) this.fragments.delete(this.fragments.keys().next().value as number);
    this.fragments.set(index, data);
    return data;
  }

  /**
   * The directory table has no stored end: it ends where the next structure begins (fragment, export or id table
   * blocks, or the xattr tables), whichever comes first after it.
   */
  private async directoryTableEnd(): Promise<number> {
    const { directoryTable, bytesUsed, fragmentTable, fragmentCount, idTable } = this.sb;
    const firstPtr = async (at: number, what: string): Promise<number> =>
      at > 0 && at + 8 <= bytesUsed ? safe((await this.source.read(at, 8, what)).readBigUInt64LE(0), this.name, what, 'pointer') : bytesUsed;
    const candidates = [bytesUsed, idTable, await firstPtr(idTable, 'squashfs id table index')];
    if (fragmentCount > 0) candidates.push(fragmentTable, await firstPtr(fragmentTable, 'squashfs fragment table index'));
    for (const t of [this.sb.exportTable, this.sb.xattrTable]) if (t > 0) candidates.push(t, await firstPtr(t, 'squashfs export/xattr table index'));
    return Math.min(...candidates.filter((c) => c > directoryTable));
  }

  private async loadIds(): Promise<void> {
    const data = await this.tableEntries(this.sb.idTable, 0, this.sb.idCount, ID_ENTRY_SIZE, 'squashfs id table');
    const ids = new Uint32Array(this.sb.idCount);
    for (let i = 0; i < ids.length; i++) ids[i] = data.readUInt32LE(i * ID_ENTRY_SIZE);
    this.ids = ids;
  }

  private id(index: number, what: () => string): number {
    const v = this.ids![index];
    if (v === undefined) throw corrupt(this.name, what(), `uid/gid index ${index} is not in the id table (${this.sb.idCount} ids)`);
    return v;
  }
}

function safe(v: bigint, image: string, what: string, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(image, what, `${field} ${v} is beyond any image size`);
  return Number(v);
}

function parseSuperblock(image: string, b: Buffer, imageSize: number): Superblock {
  const what = 'squashfs superblock';
  if (b.length < SUPERBLOCK_SIZE) throw corrupt(image, what, `the image has only ${b.length} bytes`);
  const raw = readSuperblock(b);
  if (raw.magic !== SQUASHFS_MAGIC) {
    throw new IsoBuildError(`${image} is not a squashfs image (no hsqs magic)`, { hint: 'give a squashfs file or an ISO that contains one', exitCode: ExitCode.Usage });
  }
  const [major, minor] = [raw.versionMajor, raw.versionMinor];
  if (major !== SQUASHFS_VERSION.major || minor !== SQUASHFS_VERSION.minor) throw corrupt(image, what, `version ${major}.${minor} (only 4.0 is read)`);
  const compressor = COMPRESSOR_IDS[raw.compressorId];
  if (!compressor) throw corrupt(image, what, `unknown compressor id ${raw.compressorId}`);
  if (!SUPPORTED.includes(compressor)) {
    throw new IsoBuildError(`${image}: squashfs compressed with ${compressor} cannot be read in-process`, {
      hint: `supported: ${SUPPORTED.join(', ')}; repack it with mksquashfs -comp xz (or read it with unsquashfs)`,
      exitCode: ExitCode.Usage,
    });
  }
  const { blockSize, blockLog } = raw;
  if (blockSize < 4096 || blockSize > 1 << 20 || 1 << blockLog !== blockSize) {
    throw corrupt(image, what, `block size ${blockSize} (log ${blockLog}) is not a power of two from 4 KiB to 1 MiB`);
  }
  const u64 = (v: bigint, field: string): number => safe(v, image, what, field);
  const sb: Superblock = {
    inodeCount: raw.inodeCount,
    mtime: raw.mtime,
    blockSize,
    fragmentCount: raw.fragmentCount,
    compressor,
    compressorId: raw.compressorId,
    flags: raw.flags,
    idCount: raw.idCount,
    rootRef: rootRef(image, raw.rootRef),
    bytesUsed: u64(raw.bytesUsed, 'bytes_used'),
    idTable: u64(raw.idTable, 'id table start'),
    inodeTable: u64(raw.inodeTable, 'inode table start'),
    directoryTable: u64(raw.directoryTable, 'directory table start'),
    fragmentTable: optionalTable(raw.fragmentTable),
    exportTable: optionalTable(raw.exportTable),
    xattrTable: optionalTable(raw.xattrTable),
  };
  if (sb.bytesUsed > imageSize) throw corrupt(image, what, `it claims ${sb.bytesUsed} bytes but the image has ${imageSize} (truncated?)`);
  if (sb.idCount === 0) throw corrupt(image, what, 'the id table is empty');
  if (sb.inodeCount === 0) throw corrupt(image, what, 'it has no inodes');
  const inRange = (v: number): boolean => v >= SUPERBLOCK_SIZE && v < sb.bytesUsed;
  if (!inRange(sb.inodeTable) || !inRange(sb.directoryTable) || !inRange(sb.idTable) || sb.inodeTable >= sb.directoryTable) {
    throw corrupt(image, what, `table offsets (inodes ${sb.inodeTable}, directories ${sb.directoryTable}, ids ${sb.idTable}) are out of order or outside its ${sb.bytesUsed} bytes`);
  }
  if (sb.fragmentCount > 0 && !inRange(sb.fragmentTable)) throw corrupt(image, what, `fragment table offset ${sb.fragmentTable} is outside the filesystem`);
  return sb;
}

/** The root inode reference as a number; its block part must fit a safe integer once multiplied by 65536. */
function rootRef(image: string, ref: bigint): number {
  if (ref >> 16n > 1n << 36n) throw corrupt(image, 'squashfs superblock', `root inode reference ${ref} points past any inode table`);
  return Number(ref >> 16n) * 65536 + Number(ref & 0xffffn);
}

/** A u64 table offset that may be absent (TABLE_ABSENT, or anything past a safe integer): absent becomes -1. */
function optionalTable(v: bigint): number {
  return v === TABLE_ABSENT || v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}
