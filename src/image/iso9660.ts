/**
 * In-process ISO 9660 reader: volume descriptors, directories with Rock Ridge names/modes/symlinks (Joliet names as the
 * fallback, plain ISO names last), multi-extent files and images over 4 GiB, El Torito boot catalog. Files are
 * extents of the image, so a squashfs on the ISO is opened in place (`IsoImage.slice`).
 */
import { ExitCode, IsoBuildError } from '../errors.js';
import { corrupt, extentsSource, type ByteSource } from './source.js';

const SECTOR = 2048;
const MAX_DIR_BYTES = 64 << 20;
const MAX_DEPTH = 256;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

export interface IsoEntry {
  name: string;
  isDir: boolean;
  /** Rock Ridge st_mode when present, else 0o040555 / 0o100444. */
  mode: number;
  size: number;
  /** Byte ranges of the file in the image, in order (several for multi-extent files). */
  extents: { offset: number; length: number }[];
  target?: string;
  mtime: number;
}

/**
 * Where a file's bytes lie in the image when they form one range. A file over 4 GiB is several extents; writers lay
 * them out back to back, so they usually still do.
 */
export function contiguousRange(file: IsoEntry): { offset: number; length: number } | undefined {
  const offset = file.extents[0]?.offset ?? 0;
  let end = offset;
  for (const e of file.extents) {
    if (e.offset !== end) return undefined;
    end += e.length;
  }
  return { offset, length: end - offset };
}

export interface BootEntry {
  platform: 'BIOS' | 'UEFI' | string;
  /** Byte offset of the boot image in the ISO. */
  offset: number;
  /** 512-byte sectors the firmware loads (0 means "to the end", used for EFI images). */
  sectors: number;
  emulation: 'none' | 'floppy' | 'hard disk';
}

interface ParsedDir {
  entries: IsoEntry[];
  byName: Map<string, IsoEntry>;
}

interface Volume {
  kind: 'rockridge' | 'joliet' | 'iso9660';
  root: IsoEntry;
  /** SUSP bytes to skip at the start of each System Use area (from the root's SP entry). */
  suspSkip: number;
}

export class IsoImage {
  private constructor(
    readonly source: ByteSource,
    readonly volumeId: string,
    readonly volumeBytes: number,
    private readonly volume: Volume,
    readonly bootCatalog: number | undefined,
  ) {}

  private readonly dirs = new Map<number, Promise<ParsedDir>>();

  get name(): string {
    return this.source.name;
  }

  /** Which names this reader uses: Rock Ridge, Joliet or plain ISO 9660. */
  get nameSource(): Volume['kind'] {
    return this.volume.kind;
  }

  static async open(source: ByteSource): Promise<IsoImage> {
    let pvd: Buffer | undefined;
    let joliet: Buffer | undefined;
    let bootCatalog: number | undefined;
    for (let i = 16; i < 16 + 64; i++) {
      const d = await source.read(i * SECTOR, SECTOR, `ISO 9660 volume descriptor ${i}`).catch((err: unknown) => {
        if (i === 16) throw new IsoBuildError(`${source.name} is not an ISO 9660 image (too small for a volume descriptor)`, { exitCode: ExitCode.Usage, cause: err });
        throw err;
      });
      if (d.toString('latin1', 1, 6) !== 'CD001') {
        if (i === 16) throw new IsoBuildError(`${source.name} is not an ISO 9660 image (no CD001 volume descriptor at sector 16)`, { hint: 'give an .iso file', exitCode: ExitCode.Usage });
        throw corrupt(source.name, `ISO 9660 volume descriptor ${i}`, 'no CD001 signature before the set terminator');
      }
      const type = d[0];
      if (type === 255) break;
      if (type === 1 && !pvd) pvd = d;
      if (type === 2 && /%\/[@CE]/.test(d.toString('latin1', 88, 91))) joliet = d;
      if (type === 0 && d.toString('latin1', 7, 30) === 'EL TORITO SPECIFICATION') bootCatalog = d.readUInt32LE(71) * SECTOR;
    }
    if (!pvd) throw corrupt(source.name, 'ISO 9660 volume descriptor set', 'it has no primary volume descriptor');
    if (pvd.readUInt16LE(128) !== SECTOR) throw corrupt(source.name, 'ISO 9660 primary volume descriptor', `logical block size ${pvd.readUInt16LE(128)} (only 2048 is read)`);
    const volumeId = pvd.toString('latin1', 40, 72).trim();
    const volumeBytes = pvd.readUInt32LE(80) * SECTOR;
    if (volumeBytes > source.size) {
      throw corrupt(source.name, 'ISO 9660 primary volume descriptor', `the volume has ${volumeBytes} bytes but the file only ${source.size} (truncated download?)`);
    }
    const root = parseRecord(source.name, pvd.subarray(156, 190), 0, 'iso9660')!;
    // Rock Ridge is announced by an SP entry in the root's "." record.
    const first = await readDirBytes(source, root, 'ISO 9660 root directory');
    const dot = parseRecordRaw(source.name, first, 0);
    const sp = dot ? findSusp(dot.system, 'SP') : undefined;
    let volume: Volume;
    if (sp && sp.length >= 7 && sp[4] === 0xbe && sp[5] === 0xef) {
      volume = { kind: 'rockridge', root, suspSkip: sp[6]! };
    } else if (joliet) {
      volume = { kind: 'joliet', root: parseRecord(source.name, joliet.subarray(156, 190), 0, 'joliet')!, suspSkip: 0 };
    } else {
      volume = { kind: 'iso9660', root, suspSkip: 0 };
    }
    return new IsoImage(source, volumeId, volumeBytes, volume, bootCatalog);
  }

  root(): IsoEntry {
    return this.volume.root;
  }

  async readdir(dir: IsoEntry): Promise<IsoEntry[]> {
    return [...(await this.directory(dir)).entries];
  }

  /**
   * A directory parsed once per image, keyed by its extent: md5sum.txt checks look up hundreds of paths, and parsing
   * each directory (with its Rock Ridge entries) again from the root for every path was most of their time. The
   * promise is kept, so concurrent lookups share one parse; the image is read-only while open.
   */
  private directory(dir: IsoEntry): Promise<ParsedDir> {
    if (!dir.isDir) throw new IsoBuildError(`${this.name}: ${dir.name} is not a directory`, { exitCode: ExitCode.Usage });
    const key = dir.extents[0]?.offset ?? 0;
    let parsed = this.dirs.get(key);
    if (!parsed) {
      parsed = this.parseDirectory(dir).then((entries) => {
        const byName = new Map<string, IsoEntry>();
        // First entry wins on a duplicate name, as the linear search did.
        for (const e of entries) {
          const k = this.nameKey(e.name);
          if (!byName.has(k)) byName.set(k, e);
        }
        return { entries, byName };
      });
      parsed.catch(() => this.dirs.delete(key)); // a failed read is not remembered
      this.dirs.set(key, parsed);
    }
    return parsed;
  }

  /** Names compared exactly for Rock Ridge/Joliet, case-insensitively for plain ISO. */
  private nameKey(name: string): string {
    return this.volume.kind === 'iso9660' ? name.toLowerCase() : name;
  }

  private async parseDirectory(dir: IsoEntry): Promise<IsoEntry[]> {
    const what = `ISO 9660 directory ${dir.name || '/'}`;
    const data = await readDirBytes(this.source, dir, what);
    const out: (IsoEntry & { multiExtent: boolean })[] = [];
    let pos = 0;
    while (pos < data.length) {
      const len = data[pos]!;
      if (len === 0) {
        pos = (Math.floor(pos / SECTOR) + 1) * SECTOR; // records never cross a sector: zero padding up to the next
        continue;
      }
      const raw = parseRecordRaw(this.name, data, pos);
      if (!raw) throw corrupt(this.name, what, `the record at byte ${pos} runs past its sector`);
      pos += len;
      if (raw.id.length === 1 && (raw.id[0] === 0 || raw.id[0] === 1)) continue; // "." and ".."
      const entry = await this.entryOf(raw, what);
      if (!entry) continue;
      const prev = out[out.length - 1];
      if (prev && prev.multiExtent && prev.name === entry.name) {
        prev.extents.push(...entry.extents);
        prev.size += entry.size;
        prev.multiExtent = entry.multiExtent;
      } else {
        out.push(entry);
      }
    }
    return out.map(({ multiExtent: _, ...e }) => e);
  }

  /** The entry at an absolute path (names compared exactly for Rock Ridge/Joliet, case-insensitively for plain ISO). */
  async lookup(path: string): Promise<IsoEntry | undefined> {
    let node = this.root();
    const parts = path.split('/').filter((p) => p && p !== '.');
    if (parts.length > MAX_DEPTH) return undefined;
    for (const part of parts) {
      if (!node.isDir) return undefined;
      const next = (await this.directory(node)).byName.get(this.nameKey(part));
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  /** A file's bytes, extent by extent, in chunks of at most 4 MiB; the next chunk is read while the caller works on one. */
  async *read(file: IsoEntry): AsyncGenerator<Buffer> {
    const chunks: [number, number][] = [];
    for (const { offset, length } of file.extents) {
      for (let done = 0; done < length; done += 4 << 20) chunks.push([offset + done, Math.min(4 << 20, length - done)]);
    }
    const what = `ISO 9660 file ${file.name}`;
    const start = (i: number): Promise<Buffer> | undefined => {
      const chunk = chunks[i];
      if (!chunk) return undefined;
      const reading = this.source.read(chunk[0], chunk[1], what);
      reading.catch(() => undefined); // a caller that stops early never awaits it
      return reading;
    };
    let next = start(0);
    for (let i = 0; next; i++) {
      const current = await next;
      next = start(i + 1);
      yield current;
    }
  }

  async readAll(file: IsoEntry, max = 16 << 20): Promise<Buffer> {
    if (file.size > max) throw new IsoBuildError(`${this.name}: ${file.name} has ${file.size} bytes, more than the ${max} expected`, { exitCode: ExitCode.Usage });
    const parts: Buffer[] = [];
    for await (const c of this.read(file)) parts.push(c);
    return Buffer.concat(parts);
  }

  /** The bytes of a file as a ByteSource (how a squashfs on the ISO is opened in place), over all its extents. */
  slice(file: IsoEntry, name: string): ByteSource {
    const range = contiguousRange(file);
    if (range) return this.source.slice(range.offset, range.length, name);
    if (file.extents.reduce((n, e) => n + e.length, 0) !== file.size) {
      throw corrupt(this.name, name, `its ${file.extents.length} extents do not add up to its size (${file.size} bytes)`);
    }
    return extentsSource(this.source, file.extents, name);
  }

  /** El Torito boot entries (initial/default entry and section entries). */
  async bootEntries(): Promise<BootEntry[]> {
    if (this.bootCatalog === undefined) return [];
    const what = 'El Torito boot catalog';
    const cat = await this.source.read(this.bootCatalog, SECTOR, what);
    if (cat[0] !== 1 || cat[30] !== 0x55 || cat[31] !== 0xaa) throw corrupt(this.name, what, 'its validation entry is invalid');
    const platformOf = (id: number): string => (id === 0 ? 'BIOS' : id === 0xef ? 'UEFI' : `platform 0x${id.toString(16)}`);
    const entry = (e: Buffer, platform: number): BootEntry | undefined =>
      e[0] === 0x88
        ? { platform: platformOf(platform), offset: e.readUInt32LE(8) * SECTOR, sectors: e.readUInt16LE(6), emulation: e[1] === 0 ? 'none' : e[1] === 4 ? 'hard disk' : 'floppy' }
        : undefined;
    const out: BootEntry[] = [];
    const initial = entry(cat.subarray(32, 64), cat[1]!);
    if (initial) out.push(initial);
    // Section headers (0x90, 0x91 = last) each followed by their entries.
    for (let pos = 64; pos + 32 <= SECTOR; ) {
      const h = cat[pos];
      if (h !== 0x90 && h !== 0x91) break;
      const platform = cat[pos + 1]!;
      const count = cat.readUInt16LE(pos + 2);
      pos += 32;
      for (let i = 0; i < count && pos + 32 <= SECTOR; i++, pos += 32) {
        const e = entry(cat.subarray(pos, pos + 32), platform);
        if (e) out.push(e);
      }
      if (h === 0x91) break;
    }
    return out;
  }

  /** Every file and directory under `dir` (pre-order), for mapping boot image offsets to paths; bounded depth and count. */
  async *walk(dir: IsoEntry = this.root(), prefix = '', depth = 0): AsyncGenerator<{ path: string; entry: IsoEntry }> {
    if (depth > MAX_DEPTH) throw corrupt(this.name, 'ISO 9660 directory tree', `deeper than ${MAX_DEPTH} levels at ${prefix} (a directory loop?)`);
    for (const e of await this.readdir(dir)) {
      const path = `${prefix}/${e.name}`;
      yield { path, entry: e };
      if (e.isDir) yield* this.walk(e, path, depth + 1);
    }
  }

  private async entryOf(raw: RawRecord, what: string): Promise<(IsoEntry & { multiExtent: boolean }) | undefined> {
    const kind = this.volume.kind;
    const base = parseRecord(this.name, raw.record, 0, kind);
    if (!base) return undefined;
    let entry = { ...base, multiExtent: (raw.flags & 0x80) !== 0 };
    if (kind !== 'rockridge') return entry;
    // The System Use area is split into its entries once; every field below is picked from that list.
    const susp = suspEntries(await this.systemUse(raw.system.subarray(this.volume.suspSkip), what));
    if (pick(susp, RE)) return undefined; // relocated directory: shown where its CL entry points from
    const nm = collectNm(susp);
    if (nm !== undefined) entry.name = nm;
    const px = pick(susp, PX);
    if (px && px.length >= 12) entry.mode = px.readUInt32LE(4);
    const sl = collectSl(susp);
    if (sl !== undefined) entry.target = sl;
    const cl = pick(susp, CL);
    if (cl && cl.length >= 12) {
      // Deep directory relocated by the writer: the real directory lives at the CL extent.
      const lba = cl.readUInt32LE(4);
      const head = await this.source.read(lba * SECTOR, SECTOR, `${what} (Rock Ridge CL)`);
      const dot = parseRecordRaw(this.name, head, 0);
      if (!dot) throw corrupt(this.name, what, 'a Rock Ridge CL entry points at no directory');
      entry = { ...entry, isDir: true, extents: [{ offset: lba * SECTOR, length: dot.record.readUInt32LE(10) }], size: dot.record.readUInt32LE(10) };
    }
    return entry;
  }

  /** The System Use entries of a record plus its continuation areas (CE), bounded. */
  private async systemUse(first: Buffer, what: string): Promise<Buffer> {
    let ce = findSusp(first, 'CE');
    if (!ce) return first;
    const parts = [first];
    for (let hops = 0; ce && ce.length >= 28; hops++) {
      if (hops > 16) throw corrupt(this.name, what, 'Rock Ridge continuation areas form a chain longer than 16 (a loop?)');
      const at = ce.readUInt32LE(4) * SECTOR + ce.readUInt32LE(12);
      const more = await this.source.read(at, Math.min(ce.readUInt32LE(20), SECTOR), `${what} (Rock Ridge continuation area)`);
      parts.push(more);
      ce = findSusp(more, 'CE');
    }
    return Buffer.concat(parts);
  }
}

interface RawRecord {
  record: Buffer;
  id: Buffer;
  flags: number;
  system: Buffer;
}

function parseRecordRaw(image: string, data: Buffer, pos: number): RawRecord | undefined {
  const len = data[pos]!;
  if (len < 34 || pos + len > data.length || Math.floor(pos / SECTOR) !== Math.floor((pos + len - 1) / SECTOR)) return undefined;
  const record = data.subarray(pos, pos + len);
  const idLen = record[32]!;
  if (33 + idLen > len) throw corrupt(image, 'ISO 9660 directory record', `its name (${idLen} bytes) runs past the record (${len} bytes)`);
  const id = record.subarray(33, 33 + idLen);
  const sysStart = 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
  return { record, id, flags: record[25]!, system: record.subarray(Math.min(sysStart, len)) };
}

function parseRecord(image: string, record: Buffer, pos: number, kind: Volume['kind']): IsoEntry | undefined {
  const raw = parseRecordRaw(image, record, pos);
  if (!raw) throw corrupt(image, 'ISO 9660 directory record', 'it is shorter than 34 bytes or crosses a sector');
  const isDir = (raw.flags & 0x02) !== 0;
  const offset = raw.record.readUInt32LE(2) * SECTOR;
  const size = raw.record.readUInt32LE(10);
  let name: string;
  if (kind === 'joliet') {
    const b = Buffer.from(raw.id);
    name = b.length % 2 === 0 ? b.swap16().toString('utf16le') : raw.id.toString('latin1');
  } else {
    name = raw.id.toString('latin1');
  }
  if (!isDir) name = name.replace(/;\d+$/, '').replace(/\.$/, '');
  const t = raw.record.subarray(18, 25);
  const mtime = Date.UTC(1900 + t[0]!, t[1]! - 1, t[2]!, t[3]!, t[4]!, t[5]!) / 1000 - (t.readInt8(6) * 15 * 60);
  return { name, isDir, mode: isDir ? S_IFDIR | 0o555 : S_IFREG | 0o444, size, extents: [{ offset, length: size }], mtime };
}

async function readDirBytes(source: ByteSource, dir: IsoEntry, what: string): Promise<Buffer> {
  const ext = dir.extents[0]!;
  if (ext.length > MAX_DIR_BYTES) throw corrupt(source.name, what, `its size ${ext.length} is absurd for a directory`);
  return source.read(ext.offset, ext.length, what);
}

/** SUSP signatures as 16-bit numbers (first byte high), compared without decoding a string per entry. */
const sig16 = (sig: string): number => (sig.charCodeAt(0) << 8) | sig.charCodeAt(1);
const RE = sig16('RE');
const PX = sig16('PX');
const CL = sig16('CL');
const NM = sig16('NM');
const SL = sig16('SL');
const ST = sig16('ST');

/** SUSP entries: 2-byte signature, length, version, data. Returns the first entry with `sig`. */
function findSusp(area: Buffer, sig: string): Buffer | undefined {
  return pick(suspEntries(area), sig16(sig));
}

function pick(entries: Buffer[], sig: number): Buffer | undefined {
  return entries.find((e) => e.readUInt16BE(0) === sig);
}

export function suspEntries(area: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos + 4 <= area.length; ) {
    const len = area[pos + 2]!;
    if (len < 4 || pos + len > area.length) break;
    const e = area.subarray(pos, pos + len);
    if (e.readUInt16BE(0) === ST) break;
    out.push(e);
    pos += len;
  }
  return out;
}

/** Rock Ridge NM: name pieces joined (flag 1 = continues in the next NM). */
export function collectNm(susp: Buffer[]): string | undefined {
  const nms = susp.filter((e) => e.readUInt16BE(0) === NM && e.length >= 5);
  if (!nms.length) return undefined;
  let name = '';
  for (const e of nms) {
    if (e[4]! & 0x06) return undefined; // "." / ".." aliases
    name += e.subarray(5).toString('utf8');
  }
  return name;
}

/** Rock Ridge SL: symlink target from its components (flags: 2 current, 4 parent, 8 root, 1 continues). */
function collectSl(susp: Buffer[]): string | undefined {
  const sls = susp.filter((e) => e.readUInt16BE(0) === SL && e.length >= 5);
  if (!sls.length) return undefined;
  const parts: string[] = [];
  let pending = '';
  let continued = false;
  for (const e of sls) {
    for (let pos = 5; pos + 2 <= e.length; ) {
      const flags = e[pos]!;
      const len = e[pos + 1]!;
      const text = e.subarray(pos + 2, Math.min(pos + 2 + len, e.length)).toString('utf8');
      pos += 2 + len;
      const piece = flags & 0x02 ? '.' : flags & 0x04 ? '..' : flags & 0x08 ? '' : text;
      pending += piece;
      if (flags & 0x01) {
        continued = true;
        continue;
      }
      parts.push(pending);
      pending = '';
      continued = false;
    }
  }
  if (continued) parts.push(pending);
  const target = parts.join('/');
  return parts[0] === '' && parts.length === 1 ? '/' : target;
}

