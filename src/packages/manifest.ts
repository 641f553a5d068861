/** packages/manifest.json: path, size and sha256 of every payload file. */
import { lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sha256File } from '../file-hash.js';

export const MANIFEST_NAME = 'manifest.json';

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface PayloadManifest {
  manifestVersion: 1;
  product: string;
  files: ManifestFile[];
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

export async function writeManifest(dir: string, product: string): Promise<PayloadManifest> {
  const manifest: PayloadManifest = { manifestVersion: 1, product, files: await describeFiles(dir, payloadFiles(dir)) };
  writeFileSync(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
