/**
 * The rootfs of an installer ISO read in place: which squashfs layers it has (casper, layered casper, Debian live),
 * and a merged view of the layers the installed system is made of (overlayfs rules: upper wins, whiteouts hide).
 */
import { posix } from 'node:path';
import { defaultInstallSource, lowerLayersOf } from '../casper-layers.js';
import { ExitCode, IsoBuildError } from '../errors.js';
import type { IsoImage } from './iso9660.js';
import { SquashFs, type DirEntry, type Inode } from './squashfs.js';

export type IsoLayoutKind = 'casper' | 'casper-layered' | 'debian-live';

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
    const chosen = defaultInstallSource(parseYaml((await iso.readAll(sources, 1 << 20)).toString('utf8')));
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

/** overlayfs whiteout: a 0/0 character device hides the name in lower layers. */
function isWhiteout(i: Inode): boolean {
  return i.type === 'chardev' && i.rdev?.major === 0 && i.rdev.minor === 0;
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
  async *walk(path: string): AsyncGenerator<{ path: string; fs: SquashFs; inode: Inode }> {
    const top = await this.lookup(path);
    if (!top) throw new IsoBuildError(`no such file or directory in the rootfs: ${path}`, { exitCode: ExitCode.Usage });
    const base = path.replace(/\/+$/, '');
    yield { path: base || '/', ...top };
    if (top.inode.type !== 'dir') return;
    const dirs = await this.dirsAt(base || '/', top.fs);
    let count = 0;
    const visit = async function* (self: LayerStack, at: string, layers: Found[], depth: number): AsyncGenerator<{ path: string; fs: SquashFs; inode: Inode }> {
      if (depth > 4096) throw new IsoBuildError(`rootfs tree deeper than 4096 levels at ${at}`, { exitCode: ExitCode.Usage });
      // A name in an upper layer (a whiteout too) hides the same name below.
      const merged = new Map<string, { entry: DirEntry; fs: SquashFs }>();
      for (const layer of layers) {
        for (const e of await layer.fs.readdir(layer.inode)) {
          if (!merged.has(e.name)) merged.set(e.name, { entry: e, fs: layer.fs });
        }
      }
      const names = [...merged.keys()];
      // One layer is already in squashfs order (bytewise); merged layers are sorted the same way.
      if (layers.length > 1) names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const name of names) {
        const { entry, fs } = merged.get(name)!;
        const inode = await fs.inode(entry.ref);
        if (isWhiteout(inode)) continue;
        if (++count > 50_000_000) throw new IsoBuildError('rootfs listing exceeds 50 million entries', { exitCode: ExitCode.Usage });
        const childPath = `${at === '/' ? '' : at}/${name}`;
        yield { path: childPath, fs, inode };
        if (inode.type === 'dir') {
          const below: Found[] = [{ fs, inode }];
          for (const l of layers.slice(layers.findIndex((x) => x.fs === fs) + 1)) {
            const lower = await l.fs.lookup(childPath);
            if (lower?.type === 'dir') below.push({ fs: l.fs, inode: lower });
            else if (lower) break;
          }
          yield* visit(self, childPath, below, depth + 1);
        }
      }
    };
    yield* visit(this, base || '/', dirs, 0);
  }

  /** The directory at `path` in the top layer that has it and every layer below until a non-directory. */
  private async dirsAt(path: string, topFs: SquashFs): Promise<Found[]> {
    const out: Found[] = [];
    for (const fs of this.layers.slice(this.layers.indexOf(topFs))) {
      const inode = await fs.lookup(path);
      if (!inode) continue;
      if (inode.type !== 'dir') break;
      out.push({ fs, inode });
    }
    return out;
  }
}
