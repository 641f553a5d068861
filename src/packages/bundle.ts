/**
 * `packages.imageArchive: bundle`: several single-image archives merged into one, in-process, as `docker save A B`
 * would write it (and as k3s publishes its own air-gap images). skopeo writes one image per archive (skopeo#2072); the
 * merge is plain tar work: every blob/layer once (their names are their digests), and the index files joined:
 * docker-archive `manifest.json` (one entry per image) and `repositories`; OCI `index.json` (one manifest descriptor per
 * image, each with its name annotation) and `oci-layout`. containerd's importer (ctr images import, k3s's import of
 * agent/images/) reads both kinds with several images. Entries get fixed metadata, so the same inputs give the same bytes.
 */
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header as Headers } from 'tar-stream';
import { IsoBuildError } from '../errors.js';

export type BundleFormat = 'docker-archive' | 'oci-archive';

/** The index files of each format, merged instead of copied. */
const INDEX_FILES: Record<BundleFormat, readonly string[]> = {
  'docker-archive': ['manifest.json', 'repositories'],
  'oci-archive': ['index.json', 'oci-layout'],
};

interface OciIndex {
  schemaVersion?: number;
  mediaType?: string;
  manifests?: unknown[];
}

function mergeIndex(format: BundleFormat, name: string, docs: unknown[]): unknown {
  if (format === 'docker-archive' && name === 'manifest.json') return docs.flatMap((d) => (Array.isArray(d) ? (d as unknown[]) : []));
  if (format === 'docker-archive') {
    // repositories: {"repo": {"tag": "<id>"}}, deep-merged
    const out: Record<string, Record<string, unknown>> = {};
    for (const d of docs) for (const [repo, tags] of Object.entries((d ?? {}) as Record<string, Record<string, unknown>>)) out[repo] = { ...out[repo], ...tags };
    return out;
  }
  if (name === 'index.json') {
    const first = (docs[0] ?? {}) as OciIndex;
    return { ...first, schemaVersion: first.schemaVersion ?? 2, manifests: docs.flatMap((d) => (d as OciIndex).manifests ?? []) };
  }
  return docs[0];
}

function fixed(h: Pick<Headers, 'name' | 'type' | 'size'> & { linkname?: string | null }): Headers {
  return {
    name: h.name,
    type: h.type,
    size: h.size,
    linkname: h.linkname ?? '',
    mode: h.type === 'directory' ? 0o755 : 0o644,
    mtime: new Date(0),
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  };
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes `archives` (each one image, all of `format`, plain tar) as one archive `out` (via `out.partial`). */
export async function writeBundle(archives: readonly string[], format: BundleFormat, out: string): Promise<void> {
  const partial = `${out}.partial`;
  const packer = pack();
  const written = pipeline(packer, createWriteStream(partial));
  const seen = new Set<string>();
  const indexes = new Map<string, unknown[]>(INDEX_FILES[format].map((n) => [n, []]));
  try {
    for (const archive of archives) {
      const entries = extract();
      const reading = pipeline(createReadStream(archive), entries);
      for await (const entry of entries) {
        const name = entry.header.name.replace(/^\.\//, '');
        const index = indexes.get(name);
        if (index) {
          const text = (await readAll(entry)).toString('utf8');
          try {
            index.push(JSON.parse(text) as unknown);
          } catch {
            throw new IsoBuildError(`image archive ${archive}: ${name} is not JSON`, { hint: 'remove the archive from the cache (it is fetched again)' });
          }
          continue;
        }
        if (seen.has(name)) {
          entry.resume();
          await new Promise<void>((r) => entry.on('end', () => r()));
          continue;
        }
        seen.add(name);
        await pipeline(entry, packer.entry(fixed({ ...entry.header, name })));
      }
      await reading;
    }
    for (const [name, docs] of indexes) {
      if (docs.length === 0) continue;
      const body = Buffer.from(JSON.stringify(mergeIndex(format, name, docs)));
      await new Promise<void>((resolvePromise, reject) => packer.entry(fixed({ name, type: 'file', size: body.length }), body, (err) => (err ? reject(err) : resolvePromise())));
    }
    packer.finalize();
    await written;
  } catch (err) {
    packer.destroy();
    await written.catch(() => undefined);
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, out);
}
