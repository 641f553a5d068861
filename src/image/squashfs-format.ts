/**
 * The squashfs 4.0 on-disk format, once, for the reader (squashfs.ts, metadata.ts) and the writer (squashfs-tables.ts,
 * squashfs-merge.ts): the superblock layout, flags, metadata and data block words, inode types, table entry sizes.
 * Source: squashfs-tools squashfs_fs.h and Linux fs/squashfs/squashfs_fs.h.
 */

export const SQUASHFS_MAGIC = 0x73717368; // "hsqs"
export const SQUASHFS_VERSION = { major: 4, minor: 0 } as const;
export const SUPERBLOCK_SIZE = 96;

/** The superblock's fields as stored: u16/u32 fields as numbers, u64 fields (positions, the root reference) as bigints. */
export interface RawSuperblock {
  magic: number;
  inodeCount: number;
  mtime: number;
  blockSize: number;
  fragmentCount: number;
  compressorId: number;
  blockLog: number;
  flags: number;
  idCount: number;
  versionMajor: number;
  versionMinor: number;
  rootRef: bigint;
  bytesUsed: bigint;
  idTable: bigint;
  xattrTable: bigint;
  inodeTable: bigint;
  directoryTable: bigint;
  fragmentTable: bigint;
  exportTable: bigint;
}

type Width<T> = T extends bigint ? 8 : 2 | 4;
/** Offset and width of each field (little-endian). */
const LAYOUT: { readonly [K in keyof RawSuperblock]: readonly [offset: number, width: Width<RawSuperblock[K]>] } = {
  magic: [0, 4],
  inodeCount: [4, 4],
  mtime: [8, 4],
  blockSize: [12, 4],
  fragmentCount: [16, 4],
  compressorId: [20, 2],
  blockLog: [22, 2],
  flags: [24, 2],
  idCount: [26, 2],
  versionMajor: [28, 2],
  versionMinor: [30, 2],
  rootRef: [32, 8],
  bytesUsed: [40, 8],
  idTable: [48, 8],
  xattrTable: [56, 8],
  inodeTable: [64, 8],
  directoryTable: [72, 8],
  fragmentTable: [80, 8],
  exportTable: [88, 8],
};

/** The fields of the first SUPERBLOCK_SIZE bytes of `b` (the caller checks the length). */
export function readSuperblock(b: Buffer): RawSuperblock {
  const out: Record<string, number | bigint> = {};
  for (const [name, [at, width]] of Object.entries(LAYOUT)) {
    out[name] = width === 8 ? b.readBigUInt64LE(at) : width === 4 ? b.readUInt32LE(at) : b.readUInt16LE(at);
  }
  return out as unknown as RawSuperblock;
}

export function writeSuperblock(sb: RawSuperblock): Buffer {
  const b = Buffer.alloc(SUPERBLOCK_SIZE);
  for (const [name, [at, width]] of Object.entries(LAYOUT)) {
    const v = sb[name as keyof RawSuperblock];
    if (width === 8) b.writeBigUInt64LE(v as bigint, at);
    else if (width === 4) b.writeUInt32LE((v as number) >>> 0, at);
    else b.writeUInt16LE(v as number, at);
  }
  return b;
}

/** A u64 table position that is not there (no export table, no xattr table). */
export const TABLE_ABSENT = 0xffff_ffff_ffff_ffffn;

/** Superblock flags. */
export const FLAG = {
  /** Inodes stored uncompressed. */
  NOI: 0x1,
  /** An NFS export table is present. */
  EXPORTABLE: 0x80,
  /** Xattrs stored uncompressed. */
  NOX: 0x100,
  /** No xattrs at all. */
  NO_XATTRS: 0x200,
  /** A compressor options block follows the superblock. */
  COMPRESSOR_OPTIONS: 0x400,
  /** The id table stored uncompressed. */
  NOID: 0x800,
} as const;

/** Metadata blocks: a u16 header (bit 15 = stored uncompressed, low 15 bits = bytes on disk), then at most 8 KiB. */
export const META_SIZE = 8192;
export const META_HEADER_SIZE = 2;
export const META_UNCOMPRESSED = 0x8000;
export const META_SIZE_MASK = 0x7fff;

/** Data block and fragment size words: bit 24 = stored uncompressed, low 24 bits = bytes on disk. */
export const DATA_UNCOMPRESSED = 0x1000000;
export const DATA_SIZE_MASK = 0xffffff;

/** An inode's fragment index when its tail is not in a fragment, and its xattr index when it has none. */
export const NO_FRAGMENT = 0xffffffff;
export const NO_XATTR = 0xffffffff;

export type FileType = 'dir' | 'file' | 'symlink' | 'blockdev' | 'chardev' | 'fifo' | 'socket';
/** Basic inode type numbers (also the directory entry types); the extended form of each is 7 more. */
export const BASIC_TYPE: Readonly<Record<FileType, number>> = { dir: 1, file: 2, symlink: 3, blockdev: 4, chardev: 5, fifo: 6, socket: 7 };
export const EXTENDED_TYPE_OFFSET = 7;
/** File types by basic type number - 1. */
export const TYPES: readonly FileType[] = ['dir', 'file', 'symlink', 'blockdev', 'chardev', 'fifo', 'socket'];
/** st_mode type bits of each file type. */
export const TYPE_BITS: Readonly<Record<FileType, number>> = { dir: 0o040000, file: 0o100000, symlink: 0o120000, blockdev: 0o060000, chardev: 0o020000, fifo: 0o010000, socket: 0o140000 };

/**
 * A device inode's number word, the kernel's new_encode_dev / new_decode_dev (mksquashfs stores st_rdev that way):
 * minor bits 0-7 and 20-31, major bits 8-19.
 */
export function decodeDevice(word: number): { major: number; minor: number } {
  return { major: (word & 0xfff00) >>> 8, minor: (word & 0xff) | ((word >>> 12) & 0xfff00) };
}

export function encodeDevice(major: number, minor: number): number {
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** Entry sizes of the lookup tables (each a chain of metadata blocks indexed by u64 block positions). */
export const FRAGMENT_ENTRY_SIZE = 16;
export const ID_ENTRY_SIZE = 4;
export const XATTR_ID_ENTRY_SIZE = 16;
/** The xattr table's header before its index: u64 start of the key/value blocks, u32 id count, u32 unused. */
export const XATTR_TABLE_HEADER_SIZE = 16;
/** In an xattr key's type: the value is stored out of line (a u64 reference to it). */
export const XATTR_VALUE_OOL = 0x100;
export const XATTR_PREFIX_MASK = 0xff;

/** Most entries a directory header run may have, and the largest inode number difference an entry may store. */
export const DIR_RUN_MAX = 256;
export const DIR_NAME_MAX = 256;
