/**
 * Container image archives: docker-archive (`docker save`) or OCI image layout tarballs. A check reads the whole
 * archive once: the manifest is present, every blob/layer matches its digest, and the archive names the reference the
 * profile says it provides.
 */
import { scanTar, TarFormatError, type TarFile, type TarScan } from './tar.js';

export interface ImageCheck {
  format: 'oci' | 'docker-archive' | 'unknown';
  /** References the archive itself names, normalized. */
  references: string[];
  /** OCI: the manifest digest; docker-archive: the image (config) digest. */
  digest?: string;
  problems: string[];
}

/** docker.io/library/ and :latest made explicit, so "busybox" and "docker.io/library/busybox:latest" compare equal. */
export function normalizeReference(ref: string): string {
  let name = ref;
  let suffix = '';
  const at = name.indexOf('@');
  if (at !== -1) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  }
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) {
    suffix = name.slice(colon) + suffix;
    name = name.slice(0, colon);
  } else if (suffix === '') suffix = ':latest';
  const first = name.split('/')[0]!;
  if (!name.includes('/')) name = `docker.io/library/${name}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') name = `docker.io/${name}`;
  return `${name}${suffix}`;
}

function parseJson(file: TarFile | undefined): unknown {
  if (!file?.data) return undefined;
  try {
    return JSON.parse(file.data.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
}

function blobCheck(scan: TarScan, desc: Descriptor | undefined, what: string, problems: string[]): TarFile | undefined {
  const digest = desc?.digest;
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest ?? '');
  if (!m) {
    problems.push(`${what}: no sha256 digest in its descriptor`);
    return undefined;
  }
  const blob = scan.files.get(`blobs/sha256/${m[1]}`);
  if (!blob) {
    problems.push(`${what}: blob ${digest} is missing`);
    return undefined;
  }
  if (blob.sha256 !== m[1]) problems.push(`${what}: blob ${digest} does not match its content (sha256 ${blob.sha256})`);
  if (desc?.size !== undefined && desc.size !== blob.size) problems.push(`${what}: blob ${digest} has ${blob.size} bytes, its descriptor says ${desc.size}`);
  return blob;
}

function checkOciManifest(scan: TarScan, desc: Descriptor, problems: string[], depth = 0): void {
  const blob = blobCheck(scan, desc, `manifest ${desc.digest ?? ''}`, problems);
  const doc = parseJson(blob) as { mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] } | undefined;
  if (!blob) return;
  if (!doc) {
    problems.push(`manifest ${desc.digest ?? ''} is not JSON`);
    return;
  }
  if (doc.manifests) {
    if (depth < 4) for (const d of doc.manifests) if (scan.files.has(`blobs/sha256/${(d.digest ?? '').slice(7)}`)) checkOciManifest(scan, d, problems, depth + 1);
    return;
  }
  blobCheck(scan, doc.config, `config of ${desc.digest ?? ''}`, problems);
  for (const [i, layer] of (doc.layers ?? []).entries()) blobCheck(scan, layer, `layer ${i + 1} (${layer.digest ?? '?'})`, problems);
  if (!doc.layers?.length) problems.push(`manifest ${desc.digest ?? ''} lists no layers`);
}

function checkOci(scan: TarScan, problems: string[]): { references: string[]; digest?: string } {
  const index = parseJson(scan.files.get('index.json')) as { manifests?: Descriptor[] } | undefined;
  if (!index?.manifests?.length) {
    problems.push('index.json does not parse or lists no manifests');
    return { references: [] };
  }
  const references: string[] = [];
  for (const desc of index.manifests) {
    checkOciManifest(scan, desc, problems);
    const full = desc.annotations?.['io.containerd.image.name'];
    const refName = desc.annotations?.['org.opencontainers.image.ref.name'];
    if (full) references.push(full);
    if (refName) references.push(refName);
  }
  return { references, digest: index.manifests[0]?.digest };
}

function checkDockerArchive(scan: TarScan, problems: string[]): { references: string[]; digest?: string } {
  const manifest = parseJson(scan.files.get('manifest.json')) as { Config?: string; RepoTags?: string[] | null; Layers?: string[] }[] | undefined;
  if (!Array.isArray(manifest) || manifest.length === 0) {
    problems.push('manifest.json does not parse or lists no images');
    return { references: [] };
  }
  const references: string[] = [];
  let digest: string | undefined;
  for (const image of manifest) {
    references.push(...(image.RepoTags ?? []));
    const config = image.Config ? scan.files.get(image.Config) : undefined;
    if (!config) {
      problems.push(`config ${image.Config ?? '(none)'} is missing`);
      continue;
    }
    const configHex = /([0-9a-f]{64})(\.json)?$/.exec(image.Config ?? '')?.[1];
    if (configHex && configHex !== config.sha256) problems.push(`config ${image.Config ?? ''} does not match its digest (sha256 ${config.sha256})`);
    digest ??= `sha256:${config.sha256}`;
    const diffIds = ((parseJson(config) as { rootfs?: { diff_ids?: string[] } } | undefined)?.rootfs?.diff_ids ?? []) as string[];
    for (const [i, path] of (image.Layers ?? []).entries()) {
      const layer = scan.files.get(path);
      if (!layer) {
        problems.push(`layer ${i + 1} (${path}) is missing`);
        continue;
      }
      const named = /blobs\/sha256\/([0-9a-f]{64})$/.exec(path)?.[1];
      const expected = named ?? diffIds[i]?.replace(/^sha256:/, '');
      if (expected === undefined) problems.push(`layer ${i + 1} (${path}): no digest to check it against`);
      else if (expected !== layer.sha256) problems.push(`layer ${i + 1} (${path}) does not match its digest sha256:${expected} (content sha256:${layer.sha256})`);
    }
    if (!image.Layers?.length) problems.push('manifest.json lists no layers');
  }
  return { references, digest };
}

/** Checks an image archive; `reference` (when given; several for a bundle) must be one the archive names. */
export async function checkImage(file: string, reference?: string | readonly string[]): Promise<ImageCheck> {
  let scan: TarScan;
  try {
    scan = await scanTar(file, 4 << 20);
  } catch (err) {
    if (err instanceof TarFormatError) return { format: 'unknown', references: [], problems: [err.message] };
    throw err;
  }
  const problems: string[] = [];
  if (scan.truncated) problems.push('the archive is truncated');
  for (const member of scan.unsafe) problems.push(`member ${member} leads out of the directory it would be extracted into`);
  let found: { references: string[]; digest?: string };
  let format: ImageCheck['format'];
  if (scan.files.has('index.json') && scan.files.has('oci-layout')) {
    format = 'oci';
    found = checkOci(scan, problems);
    if (scan.files.has('manifest.json')) found.references.push(...checkDockerArchive(scan, []).references);
  } else if (scan.files.has('manifest.json')) {
    format = 'docker-archive';
    found = checkDockerArchive(scan, problems);
  } else {
    return { format: 'unknown', references: [], problems: [...problems, 'neither an OCI layout (oci-layout + index.json) nor a docker-archive (manifest.json)'] };
  }
  const wanted = reference === undefined ? [] : typeof reference === 'string' ? [reference] : [...reference];
  const references = [...new Set(found.references.map((r) => (r.includes('/') || r.includes(':') || wanted.length === 0 ? normalizeReference(r) : r)))];
  // An OCI ref.name may be a bare tag; it counts only when the archive names no full reference.
  const full = references.filter((r) => r.includes('/'));
  for (const ref of wanted) {
    const want = normalizeReference(ref);
    const tag = want.slice(want.lastIndexOf(':') + 1);
    const ok = full.length > 0 ? full.includes(want) : references.includes(tag);
    if (!ok) problems.push(`it does not provide ${ref} (it names: ${references.join(', ') || 'nothing'})`);
  }
  return { format, references: references.filter((r) => r.includes('/')), digest: found.digest, problems };
}

/** One line of the payload's images/images.txt. */
export interface ImagesTxtLine {
  reference: string;
  digest: string;
  file: string;
}

/**
 * images.txt: `reference digest file` per image, under a header that says which digest it is: the image manifest
 * digest for pulled images (the platform manifest the lock pins, for both archive formats) and for OCI archives
 * (index.json's manifest); a local docker-archive has no manifest, so its line carries the image config digest.
 */
export function imagesTxt(images: readonly ImagesTxtLine[]): string {
  const header = [
    '# reference digest file',
    '# digest: the image manifest digest (pulled images: the platform manifest the lock pins; OCI archives: the manifest',
    "# index.json names); local docker-archives carry no manifest: their line has the image config digest",
  ];
  return `${header.join('\n')}\n${images.map((i) => `${i.reference} ${i.digest} ${i.file}\n`).join('')}`;
}

/** images.txt read back: one entry per line that is not blank or a # comment. */
export function parseImagesTxt(text: string): ImagesTxtLine[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [reference = '', digest = '', file = ''] = l.split(/\s+/);
      return { reference, digest, file };
    });
}
