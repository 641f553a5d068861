/**
 * The remote payload sources: resolving them into a lock (needs the network) and fetching what a lock names into
 * the cache (needs the network only for what the cache lacks). Everything lands in the cache under its digest.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import semver from 'semver';
import { parse } from 'yaml';
import { ExitCode, IsoBuildError, usageError } from '../errors.js';
import { copyToOciLayout, dirToArchive, inspectRaw, pullToDir, listTags, platformText, type Platform, type SkopeoOptions } from '../tools/skopeo.js';
import { blobPath, fetchJobs, fetchText, fetchToCache, mapLimit, redact, type DownloadOptions, type Fetched } from './download.js';
import type { TransferProgress } from './progress.js';
import { checkImage, normalizeReference } from './images.js';
import { sha256File } from '../file-hash.js';
import type { Lock, LockedChart, LockedFile, LockedImage, RemoteSources } from './lock.js';
import type { BuildLog } from '../build-log.js';

/** Debian architecture -> OCI platform (the names of the Go toolchain that image indexes use). */
const DEBIAN_TO_OCI: Record<string, { architecture: string; variant?: string }> = {
  amd64: { architecture: 'amd64' },
  arm64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
  ppc64el: { architecture: 'ppc64le' },
  s390x: { architecture: 's390x' },
  riscv64: { architecture: 'riscv64' },
};

export function platformForDebianArch(arch: string): string {
  const p = DEBIAN_TO_OCI[arch];
  if (!p) throw usageError(`no container platform for the Debian architecture "${arch}"`, 'set packages.images[].platform (os/arch[/variant])');
  return platformText({ os: 'linux', ...p });
}

function parsePlatform(text: string): Platform {
  const [os, architecture, variant] = text.split('/') as [string, string, string | undefined];
  return { os, architecture, ...(variant ? { variant } : {}) };
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/** The manifest of `want` in an image index; arm64's variant v8 is optional in indexes (containerd's matcher agrees). */
function selectPlatform(manifests: readonly Descriptor[], want: Platform): Descriptor | undefined {
  const variantOk = (v: string | undefined): boolean =>
    want.variant === undefined ? v === undefined || (want.architecture === 'arm64' && v === 'v8') : v === want.variant || (want.variant === 'v8' && v === undefined);
  return manifests.find((m) => m.platform?.os === want.os && m.platform.architecture === want.architecture && variantOk(m.platform.variant));
}

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `name[:tag][@digest]` -> its parts, the name normalized. */
function splitReference(ref: string): { name: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  const nameTag = at === -1 ? ref : ref.slice(0, at);
  const colon = nameTag.lastIndexOf(':');
  const tag = colon > nameTag.lastIndexOf('/') ? nameTag.slice(colon + 1) : undefined;
  const bare = tag === undefined ? nameTag : nameTag.slice(0, colon);
  // normalizeReference makes docker.io/library/ explicit; the ":x" only keeps it from adding ":latest".
  const name = normalizeReference(`${bare}:x`).slice(0, -2);
  return { name, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export interface RemoteOptions {
  cacheDir: string;
  caFile?: string;
  log?: BuildLog;
  /** Progress of what is resolved, downloaded, pulled or taken from the cache. */
  progress?: TransferProgress;
}

/**
 * `url` into the cache (fetchToCache) with its progress: "cached LABEL" when the cache has `sha256` already, else a
 * transfer with bytes, rate and ETA.
 */
async function fetchBlob(url: string, sha256: string | undefined, what: string, label: string, opts: RemoteOptions): Promise<Fetched> {
  // Two entries may name the same blob (`~0.1.0` and `0.1.5` of one chart): one download, both wait for it.
  const key = sha256 ? blobPath(opts.cacheDir, sha256) : `${opts.cacheDir} ${url}`;
  const running = inflight.get(key);
  if (running) return running;
  const download = fetchBlobOnce(url, sha256, what, label, opts).finally(() => inflight.delete(key));
  inflight.set(key, download);
  return download;
}

const inflight = new Map<string, Promise<Fetched>>();

async function fetchBlobOnce(url: string, sha256: string | undefined, what: string, label: string, opts: RemoteOptions): Promise<Fetched> {
  const dl: DownloadOptions = { caFile: opts.caFile, log: opts.log };
  if (sha256 && existsSync(blobPath(opts.cacheDir, sha256))) {
    opts.progress?.cached(label);
    return fetchToCache(url, sha256, opts.cacheDir, what, dl);
  }
  const t = opts.progress?.start(label);
  try {
    const got = await fetchToCache(url, sha256, opts.cacheDir, what, { ...dl, onProgress: (done, total) => t?.update(done, total) });
    t?.finish();
    return got;
  } catch (err) {
    t?.fail();
    throw err;
  }
}

function skopeoOpts(opts: RemoteOptions): SkopeoOptions {
  return { caFile: opts.caFile, log: opts.log };
}

async function lockImage(src: RemoteSources['images'][number], opts: RemoteOptions): Promise<LockedImage> {
  const { name, tag, digest: pinned } = splitReference(src.ref);
  const raw = await inspectRaw(src.ref, skopeoOpts(opts));
  const top = digestOf(raw);
  if (pinned && pinned !== top) {
    throw new IsoBuildError(`image ${src.ref}: the registry serves ${top}`, { exitCode: ExitCode.Usage, hint: 'the digest in ref does not match: fix it in the profile' });
  }
  const doc = JSON.parse(raw.toString('utf8')) as { manifests?: Descriptor[]; mediaType?: string };
  let digest = top;
  let index: string | undefined;
  if (Array.isArray(doc.manifests)) {
    const chosen = selectPlatform(doc.manifests, parsePlatform(src.platform));
    if (!chosen?.digest) {
      const offered = doc.manifests.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}${m.platform?.variant ? `/${m.platform.variant}` : ''}`);
      throw new IsoBuildError(`image ${src.ref}: no ${src.platform} image in its index (it has ${offered.join(', ')})`, {
        exitCode: ExitCode.Usage,
        hint: 'set packages.images[].platform or packages.architecture to one it has',
      });
    }
    index = top;
    digest = chosen.digest;
  }
  opts.progress?.say(`image ${src.ref} ${src.platform}: ${digest}`);
  return { ref: src.ref, platform: src.platform, format: src.format, name, ...(tag ? { tag } : {}), ...(index ? { index } : {}), digest };
}

interface IndexEntry {
  version?: unknown;
  urls?: string[];
  digest?: string;
}

/** The highest version in `versions` that `wanted` (exact or range) admits; exact non-semver versions match literally. */
export function pickVersion(versions: readonly string[], wanted: string): string | undefined {
  if (versions.includes(wanted)) return wanted;
  if (semver.validRange(wanted) === null) return undefined;
  return semver.maxSatisfying(versions.filter((v) => semver.valid(v) !== null), wanted) ?? undefined;
}

async function lockHttpChart(src: RemoteSources['charts'][number], opts: RemoteOptions): Promise<LockedChart> {
  const base = src.repo.replace(/\/+$/, '');
  const indexUrl = `${base}/index.yaml`;
  const text = await fetchText(indexUrl, `chart repository index`, { caFile: opts.caFile, log: opts.log });
  let doc: { entries?: Record<string, IndexEntry[]> } | null;
  try {
    doc = parse(text) as typeof doc;
  } catch (err) {
    throw new IsoBuildError(`chart repository ${redact(indexUrl)}: index.yaml does not parse (${(err as Error).message})`, { exitCode: ExitCode.Usage, hint: 'is repo a Helm repository URL?' });
  }
  const entries = doc?.entries?.[src.name] ?? [];
  const versions = entries.map((e) => String(e.version ?? ''));
  const resolved = pickVersion(versions, src.version);
  if (!resolved) {
    throw new IsoBuildError(
      `chart ${src.name} ${src.version}: not in ${redact(indexUrl)} (${versions.length ? `it has ${versions.slice(0, 8).join(', ')}${versions.length > 8 ? ', ...' : ''}` : 'no such chart'})`,
      { exitCode: ExitCode.Usage, hint: 'fix packages.charts[].version (or name) in the profile' },
    );
  }
  const entry = entries.find((e) => String(e.version) === resolved)!;
  const first = entry.urls?.[0];
  if (!first) throw usageError(`chart ${src.name} ${resolved}: its index.yaml entry has no urls`, 'the repository is broken; tell its maintainers');
  const url = new URL(first, `${base}/`).toString();
  const expected = typeof entry.digest === 'string' && /^[0-9a-f]{64}$/.test(entry.digest) ? entry.digest : undefined;
  const got = await fetchBlob(url, expected, `chart ${src.name} ${resolved}`, `${src.name}-${resolved}.tgz`, opts);
  opts.progress?.say(`chart ${src.name} ${src.version} -> ${resolved}: sha256 ${got.sha256}`);
  return { repo: src.repo, name: src.name, version: src.version, resolved, url, sha256: got.sha256 };
}

const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';

async function lockOciChart(src: RemoteSources['charts'][number], opts: RemoteOptions): Promise<LockedChart> {
  const repository = `${src.repo.replace(/^oci:\/\//, '').replace(/\/+$/, '')}/${src.name}`;
  // Helm pushes "+" in versions as "_" (OCI tags cannot hold "+"): helm's registry client does the same mapping.
  const tags = (await listTags(repository, skopeoOpts(opts))).map((t) => t.replaceAll('_', '+'));
  const resolved = pickVersion(tags, src.version);
  if (!resolved) {
    throw new IsoBuildError(`chart ${src.name} ${src.version}: not in oci://${repository} (it has ${tags.slice(0, 8).join(', ') || 'no tags'})`, {
      exitCode: ExitCode.Usage,
      hint: 'fix packages.charts[].version (or name) in the profile',
    });
  }
  const raw = await inspectRaw(`${repository}:${resolved.replaceAll('+', '_')}`, skopeoOpts(opts));
  const manifest = JSON.parse(raw.toString('utf8')) as { layers?: Descriptor[] };
  const layer = manifest.layers?.find((l) => l.mediaType === HELM_CHART_LAYER);
  if (!layer?.digest) throw usageError(`oci://${repository}:${resolved} is not a Helm chart (no ${HELM_CHART_LAYER} layer)`, 'check repo and name');
  const url = `oci://${repository}@${digestOf(raw)}`;
  const sha256 = layer.digest.slice('sha256:'.length);
  await fetchOciChart(url, sha256, `${src.name}-${resolved}.tgz`, opts);
  opts.progress?.say(`chart ${src.name} ${src.version} -> ${resolved}: sha256 ${sha256}`);
  return { repo: src.repo, name: src.name, version: src.version, resolved, url, sha256 };
}

/** The sha256 a published checksum file gives for `url`'s file name (or its only hash). */
function checksumFor(text: string, url: string): string | undefined {
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  for (const line of lines) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(\S+)$/.exec(line);
    if (m && (m[2] === name || m[2]!.split('/').pop() === name)) return m[1]!.toLowerCase();
  }
  if (lines.length === 1 && /^[0-9a-fA-F]{64}$/.test(lines[0]!)) return lines[0]!.toLowerCase();
  return undefined;
}

async function lockFile(src: RemoteSources['files'][number], opts: RemoteOptions): Promise<LockedFile> {
  let expected = src.sha256;
  if (!expected && src.sha256sums) {
    const text = await fetchText(src.sha256sums, `checksums of file ${src.dest}`, { caFile: opts.caFile, log: opts.log });
    expected = checksumFor(text, src.url);
    if (!expected) {
      throw usageError(`file ${src.dest}: ${redact(src.sha256sums)} lists no sha256 for ${redact(src.url)}`, 'check files[].sha256sums and the URL\'s file name');
    }
  }
  const got = await fetchBlob(src.url, expected, `file ${src.dest}`, src.dest, opts);
  opts.progress?.say(`file ${src.dest}: sha256 ${got.sha256} ${expected ? 'checked' : 'pinned (no checksum given)'}`);
  return { url: src.url, dest: src.dest, sha256: got.sha256, size: got.size };
}

/** Resolves every remote source (tags -> platform manifest digests, chart ranges -> version + tgz digest, URLs -> checked sha256). */
export async function resolveSources(sources: RemoteSources, opts: RemoteOptions): Promise<Lock> {
  const jobs = fetchJobs();
  const images = await mapLimit(sources.images, jobs, (s) => lockImage(s, opts));
  const charts = await mapLimit(sources.charts, jobs, (s) => (s.repo.startsWith('oci://') ? lockOciChart(s, opts) : lockHttpChart(s, opts)));
  const files = await mapLimit(sources.files, jobs, (s) => lockFile(s, opts));
  return { lockVersion: 1, images, charts, files };
}

/**
 * Where a locked image's archive is cached: by manifest digest, format and the name the archive gives it (the same
 * image under two names is two archives: each names its own tag).
 */
export function imageCachePath(cacheDir: string, image: LockedImage): string {
  const named = createHash('sha256').update(archiveReference(image) ?? '').digest('hex').slice(0, 12);
  return join(cacheDir, 'packages', 'images', `${image.digest.slice('sha256:'.length)}.${named}.${image.format}.tar`);
}

/** The reference the archive names: the tag (docker-archive RepoTags / OCI ref.name). */
export function archiveReference(image: LockedImage): string | undefined {
  return image.tag ? `${image.name}:${image.tag}` : undefined;
}

/** Total bytes below `dir` (a skopeo `dir:` destination: flat, blobs and skopeo's temporary files). */
function bytesIn(dir: string): number {
  let n = 0;
  try {
    for (const name of readdirSync(dir)) n += statSync(join(dir, name)).size;
  } catch {
    // not there yet, or a temporary file renamed away between readdir and stat
  }
  return n;
}

/**
 * One image into the cache: pulled with skopeo into a `dir:` copy of it (blobs as the registry serves them, so its
 * size against the manifest's gives bytes, rate and ETA), then written locally as the archive the lock names and
 * checked. The pull directory is `*.partial` and removed either way; the archive is renamed only after its check.
 */
async function fetchImage(image: LockedImage, opts: RemoteOptions): Promise<{ path: string; downloaded: boolean }> {
  // Two refs may be one archive (`app:1` and `docker.io/library/app:1`): one pull, both wait for it.
  const key = imageCachePath(opts.cacheDir, image);
  const running = pulling.get(key);
  if (running) return running;
  const pull = fetchImageOnce(image, opts).finally(() => pulling.delete(key));
  pulling.set(key, pull);
  return pull;
}

const pulling = new Map<string, Promise<{ path: string; downloaded: boolean }>>();

async function fetchImageOnce(image: LockedImage, opts: RemoteOptions): Promise<{ path: string; downloaded: boolean }> {
  const path = imageCachePath(opts.cacheDir, image);
  const label = `${image.ref} (${image.platform})`;
  if (existsSync(path)) {
    opts.progress?.cached(label);
    return { path, downloaded: false };
  }
  const partial = `${path}.partial`;
  const pullDir = `${path}.pull.partial`;
  const source = `${image.name}@${image.digest}`;
  opts.log?.line(`payload: pulling ${image.ref} (${image.platform}) ${image.digest}`);
  const manifest = JSON.parse((await inspectRaw(source, skopeoOpts(opts))).toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
  const total = [manifest.config, ...(manifest.layers ?? [])].reduce((sum, d) => sum + (d?.size ?? 0), 0) || undefined;
  const t = opts.progress?.start(label, total);
  const poll = setInterval(() => t?.update(bytesIn(pullDir), total), 500);
  try {
    rmSync(pullDir, { recursive: true, force: true });
    mkdirSync(pullDir, { recursive: true });
    await pullToDir(source, pullDir, skopeoOpts(opts));
    clearInterval(poll);
    t?.update(bytesIn(pullDir), total);
    t?.finish();
    await dirToArchive(pullDir, partial, image.format, archiveReference(image), skopeoOpts(opts));
    const check = await checkImage(partial, archiveReference(image));
    if (check.problems.length > 0) throw new IsoBuildError(`image ${image.ref}: the archive skopeo wrote is bad: ${check.problems.join('; ')}`);
  } catch (err) {
    t?.fail();
    rmSync(partial, { force: true });
    throw err;
  } finally {
    clearInterval(poll);
    rmSync(pullDir, { recursive: true, force: true });
  }
  renameSync(partial, path);
  return { path, downloaded: true };
}

async function fetchOciChart(url: string, sha256: string, label: string, opts: RemoteOptions): Promise<string> {
  const path = blobPath(opts.cacheDir, sha256);
  if (existsSync(path)) {
    opts.progress?.cached(label);
    return path;
  }
  mkdirSync(dirname(path), { recursive: true });
  const layout = mkdtempSync(join(dirname(path), 'oci-chart-'));
  const t = opts.progress?.start(label);
  try {
    await copyToOciLayout(url.replace(/^oci:\/\//, ''), layout, skopeoOpts(opts));
    t?.update(existsSync(join(layout, 'blobs', 'sha256', sha256)) ? statSync(join(layout, 'blobs', 'sha256', sha256)).size : 0);
    t?.finish();
    const blob = join(layout, 'blobs', 'sha256', sha256);
    const actual = existsSync(blob) ? await sha256File(blob) : '(missing)';
    if (actual !== sha256) throw usageError(`chart ${url}: its chart layer has sha256 ${actual}, expected ${sha256}`, 'refresh the lock: iso-build packages lock');
    copyFileSync(blob, `${path}.partial`);
    renameSync(`${path}.partial`, path);
    return path;
  } catch (err) {
    t?.fail();
    throw err;
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}

export interface FetchedPayload {
  images: Map<string, string>;
  charts: Map<string, string>;
  files: Map<string, string>;
  downloaded: number;
  cached: number;
}

/** Brings everything the lock names into the cache (bounded parallelism); keys: imageCachePath, chart/file sha256. */
export async function fetchLocked(lock: Lock, opts: RemoteOptions): Promise<FetchedPayload> {
  const out: FetchedPayload = { images: new Map(), charts: new Map(), files: new Map(), downloaded: 0, cached: 0 };
  const count = (downloaded: boolean): void => void (downloaded ? out.downloaded++ : out.cached++);
  const jobs = fetchJobs();
  await mapLimit(lock.images, Math.min(jobs, 2), async (image) => {
    const got = await fetchImage(image, opts);
    count(got.downloaded);
    out.images.set(imageCachePath(opts.cacheDir, image), got.path);
  });
  await mapLimit([...lock.charts.map((c) => ({ kind: 'chart' as const, c })), ...lock.files.map((f) => ({ kind: 'file' as const, f }))], jobs, async (item) => {
    if (item.kind === 'chart') {
      const c = item.c;
      const had = existsSync(blobPath(opts.cacheDir, c.sha256));
      const label = `${c.name}-${c.resolved}.tgz`;
      const path = c.url.startsWith('oci://')
        ? await fetchOciChart(c.url, c.sha256, label, opts)
        : (await fetchBlob(c.url, c.sha256, `chart ${c.name} ${c.resolved}`, label, opts)).path;
      count(!had);
      out.charts.set(c.sha256, path);
    } else {
      const f = item.f;
      const got = await fetchBlob(f.url, f.sha256, `file ${f.dest}`, f.dest, opts);
      if (got.size !== f.size) throw usageError(`file ${f.dest}: ${got.size} bytes, the lock says ${f.size}`, 'refresh the lock: iso-build packages lock');
      count(got.downloaded);
      out.files.set(f.sha256, got.path);
    }
  });
  return out;
}
