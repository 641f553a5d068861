/**
 * What release/<version>/report.html shows, gathered without mounting or extracting anything: the stage timeline from
 * the build log's timing lines (src/pipeline/timing-log.ts), the size of each part of the ISO read in place
 * (src/image/iso9660.ts, squashfs layers through src/image/rootfs.ts), the payload list with digests (the payload's
 * manifest.json and images.txt inside the rootfs) and the package changes against the previous release
 * (build-manifest.json of this and the previous release directory).
 */
import { statSync } from 'node:fs';
import { IsoBuildError } from '../errors.js';
import { IsoImage } from '../image/iso9660.js';
import { LayerStack, detectIsoLayout, openLayer } from '../image/rootfs.js';
import { withSource } from '../image/source.js';
import { MANIFEST_NAME as PAYLOAD_MANIFEST_NAME } from '../packages/manifest.js';
import { ISO_PAYLOAD_DIR, PAYLOAD_DIR } from '../product.js';
import type { PackageChanges, PreviousRelease } from './notes.js';
import type { BuildManifest } from './manifest.js';
import type { Timeline } from '../pipeline/timing-log.js';

const ISO_PAYLOAD_PREFIX = `/${ISO_PAYLOAD_DIR}/`;

/** The kinds of payload file the size breakdown and the payload list tell apart. */
export type PayloadKind = 'deb' | 'image' | 'chart' | 'other';

export interface SizePart {
  label: string;
  bytes: number;
  kind: 'layer' | PayloadKind | 'tree' | 'iso';
  files?: number;
}

export interface PayloadEntry {
  kind: PayloadKind;
  path: string;
  size: number;
  sha256: string;
  /** Images: the reference and the image digest (images.txt). */
  reference?: string;
  digest?: string;
}

export interface ReportData {
  product: string;
  version: string;
  iso: { name: string; sha256: string; size: number; volumeId: string; layout: string };
  base?: { name: string; sha256: string };
  sourceDateEpoch: number;
  timeline: Timeline;
  /** The ISO file, part by part; the parts add up to its size. */
  isoParts: SizePart[];
  /** The payload inside the rootfs the installer copies (uncompressed file sizes), and the layer that holds it. */
  payloadParts: SizePart[];
  payloadLayer?: string;
  payload: PayloadEntry[];
  previous?: { version: string; changes: PackageChanges };
  packageCount: number;
}

export function payloadKind(path: string): PayloadKind {
  if (/^system\/[^/]+\.deb$/.test(path)) return 'deb';
  if (/^images\/[^/]+$/.test(path) && path !== 'images/images.txt') return 'image';
  if (/^charts\/[^/]+\.tgz$/.test(path)) return 'chart';
  return 'other';
}

const KIND_LABEL: Record<PayloadKind, string> = { deb: 'debs', image: 'container images', chart: 'Helm charts', other: 'other payload files' };

function sumParts(files: { kind: PayloadKind; size: number }[], labelPrefix: string): SizePart[] {
  const parts: SizePart[] = [];
  for (const kind of ['deb', 'image', 'chart', 'other'] as const) {
    const of = files.filter((f) => f.kind === kind);
    if (of.length) parts.push({ label: `${labelPrefix}${KIND_LABEL[kind]}`, bytes: of.reduce((s, f) => s + f.size, 0), kind, files: of.length });
  }
  return parts;
}

function parsePayloadManifest(text: string): { files?: { path: string; size: number; sha256: string }[] } {
  try {
    return JSON.parse(text) as { files?: { path: string; size: number; sha256: string }[] };
  } catch {
    throw new IsoBuildError(`${PAYLOAD_DIR}/${PAYLOAD_MANIFEST_NAME} in the rootfs is not valid JSON`, { hint: 'check the payload with iso-build packages verify' });
  }
}

export interface ReportInput {
  /** The ISO to read (at build time still the .partial file). */
  isoPath: string;
  /** Its published name. */
  isoName: string;
  isoSha256: string;
  manifest: BuildManifest;
  /** The previous release, if any (comparedToPrevious). */
  previous?: PreviousRelease;
  timeline: Timeline;
}

export async function collectReportData(input: ReportInput): Promise<ReportData> {
  const { manifest } = input;
  const isoSize = statSync(input.isoPath).size;
  const image = await withSource(input.isoPath, async (source) => {
    const iso = await IsoImage.open(source);
    const layout = await detectIsoLayout(iso);
    const layers = new Set(layout.squashfs);
    const isoParts: SizePart[] = [];
    const onIso: { kind: PayloadKind; size: number }[] = [];
    let treeBytes = 0;
    let treeFiles = 0;
    for await (const { path, entry } of iso.walk()) {
      if (entry.isDir || entry.target !== undefined) continue;
      if (layers.has(path)) isoParts.push({ label: path, bytes: entry.size, kind: 'layer' });
      else if (path.startsWith(ISO_PAYLOAD_PREFIX)) onIso.push({ kind: payloadKind(path.slice(ISO_PAYLOAD_PREFIX.length)), size: entry.size });
      else {
        treeBytes += entry.size;
        treeFiles++;
      }
    }
    isoParts.sort((a, b) => (a.label < b.label ? -1 : 1));
    isoParts.push(...sumParts(onIso, 'on the ISO: '));
    isoParts.push({ label: 'the rest of the ISO tree (boot, kernel, initrd, md5sum.txt, ...)', bytes: treeBytes, kind: 'tree', files: treeFiles });
    const filed = isoParts.reduce((s, p) => s + p.bytes, 0);
    isoParts.push({ label: 'ISO 9660 structures, boot partition and padding', bytes: Math.max(0, isoSize - filed), kind: 'iso' });

    const stack = new LayerStack(await Promise.all(layout.stack.map((p) => openLayer(iso, p))));
    const payload: PayloadEntry[] = [];
    const inRootfs: { kind: PayloadKind; size: number }[] = [];
    let payloadLayer: string | undefined;
    const top = await stack.lookup(PAYLOAD_DIR);
    if (top?.inode.type === 'dir') {
      payloadLayer = layout.stack[stack.layers.indexOf(top.fs)];
      const readText = async (path: string): Promise<string | undefined> => {
        const f = await stack.lookup(`${PAYLOAD_DIR}/${path}`, { follow: true });
        return f && f.inode.type === 'file' ? (await f.fs.readAll(f.inode, 16 << 20)).toString('utf8') : undefined;
      };
      const images = new Map<string, { reference: string; digest: string }>();
      for (const line of (await readText('images/images.txt'))?.split('\n') ?? []) {
        const [reference, digest, file] = line.split(' ');
        if (reference && digest && file && !line.startsWith('#')) images.set(`images/${file}`, { reference, digest });
      }
      const listed = parsePayloadManifest((await readText(PAYLOAD_MANIFEST_NAME)) ?? '{"files":[]}');
      for (const f of listed.files ?? []) {
        const kind = payloadKind(f.path);
        payload.push({ kind, path: f.path, size: f.size, sha256: f.sha256, ...images.get(f.path) });
        inRootfs.push({ kind, size: f.size });
      }
    }
    return { isoParts, payload, payloadParts: sumParts(inRootfs, ''), payloadLayer, volumeId: iso.volumeId, layout: layout.kind };
  });

  const { previous } = input;
  return {
    product: manifest.product,
    version: manifest.version,
    iso: { name: input.isoName, sha256: input.isoSha256, size: isoSize, volumeId: image.volumeId, layout: image.layout },
    base: manifest.base ? { name: manifest.base.name, sha256: manifest.base.sha256 } : undefined,
    sourceDateEpoch: manifest.sourceDateEpoch,
    timeline: input.timeline,
    isoParts: image.isoParts,
    payloadParts: image.payloadParts,
    payloadLayer: image.payloadLayer,
    payload: image.payload,
    previous: previous ? { version: previous.manifest.version, changes: previous.changes } : undefined,
    packageCount: manifest.packages.length,
  };
}

