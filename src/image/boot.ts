/**
 * The boot setup of an ISO as the build replays it, summarized from the image itself: El Torito entries (with the
 * file each boot image is), the hybrid MBR / GPT and partitions appended after the ISO 9660 volume.
 */
import type { IsoImage } from './iso9660.js';

export interface BootSummary {
  eltorito: { platform: string; image: string; sectors: number; emulation: string }[];
  /** Boot code in the first 440 bytes (isohybrid / GRUB hybrid MBR). */
  mbrBootCode: boolean;
  mbrPartitions: Partition[];
  /** GPT entries; `type` is the GUID's text form (C12A7328-F81F-11D2-BA4B-00A0C93EC93B), as gdisk and the UEFI spec write it. */
  gptPartitions: Partition[];
  gpt: boolean;
  /** One line: what `iso-build` replays. */
  summary: string;
}

export interface Partition {
  index: number;
  type: string;
  name?: string;
  startSector: number;
  sectors: number;
  /** Lies after the ISO 9660 volume (xorriso -append_partition). */
  appended: boolean;
}

const ESP_GUID = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';

/**
 * The text form of a GUID stored on disk (UEFI spec, appendix A): the first three fields are little-endian, the last
 * two are bytes in order. So the ESP's bytes 28 73 2a c1 1f f8 d2 11 ba 4b ... read C12A7328-F81F-11D2-BA4B-....
 */
export function guidText(bytes: Buffer): string {
  if (bytes.length !== 16) throw new RangeError(`a GUID has 16 bytes, not ${bytes.length}`);
  const hex = (b: Buffer): string => b.toString('hex').toUpperCase();
  const le = (start: number, end: number): string => hex(Buffer.from(bytes.subarray(start, end)).reverse());
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(bytes.subarray(8, 10))}-${hex(bytes.subarray(10, 16))}`;
}

export async function bootSummary(iso: IsoImage): Promise<BootSummary> {
  const entries = await iso.bootEntries();
  const byOffset = new Map<number, string>();
  if (entries.length) {
    let seen = 0;
    for await (const { path, entry } of iso.walk()) {
      if (++seen > 100_000) break; // a boot image is near the root; do not scan a huge tree forever
      if (!entry.isDir && entry.extents[0]) byOffset.set(entry.extents[0].offset, path);
    }
  }
  const head = iso.source.size >= 1024 ? await iso.source.read(0, 1024, 'system area (MBR/GPT)') : Buffer.alloc(1024);
  const gpt = head.toString('latin1', 512, 520) === 'EFI PART';
  const gptPartitions = gpt ? await readGpt(iso, head.subarray(512)) : [];
  const eltorito = entries.map((e) => {
    const part = gptPartitions.find((p) => p.startSector * 512 === e.offset);
    const image = byOffset.get(e.offset) ?? (part ? `appended partition ${part.index}${part.type === ESP_GUID ? ' (EFI system)' : ''}` : `(sector ${e.offset / 2048}, not a file)`);
    return { platform: e.platform, image, sectors: e.sectors, emulation: e.emulation };
  });
  const hasMbr = head[510] === 0x55 && head[511] === 0xaa;
  const mbrBootCode = hasMbr && head.subarray(0, 440).some((b) => b !== 0);
  const volumeSectors = iso.volumeBytes / 512;
  const mbrPartitions: Partition[] = [];
  for (let i = 0; hasMbr && i < 4; i++) {
    const p = head.subarray(446 + i * 16, 462 + i * 16);
    const type = p[4]!;
    if (type === 0) continue;
    const startSector = p.readUInt32LE(8);
    mbrPartitions.push({ index: i + 1, type: `0x${type.toString(16).padStart(2, '0')}`, startSector, sectors: p.readUInt32LE(12), appended: startSector >= volumeSectors });
  }
  const parts = eltorito.map((e) => `${e.platform} ${e.image}${e.emulation === 'none' ? '' : ` (${e.emulation} emulation)`}`);
  if (mbrBootCode) parts.push('hybrid MBR boot code');
  if (gpt) parts.push('GPT');
  const kib = (p: Partition): string => `${Math.round((p.sectors * 512) / 1024)} KiB`;
  for (const p of mbrPartitions.filter((x) => x.appended)) parts.push(`appended MBR partition ${p.index} type ${p.type} (${kib(p)})`);
  for (const p of gptPartitions.filter((x) => x.type === ESP_GUID)) parts.push(`GPT EFI system partition ${p.index} (${kib(p)})`);
  return { eltorito, mbrBootCode, mbrPartitions, gptPartitions, gpt, summary: parts.join('; ') || 'not bootable (no El Torito catalog, no MBR)' };
}

/** GPT entries: the header (LBA 1) points at the array; bounded to 1024 entries of at most 1 KiB. */
async function readGpt(iso: IsoImage, header: Buffer): Promise<Partition[]> {
  const lba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const size = header.readUInt32LE(84);
  if (count === 0 || count > 1024 || size < 128 || size > 1024 || !Number.isSafeInteger(lba * 512)) return [];
  const array = await iso.source.read(lba * 512, count * size, 'GPT partition entry array');
  const volumeSectors = iso.volumeBytes / 512;
  const out: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const e = array.subarray(i * size, (i + 1) * size);
    const typeBytes = e.subarray(0, 16);
    if (typeBytes.every((b) => b === 0)) continue;
    const type = guidText(typeBytes);
    const start = Number(e.readBigUInt64LE(32));
    const end = Number(e.readBigUInt64LE(40));
    const name = e.subarray(56, 128).toString('utf16le').replace(/\0.*$/s, '');
    out.push({ index: i + 1, type, name, startSector: start, sectors: end - start + 1, appended: start >= volumeSectors });
  }
  return out;
}
