/**
 * packages/manifest.json: path, size and sha256 of every payload file, and `items`: what each .deb, image, chart and
 * file is, its digest and where it came from. The release's build-manifest.json and notes take their payload list
 * from it (so a rootfs from the stage cache still says where its payload came from).
 */
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sha256File } from '../file-hash.js';

export const MANIFEST_NAME = 'manifest.json';

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

/** One payload item: what it is, its digest, where it came from, and its file below the payload directory. */
export interface PayloadItem {
  kind: 'deb' | 'image' | 'chart' | 'file';
  /** deb: `name version arch`; image: `reference (platform)` or the reference; chart: `name version`; file: its dest. */
  name: string;
  /** Images: the manifest digest images.txt lists; everything else: `sha256:` of the file. */
  digest: string;
  /** A URL (`docker://ref`, the chart/file/.deb URL, credentials hidden) or `local:PATH` relative to the profile. */
  source: string;
  file: string;
}

export interface PayloadManifest {
  manifestVersion: 1;
  product: string;
  files: ManifestFile[];
  items?: PayloadItem[];
}

/** Every file below `dir` except the manifest itself, relative, sorted. */
export function payloadFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.filter((p) => p !== MANIFEST_NAME).sort();
}

export async function describeFiles(dir: string, files: readonly string[]): Promise<ManifestFile[]> {
  const out: ManifestFile[] = [];
  for (const path of files) out.push({ path, size: lstatSync(join(dir, path)).size, sha256: await sha256File(join(dir, path)) });
  return out;
}

const KIND_ORDER: PayloadItem['kind'][] = ['deb', 'image', 'chart', 'file'];

/** Items sorted by kind, name, file; an item without a digest gets its file's sha256. */
export async function writeManifest(dir: string, product: string, items: readonly (Omit<PayloadItem, 'digest'> & { digest?: string })[] = []): Promise<PayloadManifest> {
  const files = await describeFiles(dir, payloadFiles(dir));
  const sha = new Map(files.map((f) => [f.path, f.sha256]));
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const full = items
    .map((i): PayloadItem => ({ kind: i.kind, name: i.name, digest: i.digest ?? `sha256:${sha.get(i.file) ?? ''}`, source: i.source, file: i.file }))
    .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || cmp(a.name, b.name) || cmp(a.file, b.file));
  const manifest: PayloadManifest = { manifestVersion: 1, product, files, ...(full.length > 0 ? { items: full } : {}) };
  writeFileSync(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** A payload directory's manifest.json (verified before it is read: verifyPayload). */
export function readPayloadManifest(dir: string): PayloadManifest {
  return JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as PayloadManifest;
}
