/**
 * The partitions of a raw disk image (MBR, or GPT behind a protective MBR), read in-process, and the one an
 * installer put the root file system on: the largest partition with an ext2/3/4 superblock.
 */
import { open } from 'node:fs/promises';
import { guidText } from '../image/boot.js';

export interface Partition {
  /** 1-based, as the kernel numbers them (/dev/vda1). */
  number: number;
  offsetBytes: number;
  sizeBytes: number;
  /** MBR type byte as two hex digits, or the GPT type GUID in its text form. */
  type: string;
}

const SECTOR = 512;
const EXT_MAGIC_OFFSET = 1024 + 56;

export async function readPartitions(image: string): Promise<Partition[]> {
  const fh = await open(image, 'r');
  try {
    const head = Buffer.alloc(SECTOR * 2);
    await fh.read(head, 0, head.length, 0);
    if (head.readUInt16LE(510) !== 0xaa55) return [];
    const mbr: Partition[] = [];
    for (let i = 0; i < 4; i++) {
      const e = 446 + i * 16;
      const type = head[e + 4]!;
      const start = head.readUInt32LE(e + 8);
      const count = head.readUInt32LE(e + 12);
      if (type === 0 || count === 0) continue;
      mbr.push({ number: i + 1, offsetBytes: start * SECTOR, sizeBytes: count * SECTOR, type: type.toString(16).padStart(2, '0') });
    }
    if (!(mbr.length >= 1 && mbr[0]!.type === 'ee' && head.toString('latin1', 512, 520) === 'EFI PART')) return mbr;
    const entriesLba = Number(head.readBigUInt64LE(512 + 72));
    const entryCount = head.readUInt32LE(512 + 80);
    const entrySize = head.readUInt32LE(512 + 84);
    const table = Buffer.alloc(Math.min(entryCount, 256) * entrySize);
    await fh.read(table, 0, table.length, entriesLba * SECTOR);
    const gpt: Partition[] = [];
    for (let i = 0; i * entrySize < table.length; i++) {
      const e = table.subarray(i * entrySize, (i + 1) * entrySize);
      if (e.subarray(0, 16).every((b) => b === 0)) continue;
      const first = Number(e.readBigUInt64LE(32));
      const last = Number(e.readBigUInt64LE(40));
      gpt.push({ number: i + 1, offsetBytes: first * SECTOR, sizeBytes: (last - first + 1) * SECTOR, type: guidText(e.subarray(0, 16)) });
    }
    return gpt;
  } finally {
    await fh.close();
  }
}

/** The root candidate: the largest partition holding an ext2/3/4 superblock (or a whole-disk file system). */
export async function findExtRoot(image: string): Promise<Partition | undefined> {
  const parts = await readPartitions(image);
  const fh = await open(image, 'r');
  try {
    const magic = Buffer.alloc(2);
    const isExt = async (offset: number): Promise<boolean> => {
      const { bytesRead } = await fh.read(magic, 0, 2, offset + EXT_MAGIC_OFFSET);
      return bytesRead === 2 && magic.readUInt16LE(0) === 0xef53;
    };
    const ext: Partition[] = [];
    for (const p of parts) if (await isExt(p.offsetBytes)) ext.push(p);
    if (ext.length === 0 && (await isExt(0))) {
      const st = await fh.stat();
      return { number: 0, offsetBytes: 0, sizeBytes: st.size, type: 'none' };
    }
    return ext.sort((a, b) => b.sizeBytes - a.sizeBytes)[0];
  } finally {
    await fh.close();
  }
}
