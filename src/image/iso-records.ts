/**
 * ISO 9660 directory records, Rock Ridge System Use entries and path tables, read and written byte for byte
 * (ECMA-119 9.1, 9.4; RRIP 1.10 as xorriso writes it: PX of 36 bytes, TF with modify/access/attribute times, NM).
 * Used by the in-place writer (iso-in-place.ts): records of unchanged files are copied from the base as they are,
 * records of new files are made here.
 */
import { collectNm, suspEntries } from './iso9660.js';

export const BLOCK = 2048;

export type TreeKind = 'rockridge' | 'joliet';

export interface DirRecord {
  /** The record as the base holds it (length byte first). */
  raw: Buffer;
  /** The ISO 9660 or Joliet identifier bytes. */
  id: Buffer;
  /** Rock Ridge name (rockridge trees) or the decoded Joliet name without ";1". */
  name: string;
  isDir: boolean;
  lba: number;
  size: number;
  flags: number;
}

export interface ParsedDirExtent {
  dot: Buffer;
  dotdot: Buffer;
  records: DirRecord[];
}

/** Offset of the System Use area in a record. */
export function suOffset(raw: Buffer): number {
  const idLen = raw[32]!;
  return 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
}

/**
 * The records of one directory extent. `readCe` reads a Rock Ridge continuation area (a Rock Ridge name may
 * continue there); a directory whose records cannot be read this way returns a reason.
 */
export function parseDirExtent(data: Buffer, kind: TreeKind, readCe: (lba: number, offset: number, length: number) => Buffer): ParsedDirExtent | string {
  const records: DirRecord[] = [];
  let dot: Buffer | undefined;
  let dotdot: Buffer | undefined;
  for (let pos = 0; pos < data.length; ) {
    const len = data[pos]!;
    if (len === 0) {
      pos = (Math.floor(pos / BLOCK) + 1) * BLOCK;
      continue;
    }
    if (len < 34 || Math.floor(pos / BLOCK) !== Math.floor((pos + len - 1) / BLOCK) || pos + len > data.length) return `a directory record at byte ${pos} is malformed`;
    const raw = data.subarray(pos, pos + len);
    pos += len;
    const idLen = raw[32]!;
    if (33 + idLen > len) return 'a directory record name runs past the record';
    const id = raw.subarray(33, 33 + idLen);
    if (idLen === 1 && id[0] === 0) {
      dot = raw;
      continue;
    }
    if (idLen === 1 && id[0] === 1) {
      dotdot = raw;
      continue;
    }
    const flags = raw[25]!;
    if (flags & 0x80) return 'it holds a file stored in several extents';
    if (raw[1] !== 0) return 'it holds a record with an extended attribute record';
    let name: string;
    if (kind === 'joliet') {
      name = Buffer.from(id).swap16().toString('utf16le').replace(/;1$/, '');
    } else {
      const su = raw.subarray(suOffset(raw));
      let entries = suspEntries(su);
      const ce = entries.find((e) => e.toString('latin1', 0, 2) === 'CE' && e.length >= 28);
      if (ce) entries = entries.concat(suspEntries(readCe(ce.readUInt32LE(4), ce.readUInt32LE(12), ce.readUInt32LE(20))));
      if (entries.some((e) => ['CL', 'RE'].includes(e.toString('latin1', 0, 2)))) return 'it holds a Rock Ridge relocated directory (CL/RE)';
      const nm = collectNm(entries);
      if (nm === undefined) return `a record (${id.toString('latin1')}) has no Rock Ridge name`;
      name = nm;
    }
    records.push({ raw, id, name, isDir: (flags & 0x02) !== 0, lba: raw.readUInt32LE(2), size: raw.readUInt32LE(10), flags });
  }
  if (!dot || !dotdot) return 'it lacks its "." or ".." record';
  return { dot, dotdot, records };
}

/** A copy of a record with another extent and size (both byte orders). */
export function withExtent(raw: Buffer, lba: number, size: number): Buffer {
  const r = Buffer.from(raw);
  r.writeUInt32LE(lba, 2);
  r.writeUInt32BE(lba, 6);
  r.writeUInt32LE(size, 10);
  r.writeUInt32BE(size, 14);
  return r;
}

/** A copy of a record with its recording date and Rock Ridge TF times set to `date`. */
export function withDate(raw: Buffer, date: Buffer): Buffer {
  const r = Buffer.from(raw);
  date.copy(r, 18);
  const su = r.subarray(suOffset(r));
  for (let pos = 0; pos + 4 <= su.length; ) {
    const len = su[pos + 2]!;
    if (len < 4 || pos + len > su.length) break;
    if (su.toString('latin1', pos, pos + 2) === 'TF' && !(su[pos + 4]! & 0x80)) {
      for (let t = pos + 5; t + 7 <= pos + len; t += 7) date.copy(su, t);
    }
    pos += len;
  }
  return r;
}

/** ECMA-119 9.1.5: years since 1900, month, day, hour, minute, second, GMT offset (UTC here). */
export function recordDate(epochSeconds: number): Buffer {
  const d = new Date(epochSeconds * 1000);
  return Buffer.from([d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0]);
}

export function makeRecord(o: { id: Buffer; lba: number; size: number; isDir: boolean; date: Buffer; su?: Buffer }): Buffer {
  const pad = o.id.length % 2 === 0 ? 1 : 0;
  let len = 33 + o.id.length + pad + (o.su?.length ?? 0);
  if (len % 2) len++;
  if (len > 255) throw new RangeError(`directory record of ${len} bytes`);
  const r = Buffer.alloc(len);
  r[0] = len;
  r.writeUInt32LE(o.lba, 2);
  r.writeUInt32BE(o.lba, 6);
  r.writeUInt32LE(o.size, 10);
  r.writeUInt32BE(o.size, 14);
  o.date.copy(r, 18);
  r[25] = o.isDir ? 0x02 : 0;
  r.writeUInt16LE(1, 28);
  r.writeUInt16BE(1, 30);
  r[32] = o.id.length;
  o.id.copy(r, 33);
  o.su?.copy(r, 33 + o.id.length + pad);
  return r;
}

const both32 = (b: Buffer, v: number, pos: number): void => {
  b.writeUInt32LE(v, pos);
  b.writeUInt32BE(v, pos + 4);
};

/** Rock Ridge entries for a new file or directory: PX (mode, 1 link, owner 0:0), TF (three times), NM when named. */
export function rockRidgeEntries(mode: number, date: Buffer, name?: string): Buffer {
  const px = Buffer.alloc(36);
  px.write('PX', 0, 'latin1');
  px[2] = 36;
  px[3] = 1;
  both32(px, mode, 4);
  both32(px, 1, 12); // xorriso writes 1 for directories too: "link count unknown" to find's leaf optimisation
  const tf = Buffer.alloc(26);
  tf.write('TF', 0, 'latin1');
  tf[2] = 26;
  tf[3] = 1;
  tf[4] = 0x0e; // modify, access, attributes
  for (let t = 5; t < 26; t += 7) date.copy(tf, t);
  const parts = [px, tf];
  if (name !== undefined) {
    const n = Buffer.from(name, 'utf8');
    const nm = Buffer.alloc(5 + n.length);
    nm.write('NM', 0, 'latin1');
    nm[2] = 5 + n.length;
    nm[3] = 1;
    n.copy(nm, 5);
    parts.push(nm);
  }
  return Buffer.concat(parts);
}

/** Records packed into 2 KiB sectors (a record never crosses one), zero-padded. */
export function packRecords(records: Buffer[]): Buffer {
  const sectors: Buffer[] = [];
  let cur = Buffer.alloc(BLOCK);
  let pos = 0;
  for (const r of records) {
    if (pos + r.length > BLOCK) {
      sectors.push(cur);
      cur = Buffer.alloc(BLOCK);
      pos = 0;
    }
    r.copy(cur, pos);
    pos += r.length;
  }
  sectors.push(cur);
  return Buffer.concat(sectors);
}

/** Bytes the records take once packed (what packRecords returns). */
export function packedSize(lengths: number[]): number {
  let sectors = 1;
  let pos = 0;
  for (const len of lengths) {
    if (pos + len > BLOCK) {
      sectors++;
      pos = 0;
    }
    pos += len;
  }
  return sectors * BLOCK;
}

/**
 * A level-1 identifier for a new name (8.3 d-characters, ";1" on files), unique among `taken`: xorriso's names on
 * these images look the same (UBUNTU_0.SQU;1). Readers use the Rock Ridge or Joliet names; this one only has to be
 * valid and unique.
 */
export function isoIdentifier(name: string, isDir: boolean, taken: ReadonlySet<string>): Buffer {
  const clean = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const dot = isDir ? -1 : name.lastIndexOf('.');
  const stem = clean(dot > 0 ? name.slice(0, dot) : name) || '_';
  const ext = dot > 0 ? clean(name.slice(dot + 1)).slice(0, 3) : '';
  const make = (s: string): string => (isDir ? s : `${s}.${ext};1`);
  let id = make(stem.slice(0, 8));
  for (let n = 0; taken.has(id); n++) {
    const suffix = String(n);
    id = make(stem.slice(0, 8 - suffix.length) + suffix);
  }
  return Buffer.from(id, 'latin1');
}

/** Joliet identifier: UCS-2 big-endian, with ";1" on files when the base's Joliet tree writes it. */
export function jolietIdentifier(name: string, withVersion: boolean): Buffer {
  return Buffer.from(withVersion ? `${name};1` : name, 'utf16le').swap16();
}

/** ECMA-119 9.3 order: name, then extension, each padded with spaces; Joliet compares the UCS-2 bytes. */
export function compareIdentifiers(kind: TreeKind, a: Buffer, b: Buffer): number {
  if (kind === 'joliet') return Buffer.compare(a, b);
  const split = (id: Buffer): [string, string, string] => {
    const s = id.toString('latin1');
    const semi = s.indexOf(';');
    const body = semi >= 0 ? s.slice(0, semi) : s;
    const dot = body.indexOf('.');
    return dot >= 0 ? [body.slice(0, dot), body.slice(dot + 1), s.slice(semi + 1)] : [body, '', semi >= 0 ? s.slice(semi + 1) : ''];
  };
  const [an, ae, av] = split(a);
  const [bn, be, bv] = split(b);
  const padCmp = (x: string, y: string): number => {
    const w = Math.max(x.length, y.length);
    const xp = x.padEnd(w, ' ');
    const yp = y.padEnd(w, ' ');
    return xp < yp ? -1 : xp > yp ? 1 : 0;
  };
  return padCmp(an, bn) || padCmp(ae, be) || padCmp(bv, av);
}

export interface PathTableDir {
  id: Buffer;
  lba: number;
  /** 1-based number of the parent directory in the table (the root is its own parent, 1). */
  parent: number;
}

/** An ISO 9660 path table (ECMA-119 9.4), little- (type L) or big-endian (type M). */
export function pathTable(dirs: PathTableDir[], bigEndian: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const d of dirs) {
    const r = Buffer.alloc(8 + d.id.length + (d.id.length % 2));
    r[0] = d.id.length;
    if (bigEndian) {
      r.writeUInt32BE(d.lba, 2);
      r.writeUInt16BE(d.parent, 6);
    } else {
      r.writeUInt32LE(d.lba, 2);
      r.writeUInt16LE(d.parent, 6);
    }
    d.id.copy(r, 8);
    parts.push(r);
  }
  return Buffer.concat(parts);
}
