/**
 * The rootfs of an installer ISO read in place: which squashfs layers it has (casper, layered casper, Debian live),
 * and a merged view of the layers the installed system is made of (overlayfs rules: upper wins, whiteouts hide).
 */
import { posix } from 'node:path';
import { defaultInstallSource, lowerLayersOf } from '../casper-layers.js';
import { ExitCode, IsoBuildError } from '../errors.js';
import type { IsoImage } from './iso9660.js';
import { SquashFs, type DirEntry, type Inode } from './squashfs.js';
import { hasOpaqueMark, isWhiteout } from './overlay-marks.js';

import type { LayoutKind } from '../layout.js';

/** The layout kinds as the in-process reader sees them (the same as the build's). */
export type IsoLayoutKind = LayoutKind;

export interface IsoLayout {
  kind: IsoLayoutKind;
  /** Every squashfs in the layout's directory, by ISO path. */
  squashfs: string[];
  /** The layer the installer copies (layered: the default install source), then its lowers, top first. */
  stack: string[];
  installSourceId?: string;
}

export async function detectIsoLayout(iso: IsoImage): Promise<IsoLayout> {
  const list = async (dir: string): Promise<string[]> => {
    const d = await iso.lookup(dir);
    if (!d?.isDir) return [];
    return (await iso.readdir(d)).filter((e) => !e.isDir && e.name.endsWith('.squashfs')).map((e) => `${dir}/${e.name}`).sort();
  };
  const sources = await iso.lookup('/casper/install-sources.yaml');
  if (sources && !sources.isDir) {
    const squashfs = await list('/casper');
    // Only layered ISOs need yaml: keep it out of start-up. Bundled, it is CommonJS: its exports are the default.
    const yaml = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
    const parseYaml = yaml.parse ?? yaml.default!.parse;
    let parsed: unknown;
    try {
      parsed = parseYaml((await iso.readAll(sources, 1 << 20)).toString('utf8'));
    } catch (err) {
      // A base whose install-sources.yaml is not YAML is bad input, like one that names no default source.
      if (err instanceof IsoBuildError) throw err;
      const why = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
      throw new IsoBuildError(`${iso.name}: casper/install-sources.yaml is not valid YAML: ${why}`, {
        hint: 'an Ubuntu live-server ISO lists its install sources there as a YAML list',
        exitCode: ExitCode.Usage,
      });
    }
    const chosen = defaultInstallSource(parsed);
    if (!chosen?.path) throw new IsoBuildError(`${iso.name}: casper/install-sources.yaml names no default source`, { exitCode: ExitCode.Usage });
    const present = (name: string): boolean => squashfs.includes(`/casper/${name}`);
    if (!present(chosen.path)) throw new IsoBuildError(`${iso.name}: install source ${chosen.path} is not on the ISO`, { exitCode: ExitCode.Usage });
    const stack = [chosen.path, ...lowerLayersOf(chosen.path, present).reverse()].map((name) => `/casper/${name}`);
    return { kind: 'casper-layered', squashfs, stack, installSourceId: chosen.id };
  }
  for (const [kind, path] of [['casper', '/casper/filesystem.squashfs'], ['debian-live', '/live/filesystem.squashfs']] as const) {
    const f = await iso.lookup(path);
    if (f && !f.isDir) return { kind, squashfs: await list(posix.dirname(path)), stack: [path] };
  }
  throw new IsoBuildError(`${iso.name} has no rootfs squashfs (looked for casper/install-sources.yaml, casper/filesystem.squashfs, live/filesystem.squashfs)`, {
    hint: 'give an Ubuntu live-server or Debian live ISO',
    exitCode: ExitCode.Usage,
  });
}

export async function openLayer(iso: IsoImage, path: string): Promise<SquashFs> {
  const f = await iso.lookup(path);
  if (!f || f.isDir) throw new IsoBuildError(`${iso.name} has no ${path}`, { exitCode: ExitCode.Usage });
  return SquashFs.open(iso.slice(f, `${iso.name}:${path}`));
}

export interface Found {
  fs: SquashFs;
  inode: Inode;
}

/** An opaque directory hides the same directory's entries in lower layers. */
async function isOpaque(fs: SquashFs, dir: Inode): Promise<boolean> {
  return dir.xattr !== undefined && hasOpaqueMark(await fs.xattrs(dir.xattr));
}

/** A merged directory entry; `key` is the raw name as latin1 (names need not be UTF-8). */
interface Child {
  name: string;
  key: string;
  fs: SquashFs;
  inode: Inode;
  below?: Found[];
}

/** Sizes in a merged tree by raw path ('' + '/name' per level, latin1); a directory's size is its subtree's. */
export interface SizeIndex {
  total: number;
  sizes: Map<string, number>;
  dirs: Set<string>;
}

/**
 * fileBytes() of `top` over a stack whose sizeIndex() is `below`, walking only `top`: what it adds, minus what its
 * files, whiteouts and opaque directories hide below. For a small new layer over big base layers.
 */
export async function layerBytes(top: SquashFs, below: SizeIndex): Promise<number> {
  const own = async (dir: Inode, depth: number): Promise<number> => {
    if (depth > 4096) throw new IsoBuildError(`${top.name}: tree deeper than 4096 levels`, { exitCode: ExitCode.Usage });
    let total = 0;
    for (const e of top.readdirSync(dir)) {
      const inode = top.inodeSync(e.ref);
      if (inode.type === 'dir') total += await own(inode, depth + 1);
      else if (!isWhiteout(inode)) total += inode.size;
    }
    return total;
  };
  const delta = async (dir: Inode, key: string, depth: number): Promise<number> => {
    if (depth > 4096) throw new IsoBuildError(`${top.name}: tree deeper than 4096 levels`, { exitCode: ExitCode.Usage });
    let total = 0;
    for (const e of top.readdirSync(dir)) {
      const inode = top.inodeSync(e.ref);
      const childKey = `${key}/${e.raw.toString('latin1')}`;
      const hidden = below.sizes.get(childKey) ?? 0;
      if (isWhiteout(inode)) total -= hidden;
      else if (inode.type !== 'dir') total += inode.size - hidden;
      else if (below.dirs.has(childKey) && !(await isOpaque(top, inode))) total += await delta(inode, childKey, depth + 1);
      else total += (await own(inode, depth + 1)) - hidden;
    }
    return total;
  };
  return below.total + (await delta(await top.root(), '', 0));
}

interface WalkEntry {
  path: string;
  fs: SquashFs;
  inode: Inode;
}

/** Layers top first; lookups and listings see what overlayfs would mount. */
export class LayerStack {
  constructor(readonly layers: SquashFs[]) {}

  /** The topmost inode at `path` (symlinks followed inside each layer, as the reader does), undefined if absent or whited out. */
  async lookup(path: string, opts: { follow?: boolean } = {}): Promise<Found | undefined> {
    for (const fs of this.layers) {
      const inode = await fs.lookup(path, opts);
      if (!inode) continue;
      if (isWhiteout(inode)) return undefined;
      return { fs, inode };
    }
    return undefined;
  }

  /** The merged tree under `path`, pre-order, sorted by name like unsquashfs. */
  async *walk(path: string): AsyncGenerator<WalkEntry> {
    const top = await this.lookup(path);
    if (!top) throw new IsoBuildError(`no such file or directory in the rootfs: ${path}`, { exitCode: ExitCode.Usage });
    const base = path.replace(/\/+$/, '');
    yield { path: base || '/', ...top };
    if (top.inode.type !== 'dir') return;
    let count = 0;
    const visit = async function* (self: LayerStack, at: string, layers: Found[], depth: number): AsyncGenerator<WalkEntry> {
      for (const child of await self.children(at, layers, depth)) {
        if (++count > 50_000_000) throw new IsoBuildError('rootfs listing exceeds 50 million entries', { exitCode: ExitCode.Usage });
        const childPath = `${at === '/' ? '' : at}/${child.name}`;
        yield { path: childPath, fs: child.fs, inode: child.inode };
        if (child.below) yield* visit(self, childPath, child.below, depth + 1);
      }
    };
    yield* visit(this, base || '/', await this.dirsAt(base || '/', top.fs), 0);
  }

  /** What `lstat` would sum over every non-directory of the merged tree (the installer's `.size` of a layer stack). */
  async fileBytes(): Promise<number> {
    return this.sumTree();
  }

  /** fileBytes(), and the size of every path (a directory's: its whole subtree) for layerBytes(). */
  async sizeIndex(): Promise<SizeIndex> {
    const index: SizeIndex = { total: 0, sizes: new Map(), dirs: new Set() };
    index.total = await this.sumTree(index);
    return index;
  }

  private async sumTree(index?: SizeIndex): Promise<number> {
    // Not via walk(): one await per directory instead of one per entry (this runs on every build).
    const sum = async (at: string, key: string, layers: Found[], depth: number): Promise<number> => {
      let total = 0;
      for (const child of await this.children(at, layers, depth)) {
        const childKey = `${key}/${child.key}`;
        const size = child.below ? await sum(`${at === '/' ? '' : at}/${child.name}`, childKey, child.below, depth + 1) : child.inode.size;
        index?.sizes.set(childKey, size);
        if (child.below) index?.dirs.add(childKey);
        total += size;
      }
      return total;
    };
    return sum('/', '', await this.dirsAt('/', this.layers[0]!), 0);
  }

  /**
   * The merged entries of the directory whose layers (top first) are `layers`, bytewise sorted, whiteouts dropped;
   * a directory comes with the layers that make it up (`below`: itself, then the same directory further down, until
   * a file, a whiteout or an opaque directory ends the merge).
   */
  private async children(at: string, layers: Found[], depth: number): Promise<Child[]> {
    if (depth > 4096) throw new IsoBuildError(`rootfs tree deeper than 4096 levels at ${at}`, { exitCode: ExitCode.Usage });
    // Each layer's listing once, by raw name (names need not be UTF-8); a name in an upper layer (a whiteout too)
    // hides the same name below.
    const listings = layers.map((l) => new Map(l.fs.readdirSync(l.inode).map((e) => [e.raw.toString('latin1'), e])));
    const merged = new Map<string, { entry: DirEntry; layer: number }>();
    listings.forEach((listing, layer) => {
      for (const [key, entry] of listing) if (!merged.has(key)) merged.set(key, { entry, layer });
    });
    const keys = [...merged.keys()];
    // One layer is already in squashfs order (bytewise); merged layers are sorted the same way.
    if (layers.length > 1) keys.sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
    const out: Child[] = [];
    for (const key of keys) {
      const { entry, layer } = merged.get(key)!;
      const fs = layers[layer]!.fs;
      const inode = fs.inodeSync(entry.ref);
      if (isWhiteout(inode)) continue;
      if (inode.type !== 'dir') {
        out.push({ name: entry.name, key, fs, inode });
        continue;
      }
      const below: Found[] = [{ fs, inode }];
      if (!(await isOpaque(fs, inode))) {
        for (let l = layer + 1; l < layers.length; l++) {
          const lowerEntry = listings[l]!.get(key);
          if (!lowerEntry) continue;
          const lower = layers[l]!.fs.inodeSync(lowerEntry.ref);
          if (lower.type !== 'dir') break; // a file or whiteout ends the merge
          below.push({ fs: layers[l]!.fs, inode: lower });
          if (await isOpaque(layers[l]!.fs, lower)) break;
        }
      }
      out.push({ name: entry.name, key, fs, inode, below });
    }
    return out;
  }

  /** The directory at `path` in the top layer that has it and every layer below until a non-directory. */
  private async dirsAt(path: string, topFs: SquashFs): Promise<Found[]> {
    const out: Found[] = [];
    for (const fs of this.layers.slice(this.layers.indexOf(topFs))) {
      const inode = await fs.lookup(path);
      if (!inode) continue;
      if (inode.type !== 'dir') break;
      out.push({ fs, inode });
      if (await isOpaque(fs, inode)) break;
    }
    return out;
  }
}
