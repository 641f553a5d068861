/**
 * The in-place ISO writer: the new image is the base image with every unchanged byte where it was. What a build
 * changes is inserted at the end of the ISO 9660 data (new and replaced files, the directories that lead to them,
 * new path tables), what lay behind it (appended partitions, the backup GPT) moves back, and the few sectors that
 * point at moved things are patched: volume descriptors, MBR/GPT (iso-system-area.ts), the El Torito catalog and
 * the ".." records of directories whose parent moved. So the write is one kernel copy of the base (copy_file_range or
 * a reflink) plus the new bytes, and the sha256 is computed from the same bytes in the same pass (or resumed from the
 * state an earlier build saved after the same patched head: HeadHashMemo). A replaced file that starts with the base
 * file's bytes (a squashfs merged into the base's) keeps them in the base's extent and gets a second one behind the
 * data (InPlaceFile.keep).
 *
 * Every tree the base has is edited the same way: Rock Ridge and Joliet, and the second set of volume descriptors
 * xorriso writes with -partition_offset (Ubuntu's: a tree with addresses relative to partition 1, for mounting the
 * partition). Anything else (no Rock Ridge, relocated deep directories, multi-extent files in the base, boot images or partition
 * targets among the changed files, names that need continuation areas) is returned as a reason: the caller writes
 * with xorriso then, and says why.
 */
import { constants as fsConstants } from 'node:fs';
import { copyFile, open, type FileHandle } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { planSystemArea } from './iso-system-area.js';
import { resumableSha256, resumeSha256, type ResumableSha256 } from '../sha256-state.js';
import {
  BLOCK,
  compareIdentifiers,
  isoIdentifier,
  jolietIdentifier,
  makeRecord,
  packedSize,
  packRecords,
  parseDirExtent,
  pathTable,
  recordDate,
  rockRidgeEntries,
  withDate,
  withExtent,
  type DirRecord,
  type PathTableDir,
  type TreeKind,
} from './iso-records.js';

export interface InPlaceFile {
  /** Path in the ISO, '/'-separated, no leading slash. */
  iso: string;
  disk: string;
  size: number;
  /** st_mode written to Rock Ridge (mkisofs -r's rules applied by the caller). */
  mode: number;
  /**
   * The file replaces the base's file at the same path and its first `keep` bytes are that file's own, but for the
   * first sector (a squashfs merged into the base image: squashfs-merge.ts keeps the base's bytes up to its tables and
   * rewrites the superblock). Those bytes then stay where they are: the file becomes two extents (ISO 9660 level 3),
   * the base's, cut to whole blocks, and the rest inserted with the other new data.
   */
  keep?: number;
}

/** A file whose leading blocks stay in the base's extent (InPlaceFile.keep). */
interface Kept {
  /** Absolute byte offset of the base's extent. */
  offset: number;
  /** Bytes of the file that stay there (whole blocks). */
  bytes: number;
}

export interface InPlaceChanges {
  removed: string[];
  /** New directories, parents before children. */
  dirs: string[];
  files: InPlaceFile[];
}

export interface InPlaceOptions {
  base: string;
  changes: InPlaceChanges;
  volumeId: string;
  /** Date of new and replaced files. */
  epochSeconds: number;
}

type Piece = { kind: 'bytes'; data: Buffer } | { kind: 'file'; path: string; from: number; size: number } | { kind: 'zero'; size: number };

export interface InPlacePlan {
  base: string;
  baseSize: number;
  /** Where the new bytes go in the base's layout (the end of its ISO 9660 data). */
  at: number;
  /** Bytes inserted at `at`. */
  grow: number;
  size: number;
  /** Patched sectors before `at`, by byte offset. */
  patches: Map<number, Buffer>;
  /** What goes at `at`, in order (grow bytes in all). */
  region: Piece[];
  /** The base's bytes from `at` on, patched, written at at + grow. */
  tail: Buffer;
  /** Bytes of replaced and removed files left in the image unreferenced. */
  deadBytes: number;
  /** Files that keep their leading blocks in the base's extent, with the bytes kept. */
  kept: { iso: string; bytes: number }[];
  stats: { trees: number; directories: number; files: number };
}

const MiB = 1 << 20;
/**
 * Replaced files' old bytes stay in the image, unreferenced: above 1% of the base (at least 4 MiB) xorriso's
 * rewrite, which drops them, is the better deal (a repacked single squashfs, for one).
 */
const maxDeadBytes = (baseSize: number): number => Math.max(4 * MiB, baseSize / 100);
const MAX_TAIL = 256 * MiB;

class Unsupported extends Error {}
const unsupported = (reason: string): never => {
  throw new Unsupported(reason);
};

type PlacedFile = InPlaceFile & { lba: number; kept?: Kept };

interface Entry {
  name: string;
  isDir: boolean;
  id?: Buffer;
  baseRec?: DirRecord;
  file?: PlacedFile;
  dir?: DirNode;
}

interface DirNode {
  path: string;
  parent?: DirNode;
  lba: number;
  size: number;
  entries?: Map<string, Entry>;
  /** Names in base order, then new names where they sort. */
  order?: string[];
  dot?: Buffer;
  dotdot?: Buffer;
  isNew: boolean;
  dirty: boolean;
  newLba?: number;
  records?: Buffer[];
}

/** Reads of the base by absolute byte offset, synchronous: the planner reads a few hundred small extents. */
class BaseReader {
  constructor(readonly fd: number) {}
  read(offset: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) unsupported(`the base ends before byte ${offset + length}`);
      done += n;
    }
    return buf;
  }
}

interface VolumeSet {
  /** Block of the primary volume descriptor. */
  pvd: number;
  joliet?: number;
  /** Blocks added to every address in this set's trees (xorriso's -partition_offset for the second set). */
  bias: number;
  catalog?: number;
}

function volumeSets(r: BaseReader): VolumeSet[] {
  const sets: VolumeSet[] = [];
  let block = 16;
  for (let set = 0; set < 2; set++) {
    const first = r.read(block * BLOCK, BLOCK);
    if (first.toString('latin1', 1, 6) !== 'CD001' || first[0] !== 1) break;
    const vs: VolumeSet = { pvd: block, bias: block - 16 };
    for (let b = block + 1; ; b++) {
      if (b > block + 32) unsupported('no volume descriptor set terminator');
      const d = r.read(b * BLOCK, BLOCK);
      if (d.toString('latin1', 1, 6) !== 'CD001') unsupported(`a volume descriptor at block ${b} has no CD001`);
      if (d[0] === 255) {
        block = b + 1;
        break;
      }
      if (d[0] === 0 && d.toString('latin1', 7, 30) === 'EL TORITO SPECIFICATION') vs.catalog = d.readUInt32LE(71);
      else if (d[0] === 2 && /%\/[@CE]/.test(d.toString('latin1', 88, 91)) && vs.joliet === undefined) vs.joliet = b;
      else unsupported(`volume descriptor type ${d[0]} at block ${b}`);
    }
    sets.push(vs);
    if (set === 0) {
      // xorriso -partition_offset N writes a second set at block 16 + N: find it behind the first terminator.
      let next = -1;
      for (let b = block; b < 16 + 64; b++) {
        const d = r.read(b * BLOCK, 8);
        if (d[0] === 1 && d.toString('latin1', 1, 6) === 'CD001') {
          next = b;
          break;
        }
      }
      if (next < 0) break;
      block = next;
    }
  }
  if (!sets.length) unsupported('no primary volume descriptor');
  return sets;
}

/** One directory tree of one volume descriptor, edited in memory. */
class TreeEdit {
  readonly root: DirNode;
  private readonly date: Buffer;
  private readonly jolietVersion: boolean;
  directories = 0;
  private readonly seen = new Set<number>();

  constructor(
    private readonly r: BaseReader,
    readonly kind: TreeKind,
    readonly vd: number,
    readonly bias: number,
    epochSeconds: number,
  ) {
    const d = r.read(vd * BLOCK, BLOCK);
    const rootRec = d.subarray(156, 190);
    this.root = { path: '', lba: rootRec.readUInt32LE(2), size: rootRec.readUInt32LE(10), isNew: false, dirty: false };
    this.date = recordDate(epochSeconds);
    this.load(this.root);
    if (kind === 'rockridge') {
      const sp = this.root.dot!.subarray(34);
      if (sp.toString('latin1', 0, 2) !== 'SP' || sp[4] !== 0xbe || sp[5] !== 0xef) unsupported('the base has no Rock Ridge tree');
    }
    this.jolietVersion = kind === 'joliet' && [...this.root.entries!.values()].some((e) => !e.isDir && e.baseRec!.id.length >= 4 && e.baseRec!.id.toString('latin1').endsWith('\u0000;\u00001'));
  }

  private abs(lba: number): number {
    return (lba + this.bias) * BLOCK;
  }

  load(dir: DirNode): Map<string, Entry> {
    if (dir.entries) return dir.entries;
    if (dir.size > 16 * MiB) unsupported(`directory /${dir.path} has ${dir.size} bytes`);
    // Every directory is read once: an extent seen twice is a loop (or a hard-linked directory) in a crafted image.
    if (this.seen.has(dir.lba)) unsupported(`directory /${dir.path} is a directory the tree already holds (a loop?)`);
    this.seen.add(dir.lba);
    if (dir.path.split('/').length > 256) unsupported(`directory /${dir.path.slice(0, 200)}... is deeper than 256 levels`);
    const parsed = parseDirExtent(this.r.read(this.abs(dir.lba), dir.size), this.kind, (lba, off, len) => this.r.read(this.abs(lba) + off, Math.min(len, BLOCK)));
    if (typeof parsed === 'string') return unsupported(`directory /${dir.path}: ${parsed}`);
    dir.dot = parsed.dot;
    dir.dotdot = parsed.dotdot;
    dir.entries = new Map();
    dir.order = [];
    for (const rec of parsed.records) {
      if (dir.entries.has(rec.name)) unsupported(`directory /${dir.path} has two entries named ${rec.name}`);
      const e: Entry = { name: rec.name, isDir: rec.isDir, id: rec.id, baseRec: rec };
      if (rec.isDir) e.dir = { path: dir.path ? `${dir.path}/${rec.name}` : rec.name, parent: dir, lba: rec.lba, size: rec.size, isNew: false, dirty: false };
      dir.entries.set(rec.name, e);
      dir.order.push(rec.name);
    }
    this.directories++;
    return dir.entries;
  }

  private dirAt(path: string): DirNode {
    let node = this.root;
    for (const part of path.split('/').filter(Boolean)) {
      const e = this.load(node).get(part);
      if (!e) return unsupported(`/${path} is not in the ${this.kind} tree`);
      if (!e.dir) return unsupported(`/${path} is not a directory in the ${this.kind} tree`);
      node = e.dir;
    }
    this.load(node);
    return node;
  }

  private touch(dir: DirNode): void {
    for (let d: DirNode | undefined = dir; d && !d.dirty; d = d.parent) d.dirty = true;
  }

  private split(path: string): [string, string] {
    const i = path.lastIndexOf('/');
    return i < 0 ? ['', path] : [path.slice(0, i), path.slice(i + 1)];
  }

  /** Returns the bytes of file data the removal leaves unreferenced (directories' contents are not counted). */
  remove(path: string): number {
    const [parentPath, name] = this.split(path);
    const parent = this.dirAt(parentPath);
    const e = parent.entries!.get(name);
    if (!e) return unsupported(`/${path} (to remove) is not in the ${this.kind} tree`);
    parent.entries!.delete(name);
    parent.order = parent.order!.filter((n) => n !== name);
    this.touch(parent);
    return e.isDir ? 0 : e.baseRec!.size;
  }

  mkdir(path: string): void {
    const [parentPath, name] = this.split(path);
    const parent = this.dirAt(parentPath);
    const e = parent.entries!.get(name);
    if (e) {
      if (!e.isDir) unsupported(`/${path} is a file in the base and a directory in the build`);
      return;
    }
    const dir: DirNode = { path, parent, lba: 0, size: 0, isNew: true, dirty: true, entries: new Map(), order: [] };
    this.insert(parent, { name, isDir: true, dir });
    this.touch(parent);
  }

  /** Returns the bytes of the replaced file left unreferenced. */
  put(file: PlacedFile): number {
    const [parentPath, name] = this.split(file.iso);
    const parent = this.dirAt(parentPath);
    const e = parent.entries!.get(name);
    this.touch(parent);
    if (e) {
      if (e.isDir) unsupported(`/${file.iso} is a directory in the base and a file in the build`);
      e.file = file;
      if (file.kept && this.abs(e.baseRec!.lba) !== file.kept.offset) unsupported(`/${file.iso}: its ${this.kind} record points at other bytes than the main tree's`);
      return e.baseRec!.size - (file.kept?.bytes ?? 0);
    }
    if (file.kept) unsupported(`/${file.iso} keeps bytes of a base file the ${this.kind} tree does not have`);
    this.insert(parent, { name, isDir: false, file });
    return 0;
  }

  /** The base's record of the file at `path`, if it has one. */
  baseFile(path: string): DirRecord | undefined {
    const [parentPath, name] = this.split(path);
    let node = this.root;
    for (const part of parentPath.split('/').filter(Boolean)) {
      const e = this.load(node).get(part);
      if (!e?.dir) return undefined;
      node = e.dir;
    }
    const e = this.load(node).get(name);
    return e && !e.isDir ? e.baseRec : undefined;
  }

  /** Absolute byte offset of a record's extent in this tree. */
  offsetOf(rec: DirRecord): number {
    return this.abs(rec.lba);
  }

  private insert(parent: DirNode, e: Entry): void {
    const taken = new Set([...parent.entries!.values()].flatMap((x) => (x.id ? [x.id.toString('latin1')] : [])));
    e.id = this.kind === 'joliet' ? jolietIdentifier(e.name, !e.isDir && this.jolietVersion) : isoIdentifier(e.name, e.isDir, taken);
    if (this.kind === 'joliet' && e.name.length > 103) unsupported(`/${parent.path}/${e.name}: a Joliet name over 103 characters`);
    if (taken.has(e.id.toString('latin1'))) unsupported(`/${parent.path}/${e.name}: its Joliet name is taken`);
    parent.entries!.set(e.name, e);
    const order = parent.order!;
    let i = order.length;
    while (i > 0 && compareIdentifiers(this.kind, parent.entries!.get(order[i - 1]!)!.id!, e.id) > 0) i--;
    order.splice(i, 0, e.name);
  }

  private dirtyDirs(): DirNode[] {
    const out: DirNode[] = [];
    const visit = (d: DirNode): void => {
      if (!d.dirty) return;
      out.push(d);
      for (const name of d.order!) {
        const e = d.entries!.get(name)!;
        if (e.dir) visit(e.dir);
      }
    };
    visit(this.root);
    return out;
  }

  /** The records of a dirty directory; LBAs of dirty children and files filled from `newLba`/`file.lba`. */
  private records(d: DirNode): Buffer[] {
    const rr = this.kind === 'rockridge';
    const parent = d.parent ?? d;
    const self = { lba: d.newLba ?? 0, size: d.records ? packedSize(d.records.map((r) => r.length)) : 0 };
    const parentExt = parent.dirty ? { lba: parent.newLba ?? 0, size: parent.records ? packedSize(parent.records.map((r) => r.length)) : 0 } : { lba: parent.lba, size: parent.size };
    const dirSu = (name?: string): Buffer | undefined => (rr ? rockRidgeEntries(0o040555, this.date, name) : undefined);
    const out: Buffer[] = [
      d.isNew ? makeRecord({ id: Buffer.from([0]), ...self, isDir: true, date: this.date, su: dirSu() }) : withExtent(d.dot!, self.lba, self.size),
      d.isNew ? makeRecord({ id: Buffer.from([1]), ...parentExt, isDir: true, date: this.date, su: dirSu() }) : withExtent(d.dotdot!, parentExt.lba, parentExt.size),
    ];
    for (const name of d.order!) {
      const e = d.entries!.get(name)!;
      if (e.dir?.dirty) {
        const size = e.dir.records ? packedSize(e.dir.records.map((r) => r.length)) : 0;
        out.push(e.baseRec ? withExtent(e.baseRec.raw, e.dir.newLba ?? 0, size) : makeRecord({ id: e.id!, lba: e.dir.newLba ?? 0, size, isDir: true, date: this.date, su: dirSu(e.name) }));
      } else if (e.file?.kept && e.baseRec) {
        // Two file sections under one name (ECMA-119 9.1.6: the multi-extent flag on every record but the last).
        // Linux (isofs_read_level3_size), xorriso and GRUB read them as one file, the Rock Ridge fields from each.
        const first = withDate(withExtent(e.baseRec.raw, e.baseRec.lba, e.file.kept.bytes), this.date);
        first[25] = first[25]! | 0x80;
        out.push(first, withDate(withExtent(e.baseRec.raw, e.file.lba - this.bias, e.file.size - e.file.kept.bytes), this.date));
      } else if (e.file) {
        const lba = e.file.size ? e.file.lba - this.bias : 0;
        out.push(
          e.baseRec
            ? withDate(withExtent(e.baseRec.raw, lba, e.file.size), this.date)
            : makeRecord({ id: e.id!, lba, size: e.file.size, isDir: false, date: this.date, su: rr ? rockRidgeEntries(e.file.mode, this.date, e.name) : undefined }),
        );
      } else {
        out.push(e.baseRec!.raw);
      }
    }
    if (out.some((r) => r.length > 255)) unsupported(`directory /${d.path}: a record would need a continuation area`);
    return out;
  }

  /** Lays out the dirty directories at `next` (absolute blocks); returns the blocks used. */
  layout(next: number): number {
    const dirs = this.dirtyDirs();
    // Sizes first (records have fixed-width address fields), then addresses, then the final bytes.
    for (const d of dirs) d.records = this.records(d);
    let block = next;
    for (const d of dirs) {
      d.newLba = block - this.bias;
      block += packedSize(d.records!.map((r) => r.length)) / BLOCK;
    }
    for (const d of dirs) d.records = this.records(d);
    return block - next;
  }

  dirBytes(): Buffer[] {
    return this.dirtyDirs().map((d) => packRecords(d.records!));
  }

  /** ".." records of unchanged directories whose parent moved: patched in their first sector. */
  parentPatches(sector: (offset: number) => Buffer): void {
    for (const d of this.dirtyDirs()) {
      const size = packedSize(d.records!.map((r) => r.length));
      for (const name of d.order!) {
        const child = d.entries!.get(name)!.dir;
        if (!child || child.dirty) continue;
        const s = sector(this.abs(child.lba));
        const dotLen = s[0]!;
        if (s[dotLen + 32] !== 1 || s[dotLen + 33] !== 1) unsupported(`directory /${child.path}: its ".." is not its second record`);
        const len = s[dotLen]!;
        withExtent(s.subarray(dotLen, dotLen + len), d.newLba!, size).copy(s, dotLen);
      }
    }
  }

  /** The tree's directories in path-table order (by level, then parent number, then identifier). */
  pathTableDirs(): PathTableDir[] {
    const out: PathTableDir[] = [{ id: Buffer.from([0]), lba: this.root.newLba ?? this.root.lba, parent: 1 }];
    const queue: [DirNode, number][] = [[this.root, 1]];
    for (let qi = 0; qi < queue.length; qi++) {
      const [dir, number] = queue[qi]!;
      this.load(dir);
      for (const name of dir.order!) {
        const e = dir.entries!.get(name)!;
        if (!e.dir) continue;
        if (out.length >= 65535) unsupported('more than 65535 directories');
        out.push({ id: e.id!, lba: e.dir.newLba ?? e.dir.lba, parent: number });
        queue.push([e.dir, out.length]);
      }
    }
    return out;
  }

  rootExtent(): { lba: number; size: number } {
    return { lba: this.root.newLba ?? this.root.lba, size: this.root.records ? packedSize(this.root.records.map((r) => r.length)) : this.root.size };
  }

  /** Highest byte any record of the tree addresses (files and directories), for finding the end of the data. */
  dataEnd(): number {
    let end = 0;
    const visit = (d: DirNode): void => {
      end = Math.max(end, this.abs(d.lba) + d.size);
      for (const e of this.load(d).values()) {
        if (e.dir) visit(e.dir);
        else if (e.baseRec && e.baseRec.size > 0) end = Math.max(end, this.abs(e.baseRec.lba) + Math.ceil(e.baseRec.size / BLOCK) * BLOCK);
      }
    };
    visit(this.root);
    return end;
  }

  /** Every file extent start (absolute byte offset) of the base tree, to tell boot images and partitions apart. */
  fileAt(offset: number): string | undefined {
    let found: string | undefined;
    const visit = (d: DirNode): void => {
      for (const e of this.load(d).values()) {
        if (found) return;
        if (e.dir) visit(e.dir);
        else if (e.baseRec && e.baseRec.size > 0 && this.abs(e.baseRec.lba) === offset) found = d.path ? `${d.path}/${e.name}` : e.name;
      }
    };
    visit(this.root);
    return found;
  }
}

/** Plans the write; a base or a change this writer does not handle gives `{ reason }`. */
export function planInPlace(opts: InPlaceOptions): InPlacePlan | { reason: string } {
  const fd = openSync(opts.base, 'r');
  try {
    return plan(new BaseReader(fd), fstatSync(fd).size, opts);
  } catch (err) {
    if (err instanceof Unsupported) return { reason: err.message };
    if (err instanceof RangeError) return { reason: err.message };
    throw err;
  } finally {
    closeSync(fd);
  }
}

function plan(r: BaseReader, baseSize: number, opts: InPlaceOptions): InPlacePlan {
  const sets = volumeSets(r);
  const trees: TreeEdit[] = [];
  for (const s of sets) {
    trees.push(new TreeEdit(r, 'rockridge', s.pvd, s.bias, opts.epochSeconds));
    if (s.joliet !== undefined) trees.push(new TreeEdit(r, 'joliet', s.joliet, s.bias, opts.epochSeconds));
  }
  const head = r.read(0, 32 * 1024);
  const catalogBlock = sets[0]!.catalog;
  const catalog = catalogBlock !== undefined ? r.read(catalogBlock * BLOCK, BLOCK) : undefined;

  // The end of the ISO 9660 data: behind the last extent any tree addresses, at the first boundary the base has there
  // (an appended partition's start, the end of a volume, the backup GPT).
  const dataEnd = Math.max(...trees.map((t) => t.dataEnd()), catalogBlock !== undefined ? (catalogBlock + 1) * BLOCK : 0);
  const bounds = new Set<number>([baseSize]);
  for (const s of sets) for (const vd of [s.pvd, s.joliet]) if (vd !== undefined) bounds.add((r.read(vd * BLOCK + 80, 4).readUInt32LE(0) + s.bias) * BLOCK);
  for (const { start } of partitions(head)) bounds.add(start);
  // isohybrid images keep the backup GPT inside the volume's last 32 KiB: the block its entry array starts in.
  if (head.toString('latin1', 512, 520) === 'EFI PART') {
    const backup = Number(head.readBigUInt64LE(512 + 32));
    if ((backup + 1) * 512 <= baseSize) {
      const h = r.read(backup * 512, 512);
      if (h.toString('latin1', 0, 8) === 'EFI PART') bounds.add(Math.floor((Number(h.readBigUInt64LE(72)) * 512) / BLOCK) * BLOCK);
    }
  }
  const at = Math.min(...[...bounds].filter((b) => b >= dataEnd && b % BLOCK === 0));
  if (baseSize - at > MAX_TAIL) unsupported(`${baseSize - at} bytes lie behind the ISO 9660 data`);

  // Boot images and partitions inside the data stay where they are: a change to one of those files needs xorriso.
  const pinned = new Map<number, string>();
  for (const { start } of partitions(head)) if (start < at) pinned.set(start, 'a partition');
  if (catalog) for (const off of catalogImages(catalog)) if (off < at) pinned.set(off, 'an El Torito boot image');

  // Paths of the pinned files, looked up before the edits remove them from the trees.
  const pinnedPaths = [...pinned].flatMap(([off, what]) => {
    const path = trees[0]!.fileAt(off);
    return path ? [{ path, what }] : [];
  });

  // Each tree's directories and path tables first, then the new file data: where the directories go depends only on
  // the names in the trees, not on the files' sizes, so the sectors patched before `at` (volume descriptors, ".."
  // records) stay the same when only the contents of the changed files differ, and so does the hash of everything
  // before `at` (writeInPlace's HeadHashMemo). The files' addresses are filled in once the directories are laid out.
  let next = at / BLOCK;
  const files: PlacedFile[] = opts.changes.files.map((f) => ({ ...f, lba: next, kept: f.keep ? keptPrefix(r, trees[0]!, f) : undefined })); // lba: a placeholder the records can hold
  let deadBytes = 0;
  const mainTree = trees[0]!;
  for (const t of trees) {
    let dead = 0;
    for (const p of opts.changes.removed) dead += t.remove(p);
    for (const d of opts.changes.dirs) t.mkdir(d);
    for (const f of files) dead += t.put(f);
    if (t === mainTree) deadBytes = dead;
  }
  for (const { path, what } of pinnedPaths) {
    if (opts.changes.removed.some((p) => path === p || path.startsWith(`${p}/`)) || files.some((f) => f.iso === path)) {
      unsupported(`/${path} is ${what} and this build changes it`);
    }
  }
  if (deadBytes > maxDeadBytes(baseSize)) unsupported(`the replaced files would stay in the image as ${(deadBytes / MiB).toFixed(1)} MiB of dead space (more than 1% of the base)`);

  const patches = new Map<number, Buffer>();
  const sector = (offset: number): Buffer => {
    let s = patches.get(offset);
    if (!s) {
      s = r.read(offset, BLOCK);
      patches.set(offset, s);
    }
    return s;
  };
  const region: Piece[] = [];
  const metaStart = next;
  for (const t of trees) next += t.layout(next) + 2 * Math.ceil(pathTable(t.pathTableDirs(), false).length / BLOCK);
  for (const f of files) {
    f.lba = next;
    next += Math.ceil((f.size - (f.kept?.bytes ?? 0)) / BLOCK);
  }
  // The same layout again, now with the files' addresses in the records (the sizes, so the addresses, do not change).
  let meta = metaStart;
  for (const t of trees) {
    meta += t.layout(meta);
    for (const bytes of t.dirBytes()) region.push({ kind: 'bytes', data: bytes });
    t.parentPatches(sector);
    const dirs = t.pathTableDirs();
    const tables = [pathTable(dirs, false), pathTable(dirs, true)];
    const tableBlocks = Math.ceil(tables[0]!.length / BLOCK);
    const lLba = meta - t.bias;
    const mLba = lLba + tableBlocks;
    for (const table of tables) {
      const padded = Buffer.alloc(tableBlocks * BLOCK);
      table.copy(padded);
      region.push({ kind: 'bytes', data: padded });
    }
    meta += 2 * tableBlocks;
    const vd = sector(t.vd * BLOCK);
    const root = t.rootExtent();
    withExtent(vd.subarray(156, 190), root.lba, root.size).copy(vd, 156);
    vd.writeUInt32LE(tables[0]!.length, 132);
    vd.writeUInt32BE(tables[0]!.length, 136);
    vd.writeUInt32LE(lLba, 140);
    vd.writeUInt32LE(0, 144);
    vd.writeUInt32BE(mLba, 148);
    vd.writeUInt32BE(0, 152);
    if (t.kind === 'joliet') Buffer.from(opts.volumeId.slice(0, 16).padEnd(16, ' '), 'utf16le').swap16().copy(vd, 40);
    else Buffer.from(opts.volumeId.slice(0, 32).padEnd(32, ' '), 'latin1').copy(vd, 40);
  }
  if (meta !== files[0]?.lba && files.length) throw new Error(`in-place plan: the directories end at block ${meta}, the files start at ${files[0]!.lba}`);
  for (const f of files) {
    const from = f.kept?.bytes ?? 0;
    region.push({ kind: 'file', path: f.disk, from, size: f.size - from });
    const pad = (BLOCK - ((f.size - from) % BLOCK)) % BLOCK;
    if (pad) region.push({ kind: 'zero', size: pad });
    // The kept extent's first sector gets the file's own (a squashfs superblock that now describes the whole image).
    if (f.kept) patches.set(f.kept.offset, readFileRange(f.disk, 0, BLOCK));
  }
  const used = (next * BLOCK) - at;
  const grow = Math.ceil(used / MiB) * MiB; // whole MiB: isohybrid images keep their size a multiple of a cylinder
  if (grow > used) region.push({ kind: 'zero', size: grow - used });

  // Volume space sizes that reach the data's end grow with it.
  for (const t of trees) {
    const vd = sector(t.vd * BLOCK);
    const blocks = vd.readUInt32LE(80);
    if ((blocks + t.bias) * BLOCK >= at) {
      vd.writeUInt32LE(blocks + grow / BLOCK, 80);
      vd.writeUInt32BE(blocks + grow / BLOCK, 84);
    }
  }
  const planned = planSystemArea({ head, baseSize, at, grow, catalog });
  if ('reason' in planned) return unsupported(planned.reason);
  const sys = planned;
  const tail = r.read(at, baseSize - at);
  sys.patchTail(tail);
  for (let off = 0; off < sys.head.length; off += BLOCK) {
    const s = patches.get(off);
    if (s) unsupported('a volume descriptor or directory lies in the system area');
    patches.set(off, Buffer.from(sys.head.subarray(off, off + BLOCK)));
  }
  if (sys.catalog && catalogBlock !== undefined) sys.catalog.copy(sector(catalogBlock * BLOCK));
  for (const off of patches.keys()) if (off >= at) unsupported('a patched sector lies behind the ISO 9660 data');

  return {
    base: opts.base,
    baseSize,
    at,
    grow,
    size: baseSize + grow,
    patches,
    region,
    tail,
    deadBytes,
    kept: files.flatMap((f) => (f.kept ? [{ iso: f.iso, bytes: f.kept.bytes }] : [])),
    stats: { trees: trees.length, directories: trees.reduce((n, t) => n + t.directories, 0), files: files.length },
  };
}

/**
 * Where a file that keeps a prefix of the base's file at its path (InPlaceFile.keep) leaves it: the whole blocks of
 * the prefix, if the base has the file and the new one is longer. Its claim is checked on the first and last MiB of
 * the prefix (the bytes in between are covered by the verify stage, which reads every written file back from the ISO
 * and checks its md5): a file that does not start with the base's bytes is refused with the reason (the build then
 * writes with xorriso), never written over bytes it does not have.
 */
function keptPrefix(r: BaseReader, tree: TreeEdit, f: InPlaceFile): Kept | undefined {
  const rec = tree.baseFile(f.iso);
  if (!rec) return undefined;
  const bytes = Math.floor(Math.min(f.keep!, rec.size, f.size - 1) / BLOCK) * BLOCK;
  if (bytes < 2 * BLOCK) return undefined;
  const offset = tree.offsetOf(rec);
  for (const at of [BLOCK, Math.max(BLOCK, bytes - MiB)]) {
    const len = Math.min(MiB, bytes - at);
    if (!readFileRange(f.disk, at, len).equals(r.read(offset + at, len))) unsupported(`/${f.iso} was to keep the base file's first ${bytes} bytes, but its bytes at ${at} differ`);
  }
  return { offset, bytes };
}

function readFileRange(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) throw new Error(`${path} is shorter than ${offset + length} bytes`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Partition starts (bytes) in the MBR and a GPT, where the base has them. */
function partitions(head: Buffer): { start: number }[] {
  const out: { start: number }[] = [];
  if (head[510] === 0x55 && head[511] === 0xaa) {
    for (let i = 0; i < 4; i++) {
      const e = 446 + 16 * i;
      if (head.readUInt32LE(e + 12) > 0) out.push({ start: head.readUInt32LE(e + 8) * 512 });
    }
  }
  if (head.toString('latin1', 512, 520) === 'EFI PART') {
    const entriesLba = Number(head.readBigUInt64LE(512 + 72));
    const count = head.readUInt32LE(512 + 80);
    const size = head.readUInt32LE(512 + 84);
    for (let i = 0; i < count && entriesLba * 512 + (i + 1) * size <= head.length; i++) {
      const e = head.subarray(entriesLba * 512 + i * size);
      const first = Number(e.readBigUInt64LE(32));
      if (first || Number(e.readBigUInt64LE(40))) out.push({ start: first * 512 });
    }
  }
  return out;
}

function catalogImages(cat: Buffer): number[] {
  const out: number[] = [];
  if (cat[32] === 0x88) out.push(cat.readUInt32LE(32 + 8) * BLOCK);
  for (let pos = 64; pos + 32 <= BLOCK; ) {
    const h = cat[pos];
    if (h !== 0x90 && h !== 0x91) break;
    const n = cat.readUInt16LE(pos + 2);
    pos += 32;
    for (let i = 0; i < n && pos + 32 <= BLOCK; i++, pos += 32) if (cat[pos] === 0x88) out.push(cat.readUInt32LE(pos + 8) * BLOCK);
    if (h === 0x91) break;
  }
  return out;
}

/** A kernel copy of the base ISO to the new ISO's path, started ahead of the write (the write's starting point). */
export interface BaseCopy {
  base: string;
  output: string;
  /** Settles when the copy is complete (rejects with its error). */
  done: Promise<void>;
}

/** Starts copying `base` to `output` in the kernel (a reflink where the file system has them), on a pool thread. */
export function startBaseCopy(base: string, output: string): BaseCopy {
  const done = copyFile(base, output, fsConstants.COPYFILE_FICLONE);
  done.catch(() => undefined); // awaited by the write, or by the cleanup of a failed build
  return { base, output, done };
}

/**
 * Where the hash state after the bytes before `at` is kept between builds (rebuild-iso.ts: a file in the stage
 * cache), under a key naming those bytes exactly (headKey).
 */
export interface HeadHashMemo {
  key: string;
  load(): Buffer | undefined;
  save(state: Buffer): void;
}

/**
 * The key of the bytes before `at` in the new image: the base's (by its sha256, verified by the build) with the
 * plan's patched sectors in place. The planner puts nothing else there, so equal keys mean equal bytes.
 */
export function headKey(p: InPlacePlan, baseSha256: string): string {
  const h = createHash('sha256').update(`iso-in-place head v1\0${baseSha256}\0${p.at}\0`);
  for (const off of [...p.patches.keys()].sort((a, b) => a - b)) {
    const offset = Buffer.alloc(8);
    offset.writeBigUInt64LE(BigInt(off));
    h.update(offset).update(p.patches.get(off)!);
  }
  return h.digest('hex');
}

export interface WrittenInPlace {
  sha256: string;
  /** Bytes before `at` whose hash came from the memo: not read again by this write. */
  headFromMemo: number;
}

/**
 * Writes the plan to `output` and returns its sha256: the base is copied in the kernel (a reflink where the file
 * system has them; `started`: a copy begun earlier in the build) while the hash reads the same bytes with the patches
 * applied, then the patches, the new bytes and the moved tail are written and hashed in order. With a memo that holds
 * the hash state of the bytes before `at` (an earlier build over the same base with the same patched sectors: only the
 * changed files' contents differed) those bytes are not read at all.
 */
export async function writeInPlace(p: InPlacePlan, output: string, onProgress?: (percent: number) => void, started?: BaseCopy, memo?: HeadHashMemo): Promise<WrittenInPlace> {
  let hashed = 0;
  const progress = (n: number): void => {
    hashed += n;
    onProgress?.((hashed / p.size) * 100);
  };
  const copying = started && started.base === p.base && started.output === output ? started.done : startBaseCopy(p.base, output).done;
  const remembered = memo?.load();
  let hash = remembered ? resumeSha256(remembered) : undefined;
  const headFromMemo = hash ? p.at : 0;
  if (hash) progress(p.at);
  else {
    hash = resumableSha256();
    await hashHead(p, hash, progress);
    const state = hash.save();
    if (memo && state) memo.save(state);
  }
  await copying;
  const out = await open(output, 'r+');
  try {
    for (const [off, data] of p.patches) await writeAll(out, data, off);
    let pos = p.at;
    const zeros = Buffer.alloc(MiB);
    const emit = async (data: Buffer): Promise<void> => {
      await writeAll(out, data, pos);
      hash.update(data);
      progress(data.length);
      pos += data.length;
    };
    for (const piece of p.region) {
      if (piece.kind === 'bytes') await emit(piece.data);
      else if (piece.kind === 'zero') for (let left = piece.size; left > 0; left -= zeros.length) await emit(zeros.subarray(0, Math.min(left, zeros.length)));
      else await emitFile(piece.path, piece.from, piece.size, emit);
    }
    if (pos !== p.at + p.grow) throw new Error(`in-place write: the new bytes end at ${pos}, planned ${p.at + p.grow}`);
    await emit(p.tail);
    await out.truncate(p.size);
  } finally {
    await out.close();
  }
  return { sha256: hash.digest(), headFromMemo };
}

/** Hashes the base's bytes before `at` with the plan's patches applied, reading the next chunk while one is hashed. */
async function hashHead(p: InPlacePlan, hash: ResumableSha256, progress: (n: number) => void): Promise<void> {
  const patchOffsets = [...p.patches.keys()].sort((a, b) => a - b);
  const base = await open(p.base, 'r');
  try {
    // Two buffers: the next chunk is read (a copy in the kernel, on a pool thread) while this one is hashed.
    const CHUNK = 8 * MiB;
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    const readAt = async (i: number, pos: number): Promise<Buffer> => {
      const len = Math.min(CHUNK, p.at - pos);
      const { bytesRead } = await base.read(bufs[i]!, 0, len, pos);
      if (bytesRead !== len) throw new Error(`short read of ${p.base} at ${pos}`);
      return bufs[i]!.subarray(0, len);
    };
    let pi = 0;
    let next: Promise<Buffer> | undefined = p.at > 0 ? readAt(0, 0) : undefined;
    for (let pos = 0, i = 0; next; i ^= 1) {
      const chunk = await next;
      const after = pos + chunk.length;
      next = after < p.at ? readAt(i ^ 1, after) : undefined;
      next?.catch(() => undefined);
      while (pi < patchOffsets.length && patchOffsets[pi]! < after) {
        const off = patchOffsets[pi]!;
        p.patches.get(off)!.copy(chunk, off - pos);
        pi++;
      }
      hash.update(chunk);
      progress(chunk.length);
      pos = after;
    }
  } finally {
    await base.close();
  }
}

async function emitFile(path: string, from: number, size: number, emit: (data: Buffer) => Promise<void>): Promise<void> {
  const f: FileHandle = await open(path, 'r');
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(8 * MiB, left));
      const { bytesRead } = await f.read(buf, 0, buf.length, from + size - left);
      if (bytesRead === 0) throw new Error(`${path} changed while it was written into the ISO (shorter than ${from + size} bytes)`);
      await emit(buf.subarray(0, bytesRead));
      left -= bytesRead;
    }
  } finally {
    await f.close();
  }
}

async function writeAll(f: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await f.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
