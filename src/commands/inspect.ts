/**
 * `iso-build inspect IMAGE`: what an installer ISO (or a bare squashfs) holds, read in-process: no root, no mounts,
 * nothing extracted to disk. `--cat PATH` / `--ls PATH` read inside the rootfs (the merged layers the installer copies).
 */
import { once } from 'node:events';
import { basename } from 'node:path';
import { ExitCode, IsoBuildError, usageError } from '../errors.js';
import { bootSummary, type BootSummary } from '../image/boot.js';
import { IsoImage } from '../image/iso9660.js';
import { llnLine } from '../image/listing.js';
import { checkIsoMd5sums, type Md5Report } from '../image/md5sum.js';
import { LayerStack, detectIsoLayout, openLayer, type IsoLayoutKind } from '../image/rootfs.js';
import { withSource, type ByteSource } from '../image/source.js';
import { SQUASHFS_MAGIC, SquashFs, type Inode } from '../image/squashfs.js';

export interface InspectOptions {
  json?: boolean;
  cat?: string;
  ls?: string | boolean;
  /** One squashfs of the ISO (e.g. casper/filesystem.squashfs) instead of the merged rootfs. */
  layer?: string;
  /** commander's --no-md5 sets this to false. */
  md5?: boolean;
}

const PRODUCT_FILES = ['/opt/novasphere/VERSION', '/opt/novasphere/build-info.json'] as const;

export interface LayerReport {
  path: string;
  compressor: string;
  blockSize: number;
  bytes: number;
  /** Inodes in the superblock: files, directories, links and devices. */
  files: number;
  inRootfs: boolean;
  version?: string;
  buildInfo?: unknown;
}

export interface InspectReport {
  image: string;
  bytes: number;
  volumeLabel?: string;
  layout: IsoLayoutKind | 'squashfs';
  rootfs: string[];
  installSourceId?: string;
  boot?: BootSummary;
  layers: LayerReport[];
  md5sum?: Md5Report | 'skipped';
}

export async function inspectCommand(image: string, opts: InspectOptions): Promise<number> {
  quietOnClosedPipe();
  return withSource(image, async (source) => {
    const opened = await openImage(source, opts.layer);
    if (opts.cat !== undefined) return catFile(opened.stack, opts.cat);
    if (opts.ls !== undefined && opts.ls !== false) return list(opened.stack, opts.ls === true ? '/' : opts.ls, opts.json === true);
    const report = await buildReport(source, opened, opts.md5 !== false);
    await write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    const md5 = report.md5sum;
    return md5 && md5 !== 'skipped' && md5.problems.length ? ExitCode.Verification : 0;
  });
}

interface Opened {
  iso?: IsoImage;
  layout?: Awaited<ReturnType<typeof detectIsoLayout>>;
  /** Squashfs path on the ISO → reader. */
  layers: Map<string, SquashFs>;
  stack: LayerStack;
}

async function openImage(source: ByteSource, layer: string | undefined): Promise<Opened> {
  const magic = source.size >= 4 ? (await source.read(0, 4, 'image header')).readUInt32LE(0) : 0;
  if (magic === SQUASHFS_MAGIC) {
    const fs = await SquashFs.open(source);
    return { layers: new Map([[basename(source.name), fs]]), stack: new LayerStack([fs]) };
  }
  const iso = await IsoImage.open(source);
  const layout = await detectIsoLayout(iso);
  const layers = new Map<string, SquashFs>();
  for (const path of layout.squashfs) layers.set(path, await openLayer(iso, path));
  let stack: SquashFs[];
  if (layer !== undefined) {
    const want = `/${layer.replace(/^\/+/, '')}`;
    const fs = layers.get(want);
    if (!fs) throw usageError(`--layer ${layer} is not a squashfs on the ISO`, `layers: ${[...layers.keys()].join(', ')}`);
    stack = [fs];
  } else {
    stack = layout.stack.map((p) => layers.get(p)!);
  }
  return { iso, layout, layers, stack: new LayerStack(stack) };
}

async function buildReport(source: ByteSource, o: Opened, md5: boolean): Promise<InspectReport> {
  const rootfs = o.layout?.stack ?? [...o.layers.keys()];
  const layers: LayerReport[] = [];
  for (const [path, fs] of o.layers) {
    const r: LayerReport = { path, compressor: fs.sb.compressor, blockSize: fs.sb.blockSize, bytes: fs.source.size, files: fs.sb.inodeCount, inRootfs: rootfs.includes(path) };
    const version = await readSmall(fs, PRODUCT_FILES[0]);
    if (version !== undefined) r.version = version.trim();
    const info = await readSmall(fs, PRODUCT_FILES[1]);
    if (info !== undefined) {
      try {
        r.buildInfo = JSON.parse(info) as unknown;
      } catch {
        r.buildInfo = `(not JSON: ${info.slice(0, 60)})`;
      }
    }
    layers.push(r);
  }
  return {
    image: source.name,
    bytes: source.size,
    volumeLabel: o.iso?.volumeId,
    layout: o.layout?.kind ?? 'squashfs',
    rootfs,
    installSourceId: o.layout?.installSourceId,
    boot: o.iso ? await bootSummary(o.iso) : undefined,
    layers,
    md5sum: o.iso ? (md5 ? await checkIsoMd5sums(o.iso) : 'skipped') : undefined,
  };
}

async function readSmall(fs: SquashFs, path: string): Promise<string | undefined> {
  const inode = await fs.lookup(path, { follow: true });
  if (!inode || inode.type !== 'file') return undefined;
  return (await fs.readAll(inode, 1 << 20)).toString('utf8');
}

const LAYOUT_NAMES: Record<InspectReport['layout'], string> = {
  casper: 'casper (Ubuntu live-server, one rootfs squashfs)',
  'casper-layered': 'layered casper (Ubuntu 22.04+ stacked layers)',
  'debian-live': 'Debian live',
  squashfs: 'bare squashfs image',
};

export function formatReport(r: InspectReport): string {
  const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
  const lines = [`image:       ${r.image} (${mib(r.bytes)})`];
  if (r.volumeLabel !== undefined) lines.push(`volume:      ${r.volumeLabel}`);
  lines.push(`layout:      ${LAYOUT_NAMES[r.layout]}`);
  lines.push(`rootfs:      ${r.rootfs.join(' over ')}${r.installSourceId ? ` (install source ${r.installSourceId})` : ''}`);
  if (r.boot) lines.push(`boot:        ${r.boot.summary}`);
  lines.push('layers:');
  for (const l of r.layers) {
    lines.push(`  ${l.path}  ${l.compressor}  ${mib(l.bytes)}  ${l.files} files  block ${l.blockSize / 1024} KiB${l.inRootfs ? '  [rootfs]' : ''}`);
    if (l.version !== undefined) lines.push(`    VERSION          ${l.version}`);
    if (l.buildInfo !== undefined) lines.push(`    build-info.json  ${summarize(l.buildInfo)}`);
  }
  const m = r.md5sum;
  if (m === 'skipped') lines.push('md5sum.txt:  not checked (--no-md5)');
  else if (m && !m.present) lines.push('md5sum.txt:  absent');
  else if (m && !m.problems.length) lines.push(`md5sum.txt:  OK (${m.ok} files)`);
  else if (m) lines.push(`md5sum.txt:  ${m.problems.length} PROBLEM(S) in ${m.listed} lines`, ...m.problems.map((p) => `  ${p.message}`));
  return `${lines.join('\n')}\n`;
}

function summarize(info: unknown): string {
  if (typeof info !== 'object' || info === null) return String(info);
  return Object.entries(info)
    .filter(([, v]) => v === null || typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

async function catFile(stack: LayerStack, path: string): Promise<number> {
  const found = await stack.lookup(path, { follow: true });
  if (!found) throw usageError(`no such file in the rootfs: ${path}`, 'list it with iso-build inspect IMAGE --ls DIR');
  if (found.inode.type !== 'file') throw usageError(`${path} in the rootfs is a ${found.inode.type}, not a regular file`);
  for await (const chunk of found.fs.read(found.inode)) await write(chunk);
  return 0;
}

async function list(stack: LayerStack, path: string, json: boolean): Promise<number> {
  let out = json ? '[\n' : '';
  let n = 0;
  const add = async (p: string, inode: Inode): Promise<void> => {
    out += json ? `${n ? ',\n' : ''}${JSON.stringify(entryJson(p, inode))}` : `${llnLine(p, inode)}\n`;
    if (++n % 1000 === 0) {
      await write(out);
      out = '';
    }
  };
  const only = stack.layers.length === 1 ? stack.layers[0]! : undefined;
  if (only) {
    // One layer: walk its in-memory tables synchronously (the merged walk costs a promise per entry).
    const top = await only.lookup(path);
    if (!top) throw usageError(`no such file or directory in the rootfs: ${path}`);
    const base = path.replace(/\/+$/, '');
    await add(base || '/', top);
    if (top.type === 'dir') for (const e of only.walkSync(top, base)) await add(e.path, e.inode);
  } else {
    for await (const e of stack.walk(path)) await add(e.path, e.inode);
  }
  await write(out + (json ? '\n]\n' : ''));
  return 0;
}

function entryJson(path: string, i: Inode): Record<string, unknown> {
  return { path, type: i.type, mode: i.mode, uid: i.uid, gid: i.gid, size: i.size, mtime: i.mtime, ...(i.target !== undefined ? { target: i.target } : {}), ...(i.rdev ? { rdev: i.rdev } : {}) };
}

/** Writes with backpressure, so `--cat` of a large file streams with bounded memory. */
async function write(data: string | Buffer): Promise<void> {
  if (!process.stdout.write(data)) await once(process.stdout, 'drain');
}

/** `inspect --ls / | head` closes the pipe early: that is the reader's choice, not an error. */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw new IsoBuildError(`cannot write to stdout: ${err.message}`);
  });
}
