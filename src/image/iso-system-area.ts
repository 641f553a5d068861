/**
 * The boot-related structures of a hybrid ISO that hold absolute positions, moved for an image that grows by `grow`
 * bytes inserted at `at` (the end of the ISO 9660 data: what lies behind it, an appended EFI partition, xorriso's Gap
 * partition and the backup GPT, moves back by `grow`). Written for what xorriso makes (grub2-mbr and isohybrid MBRs,
 * GPT with separated or overlapping entry arrays, El Torito catalogs) and checked against the base, never guessed:
 * - MBR and GPT partitions that reach `at` grow (the ISO 9660 partition, the protective 0xEE entry, an isohybrid
 *   entry over the whole image); those that start at or behind it move; those before it stay.
 * - The GPT headers get the new backup and last-usable LBAs and fresh CRC32s; the backup header and entry array
 *   are written at the new end.
 * - El Torito entries whose image starts behind `at` (Ubuntu's EFI entry points into the appended partition) move.
 * A structure this module does not understand is returned as a reason, and the caller writes with xorriso instead.
 */
import { crc32 } from 'node:zlib';

const SECTOR = 512;
const GPT_SIGNATURE = 'EFI PART';

export interface SystemAreaPlan {
  /** The first 32 KiB of the new image (MBR, GPT header and entries, the rest of the base's system area). */
  head: Buffer;
  /** Patch the tail (the base's bytes from `at` to its end, as they are written at `at + grow`) in place. */
  patchTail(tail: Buffer): void;
  /** El Torito catalog: the new sector, or undefined when no entry moves. */
  catalog?: Buffer;
}

export interface SystemAreaInput {
  /** The base's first 32 KiB. */
  head: Buffer;
  baseSize: number;
  at: number;
  grow: number;
  /** The El Torito catalog sector (2048 bytes), when the image has one. */
  catalog?: Buffer;
}

export function planSystemArea(input: SystemAreaInput): SystemAreaPlan | { reason: string } {
  const { at, grow, baseSize } = input;
  if (at % 2048 || grow % 2048) return { reason: 'the insertion point is not on a 2 KiB block' };
  const head = Buffer.from(input.head);
  const atS = at / SECTOR;
  const growS = grow / SECTOR;
  const reason = patchMbr(head, atS, growS);
  if (reason) return { reason };
  let tailPatch: (tail: Buffer) => void = () => undefined;
  if (head.toString('latin1', SECTOR, SECTOR + 8) === GPT_SIGNATURE) {
    const gpt = patchGpt(head, atS, growS, baseSize, at);
    if ('reason' in gpt) return gpt;
    tailPatch = gpt.patchTail;
  }
  let catalog: Buffer | undefined;
  if (input.catalog) {
    const moved = patchCatalog(input.catalog, at, grow);
    if (typeof moved === 'string') return { reason: moved };
    catalog = moved;
  }
  return { head, patchTail: tailPatch, catalog };
}

/** Partition [start, start+count) in 512-byte sectors, moved or grown for the insertion; undefined when unchanged. */
function shifted(start: number, count: number, atS: number, growS: number): { start: number; count: number } | undefined {
  if (count === 0) return undefined;
  if (start >= atS) return { start: start + growS, count };
  if (start + count >= atS) return { start, count: count + growS };
  return undefined;
}

function patchMbr(head: Buffer, atS: number, growS: number): string | undefined {
  if (head[510] !== 0x55 || head[511] !== 0xaa) return undefined; // no MBR: a plain ISO
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    // Type 0 is not "empty" here: isohybrid images use it for the entry over the whole image (-iso_mbr_part_type
    // 0x00), and grub2-mbr images for the one-sector bootable entry (--mbr-force-bootable), which stays.
    const type = head[e + 4]!;
    const start = head.readUInt32LE(e + 8);
    const count = head.readUInt32LE(e + 12);
    const moved = shifted(start, count, atS, growS);
    if (!moved) continue;
    const geometry = chsGeometry(head.subarray(e, e + 16));
    const newCount = type === 0xee ? Math.min(moved.count, 0xffffffff) : moved.count;
    if (moved.start + newCount > 0xffffffff) return `MBR partition ${i + 1} would end beyond 2 TiB`;
    head.writeUInt32LE(moved.start, e + 8);
    head.writeUInt32LE(newCount, e + 12);
    if (geometry) {
      if (moved.start !== start) writeChs(head, e + 1, moved.start, geometry);
      writeChs(head, e + 5, moved.start + newCount - 1, geometry);
    }
  }
  return undefined;
}

interface Geometry {
  heads: number;
  sectors: number;
}

/** The heads/sectors the base's writer used, found by reproducing the entry's end CHS (xorriso: 64/32 or 255/63). */
function chsGeometry(entry: Buffer): Geometry | undefined {
  const end = entry.readUInt32LE(8) + entry.readUInt32LE(12) - 1;
  for (const g of [{ heads: 64, sectors: 32 }, { heads: 255, sectors: 63 }]) {
    const b = Buffer.alloc(3);
    writeChs(b, 0, end, g);
    if (b.equals(entry.subarray(5, 8))) return g;
  }
  return undefined; // e.g. 0xfe 0xff 0xff "beyond CHS": left as it is
}

function writeChs(buf: Buffer, pos: number, lba: number, g: Geometry): void {
  let c = Math.floor(lba / (g.heads * g.sectors));
  let h = Math.floor(lba / g.sectors) % g.heads;
  let s = (lba % g.sectors) + 1;
  if (c > 1023) [c, h, s] = [1023, g.heads - 1, g.sectors];
  buf[pos] = h;
  buf[pos + 1] = (s & 0x3f) | ((c >> 2) & 0xc0);
  buf[pos + 2] = c & 0xff;
}

function patchGpt(head: Buffer, atS: number, growS: number, baseSize: number, at: number): { patchTail: (tail: Buffer) => void } | { reason: string } {
  const h = head.subarray(SECTOR, 2 * SECTOR);
  const headerSize = h.readUInt32LE(12);
  if (headerSize < 92 || headerSize > SECTOR) return { reason: `GPT header size ${headerSize}` };
  if (!crcOk(h, headerSize)) return { reason: 'the base GPT header CRC does not match' };
  const backupLba = Number(h.readBigUInt64LE(32));
  const lastUsable = Number(h.readBigUInt64LE(48));
  const entriesLba = Number(h.readBigUInt64LE(72));
  const count = h.readUInt32LE(80);
  const entrySize = h.readUInt32LE(84);
  const entriesEnd = entriesLba * SECTOR + count * entrySize;
  if (entrySize < 128 || entriesEnd > head.length) return { reason: 'the GPT entry array lies outside the first 32 KiB' };
  const entries = head.subarray(entriesLba * SECTOR, entriesEnd);
  if (crc32(entries) !== h.readUInt32LE(88)) return { reason: 'the base GPT entry array CRC does not match' };
  if (backupLba * SECTOR < at || (backupLba + 1) * SECTOR > baseSize) return { reason: 'the backup GPT header does not lie behind the ISO 9660 data' };
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * entrySize, (i + 1) * entrySize);
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    if (first === 0 && last === 0) continue;
    const moved = shifted(first, last - first + 1, atS, growS);
    if (!moved) continue;
    e.writeBigUInt64LE(BigInt(moved.start), 32);
    e.writeBigUInt64LE(BigInt(moved.start + moved.count - 1), 40);
  }
  const entriesCrc = crc32(entries);
  const newBackup = backupLba + growS;
  h.writeBigUInt64LE(BigInt(newBackup), 32);
  h.writeBigUInt64LE(BigInt(lastUsable >= atS ? lastUsable + growS : lastUsable), 48);
  h.writeUInt32LE(entriesCrc, 88);
  setCrc(h, headerSize);
  const primary = Buffer.from(h);
  const entryBytes = Buffer.from(entries);
  return {
    patchTail(tail: Buffer): void {
      // The tail holds the base's bytes from `at` on, in order: the backup header and its entry array move back by
      // `grow` with the rest (xorriso may leave padding behind them), so their offsets in the tail stay.
      const headerAt = backupLba * SECTOR - at;
      const old = tail.subarray(headerAt, headerAt + SECTOR);
      const oldEntriesLba = old.toString('latin1', 0, 8) === GPT_SIGNATURE ? Number(old.readBigUInt64LE(72)) : backupLba - Math.ceil(entryBytes.length / SECTOR);
      if (oldEntriesLba * SECTOR < at) throw new RangeError('the backup GPT entry array lies before the end of the ISO 9660 data');
      const backup = Buffer.from(primary);
      backup.writeBigUInt64LE(BigInt(newBackup), 24); // my LBA
      backup.writeBigUInt64LE(1n, 32); // alternate LBA: the primary header
      backup.writeBigUInt64LE(BigInt(oldEntriesLba + growS), 72);
      setCrc(backup, headerSize);
      entryBytes.copy(tail, oldEntriesLba * SECTOR - at);
      backup.copy(tail, headerAt);
    },
  };
}

function crcOk(h: Buffer, size: number): boolean {
  const copy = Buffer.from(h.subarray(0, size));
  const want = copy.readUInt32LE(16);
  copy.writeUInt32LE(0, 16);
  return crc32(copy) === want;
}

function setCrc(h: Buffer, size: number): void {
  h.writeUInt32LE(0, 16);
  h.writeUInt32LE(crc32(h.subarray(0, size)), 16);
}

/** El Torito catalog entries (initial and section entries) whose load RBA lies behind `at` move by `grow`. */
function patchCatalog(sector: Buffer, at: number, grow: number): Buffer | string | undefined {
  if (sector[0] !== 1 || sector[30] !== 0x55 || sector[31] !== 0xaa) return 'the El Torito catalog has no valid validation entry';
  const cat = Buffer.from(sector);
  let moved = false;
  const move = (pos: number): void => {
    if (cat[pos] !== 0x88 && cat[pos] !== 0x00) return;
    const rba = cat.readUInt32LE(pos + 8);
    if (cat[pos] === 0x88 && rba * 2048 >= at) {
      cat.writeUInt32LE(rba + grow / 2048, pos + 8);
      moved = true;
    }
  };
  move(32);
  for (let pos = 64; pos + 32 <= 2048; ) {
    const hdr = cat[pos];
    if (hdr !== 0x90 && hdr !== 0x91) break;
    const n = cat.readUInt16LE(pos + 2);
    pos += 32;
    for (let i = 0; i < n && pos + 32 <= 2048; i++, pos += 32) {
      if (cat[pos] === 0x44) return 'the El Torito catalog has extension entries';
      move(pos);
    }
    if (hdr === 0x91) break;
  }
  return moved ? cat : undefined;
}
