/**
 * Assembles the offline payload under <rootfs>/opt/novasphere/packages/: system/ (signed apt repository), images/,
 * charts/, manifest.json; install.sh beside it; the repository's key and sources entry in the rootfs's /etc/apt.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { resolveInRoot, writeInRoot } from '../rootfs-path.js';
import { IsoBuildError, usageError } from '../errors.js';
import { openPrivateGpgHome } from '../tools/gpg.js';
import { chartIndexYaml, checkChart, type IndexEntry } from './charts.js';
import { checkImage, imagesTxt, type ImagesTxtLine } from './images.js';
import { readInstallTemplate, renderInstallScript } from './install-script.js';
import { writeManifest, type PayloadItem } from './manifest.js';
import { controlField, repoSourcesEntry, writeRepo, type RepoDeb } from './repo.js';
import { sha256File } from '../file-hash.js';
import { resolveClosure, targetArchitecture, type ResolveResult } from './resolve.js';
import { chartKey, hasRemoteSources, imageKey, lockPath, remoteSources, requireLock, writeLock, type Lock } from './lock.js';
import { redact } from './download.js';
import { archiveReference, fetchLocked, imageCachePath, platformForDebianArch, resolveSources, type FetchedPayload } from './remote.js';
import { isRemoteChartRepo } from '../profile/schema.js';
import { TransferProgress, type ProgressSink } from './progress.js';
import { writeBundle } from './bundle.js';
import type { ArchiveFormat } from '../tools/skopeo.js';
import type { BuildLog } from '../build-log.js';
import type { PackagesOptions } from '../profile/schema.js';
import { PAYLOAD_DIR, PRODUCT_DIR } from '../product.js';
import { K3S_IMAGES_DIR } from '../bringup/paths.js';

const REPO_DIR = `${PAYLOAD_DIR}/system`;
const INSTALL_SCRIPT = `${PRODUCT_DIR}/install.sh`;

function keyringPath(name: string): string {
  return `/etc/apt/keyrings/${name}-packages.gpg`;
}
export function sourcesPath(name: string): string {
  return `/etc/apt/sources.list.d/${name}-packages.sources`;
}
export function sourcesEntry(name: string): string {
  return repoSourcesEntry({ uri: `file:${REPO_DIR}`, keyring: keyringPath(name) });
}

export interface PayloadInput {
  /** The profile's name (file names) and product (repository labels). */
  name: string;
  product: string;
  /** For messages only: the payload does not depend on it (the build's stage cache reuses it across versions). */
  version: string;
  /** The profile's directory: relative paths in `packages` are relative to it. */
  profileDir: string;
  /** The profile file: its lock file is `<profile>.lock.yaml` beside it. */
  profileFile: string;
  /** Resolve the remote sources again and rewrite the lock instead of requiring a matching one. */
  updateLock?: boolean;
  packages: PackagesOptions;
  rootfs: string;
  /** The target system apt resolves against; default: `rootfs` (`packages fetch --output` writes elsewhere). */
  resolveRoot?: string;
  cacheDir: string;
  /** Where the repository key's private gpg home goes: inside the build's work directory. */
  gpgHomeDir?: string;
  epochSeconds: number;
  log?: BuildLog;
  /** Progress lines (and, in a terminal, the transfers' status line). */
  progress?: ProgressSink;
}

export interface PayloadResult {
  payloadDir: string;
  closure?: ResolveResult;
  debs: { name: string; version: string; arch: string; file: string }[];
  fingerprint: string;
  images: PayloadImage[];
  charts: IndexEntry[];
  files: number;
  /** Every payload item with its digest and source (as manifest.json lists them). */
  items: PayloadItem[];
}

export interface PayloadImage extends ImagesTxtLine {
  format: string;
  /** Pulled from a registry (its digest is the registry's manifest digest). */
  pulled?: boolean;
}

export async function buildPayload(input: PayloadInput): Promise<PayloadResult> {
  const { packages, rootfs, log } = input;
  const sink = input.progress ?? { line: () => undefined };
  const progress = (text: string): void => sink.line(text);
  checkLocalFiles(input);
  const remote = await fetchRemote(input, sink);
  const payloadDir = resolveInRoot(rootfs, PAYLOAD_DIR);
  rmSync(payloadDir, { recursive: true, force: true });
  mkdirSync(payloadDir, { recursive: true, mode: 0o755 });

  let closure: ResolveResult | undefined;
  if (packages.system.length > 0) {
    progress(`resolving ${packages.system.join(' ')} for the target`);
    closure = await resolveClosure({
      rootfs: input.resolveRoot ?? rootfs,
      packages: packages.system,
      sources: packages.sources,
      architecture: packages.architecture,
      recommends: packages.recommends,
      cacheDir: input.cacheDir,
      log,
      onLine: (line) => progress(line),
    });
  }
  const debs: RepoDeb[] = [
    ...(closure?.debs ?? []).map((d) => ({ source: d.cached, fileName: d.fileName })),
    ...packages.debs.map((d) => ({ source: resolve(input.profileDir, d) })),
  ];
  const localDebs = new Set(packages.debs.map((d) => resolve(input.profileDir, d)));
  progress(`writing the signed repository (${debs.length} .debs)`);
  // The repository key's home: in the build's work directory (gpgHomeDir), else a temp dir for `packages fetch`.
  const gpg = await openPrivateGpgHome(input.gpgHomeDir ?? mkdtempSync(join(tmpdir(), 'isob-gpg-')), log);
  const gpgHome = gpg.home;
  let repo;
  try {
    repo = await writeRepo({
      dir: join(payloadDir, 'system'),
      debs,
      origin: input.product,
      label: `${input.product} offline packages`,
      epochSeconds: input.epochSeconds,
      signingKey: packages.signingKey ? resolve(input.profileDir, packages.signingKey) : undefined,
      generatedKey: join(input.cacheDir, 'packages', 'keys', `${input.name}.asc`),
      gpgHome,
      log,
    });
  } finally {
    await gpg.close();
  }
  writeInRoot(rootfs, keyringPath(input.name), repo.publicKey);
  writeInRoot(rootfs, sourcesPath(input.name), sourcesEntry(input.name));

  const items: NewItem[] = [
    ...(closure?.debs ?? []).map((d): NewItem => ({ kind: 'deb', name: `${d.name} ${d.version} ${d.arch}`, digest: `sha256:${d.sha256}`, source: redact(d.uri), file: `system/${d.fileName}` })),
    ...repo.packages
      .filter((d) => localDebs.has(d.source))
      .map((d): NewItem => ({ kind: 'deb', name: `${d.name} ${d.version} ${d.arch}`, source: local(input, d.source), file: `system/${d.file}` })),
  ];
  progress(`checking ${packages.images.length} image archives`);
  const images = await addImages(input, payloadDir, remote, items);
  progress(`checking ${packages.charts.length} charts`);
  const charts = await addCharts(input, payloadDir, remote, items);
  await addFiles(input, payloadDir, remote, items);
  progress('writing install.sh and manifest.json');
  writeInRoot(
    rootfs,
    INSTALL_SCRIPT,
    renderInstallScript(readInstallTemplate(resolve(input.profileDir, packages.installScript)), {
      product: input.product,
      name: input.name,
      payloadDir: PAYLOAD_DIR,
      repoDir: REPO_DIR,
      sourcesEntry: sourcesEntry(input.name).trim(),
      keyring: keyringPath(input.name),
      system: systemPackageNames(packages, payloadDir),
      images,
      k3sAirgap: packages.k3sAirgap,
      k3sImagesDir: K3S_IMAGES_DIR,
    }),
    0o755,
  );
  const manifest = await writeManifest(payloadDir, input.product, items);
  return {
    payloadDir,
    closure,
    debs: repo.packages,
    fingerprint: repo.fingerprint,
    images,
    charts,
    files: manifest.files.length,
    items: manifest.items ?? [],
  };
}

interface Remote {
  lock: Lock;
  fetched: FetchedPayload;
}

/** The target's architecture as images need it: packages.architecture, else the rootfs's dpkg architecture. */
function payloadArchitecture(input: Pick<PayloadInput, 'packages' | 'rootfs' | 'resolveRoot'>): string {
  return input.packages.architecture ?? targetArchitecture(input.resolveRoot ?? input.rootfs);
}

/** The lock (required to match the profile, or rewritten with updateLock) and everything it names, in the cache. */
export async function fetchRemote(
  input: Pick<PayloadInput, 'packages' | 'profileDir' | 'profileFile' | 'updateLock' | 'cacheDir' | 'log' | 'rootfs' | 'resolveRoot'>,
  sink: ProgressSink,
): Promise<Remote | undefined> {
  if (!hasRemoteSources(input.packages)) return undefined;
  const sources = remoteSources(input.packages, () => platformForDebianArch(payloadArchitecture(input)));
  const caFile = input.packages.caFile ? resolve(input.profileDir, input.packages.caFile) : undefined;
  const opts = {
    cacheDir: input.cacheDir,
    caFile,
    log: input.log,
    progress: new TransferProgress({
      line: (text) => {
        input.log?.line(`payload: ${text}`);
        sink.line(text);
      },
      ...(sink.status ? { status: sink.status.bind(sink) } : {}),
    }),
  };
  const progress = (text: string): void => opts.progress.say(text);
  let lock: Lock;
  if (input.updateLock) {
    progress(`resolving the remote payload sources into ${lockPath(input.profileFile)}`);
    lock = await resolveSources(sources, opts);
    writeLock(lock, input.profileFile);
  } else {
    lock = requireLock(input.profileFile, sources);
  }
  const fetched = await fetchLocked(lock, opts);
  progress(`remote payload: ${fetched.downloaded} fetched, ${fetched.cached} from the cache`);
  input.log?.line(`payload: remote items: ${fetched.downloaded} fetched, ${fetched.cached} from the cache (${input.cacheDir})`);
  return { lock, fetched };
}

/** Every local file the section names must exist before anything is fetched: one error lists all missing ones. */
export function checkLocalFiles(input: Pick<PayloadInput, 'packages' | 'profileDir'>): void {
  const p = input.packages;
  const at = (f: string): string => resolve(input.profileDir, f);
  const wanted: [string, string][] = [
    ...p.debs.map((d, i): [string, string] => [`packages.debs[${i}]`, at(d)]),
    ...p.images.flatMap((img, i): [string, string][] => (img.archive !== undefined ? [[`packages.images[${i}].archive`, at(img.archive)]] : [])),
    ...p.charts.flatMap((c, i): [string, string][] =>
      isRemoteChartRepo(c.repo) ? [] : [[`packages.charts[${i}]`, c.path ? at(c.path) : join(at(c.repo!), `${c.name}-${c.version}.tgz`)]],
    ),
    ...(p.caFile ? [['packages.caFile', at(p.caFile)] as [string, string]] : []),
    ['packages.installScript', at(p.installScript)],
    ...(p.signingKey ? [['packages.signingKey', at(p.signingKey)] as [string, string]] : []),
  ];
  const missing = wanted.filter(([, file]) => !existsSync(file));
  if (missing.length > 0) {
    throw usageError(
      `${missing.length} file(s) of the packages section not found: ${missing.map(([key, file]) => `${key}: ${file}`).join('; ')}`,
      `paths in packages are relative to the profile's directory (${input.profileDir})`,
    );
  }
}

/**
 * The packages an installer installs from the payload's repository: `packages.system` (without `=version`) and the
 * package names of the profile's own .debs, read from the written repository's Packages index (`payloadDir` is
 * <rootfs>/opt/novasphere/packages). install.sh and the bring-up both take their list from here.
 */
export function systemPackageNames(packages: Pick<PackagesOptions, 'system' | 'debs'>, payloadDir: string): string[] {
  const names = packages.system.map((p) => p.replace(/=.*$/, ''));
  const index = join(payloadDir, 'system', 'Packages');
  const stanzas = existsSync(index) ? readFileSync(index, 'utf8').split(/\n\s*\n/) : [];
  // writeRepo names a .deb name_version_arch.deb: one named otherwise is found by its sha256 (profile paths are absolute).
  const bySha = (deb: string): string | undefined => {
    if (!existsSync(deb)) return undefined;
    const sha = createHash('sha256').update(readFileSync(deb)).digest('hex');
    return stanzas.find((s) => controlField(s, 'SHA256') === sha);
  };
  for (const deb of packages.debs) {
    const stanza = stanzas.find((s) => basename(controlField(s, 'Filename') ?? '') === basename(deb)) ?? bySha(deb);
    names.push((stanza && controlField(stanza, 'Package')) ?? basename(deb).split('_')[0]!);
  }
  return [...new Set(names)];
}

type NewItem = Omit<PayloadItem, 'digest'> & { digest?: string };

/** The source of a local payload file: `local:` and its path relative to the profile's directory. */
function local(input: Pick<PayloadInput, 'profileDir'>, path: string): string {
  return `local:${relative(input.profileDir, path)}`;
}

function failed(what: string, file: string, problems: string[]): IsoBuildError {
  return usageError(`${what} ${file}: ${problems.join('; ')}`, 'fix or replace the file named in the profile\'s packages section');
}

/** The payload file name of a pulled image: readable, unique per repository + tag (or digest) + platform. */
function pulledImageFile(locked: { name: string; tag?: string; digest: string; platform: string }): string {
  const last = locked.name.slice(locked.name.lastIndexOf('/') + 1);
  const arch = locked.platform.split('/').slice(1).join('');
  return `${last}_${locked.tag ?? locked.digest.slice(7, 19)}_${arch}.tar`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** packages.k3sAirgap: an image archive also in k3s's air-gap images directory, imported when k3s starts. */
function toK3sImages(rootfs: string, source: string, file: string): void {
  const k3s = resolveInRoot(rootfs, K3S_IMAGES_DIR);
  mkdirSync(k3s, { recursive: true });
  copyFileSync(source, join(k3s, file));
}

/** The payload file name of the bundle (packages.imageArchive: bundle). */
export function bundleFile(name: string): string {
  return `${name}-images.tar`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The format of the bundle (packages.imageArchive: bundle): the one all pulled images have (the schema checks it). */
function bundleFormat(input: PayloadInput): ArchiveFormat | undefined {
  const pulled = input.packages.images.filter((i) => i.ref !== undefined);
  if (input.packages.imageArchive !== 'bundle' || pulled.length === 0) return undefined;
  return pulled[0]!.format ?? 'docker-archive';
}

async function addImages(input: PayloadInput, payloadDir: string, remote: Remote | undefined, items: NewItem[]): Promise<PayloadImage[]> {
  const out: PayloadImage[] = [];
  if (input.packages.images.length === 0) return out;
  const dir = join(payloadDir, 'images');
  mkdirSync(dir, { recursive: true });
  const place = (source: string, file: string): void => {
    copyFileSync(source, join(dir, file));
    if (input.packages.k3sAirgap) toK3sImages(input.rootfs, source, file);
  };
  const arch = (): string => platformForDebianArch(payloadArchitecture(input));
  const bundle = bundleFormat(input);
  const bundled: string[] = [];
  for (const image of input.packages.images) {
    if (image.ref !== undefined) {
      const key = imageKey(image.ref, image.platform ?? arch(), image.format ?? 'docker-archive');
      const locked = remote!.lock.images.find((i) => imageKey(i.ref, i.platform, i.format) === key)!;
      const source = remote!.fetched.images.get(imageCachePath(input.cacheDir, locked))!;
      const reference = archiveReference(locked) ?? `${locked.name}@${locked.digest}`;
      const check = await checkImage(source, archiveReference(locked));
      if (check.problems.length > 0) throw failed('packages.images: cached image archive', source, check.problems);
      let file: string;
      if (bundle) {
        file = bundleFile(input.name);
        if (!bundled.includes(source)) bundled.push(source);
      } else {
        file = pulledImageFile(locked);
        place(source, file);
      }
      // The manifest digest the lock pins (the registry's), not the archive's own: docker-archives carry no manifest.
      out.push({ reference, digest: locked.digest, file, format: check.format, pulled: true });
      items.push({ kind: 'image', name: `${reference} (${locked.platform})`, digest: locked.digest, source: `docker://${locked.ref}`, file: `images/${file}` });
      continue;
    }
    const source = resolve(input.profileDir, image.archive!);
    if (!existsSync(source)) throw usageError(`packages.images: archive not found: ${source}`);
    const check = await checkImage(source, image.reference);
    if (check.problems.length > 0) throw failed('packages.images: image archive', source, check.problems);
    const file = basename(source);
    place(source, file);
    out.push({ reference: image.reference!, digest: check.digest ?? '', file, format: check.format });
    items.push({ kind: 'image', name: image.reference!, ...(check.digest ? { digest: check.digest } : {}), source: local(input, source), file: `images/${file}` });
  }
  if (bundle) {
    const file = bundleFile(input.name);
    input.progress?.line(`writing the image bundle ${file} (${bundled.length} images)`);
    await writeBundle(bundled, bundle, join(dir, file));
    const check = await checkImage(join(dir, file), out.filter((i) => i.file === file).map((i) => i.reference));
    if (check.problems.length > 0) throw failed('packages.images: the bundle written', join(dir, file), check.problems);
    if (input.packages.k3sAirgap) toK3sImages(input.rootfs, join(dir, file), file);
  }
  writeFileSync(join(dir, 'images.txt'), imagesTxt(out));
  return out;
}

async function addCharts(input: PayloadInput, payloadDir: string, remote: Remote | undefined, items: NewItem[]): Promise<IndexEntry[]> {
  const entries: IndexEntry[] = [];
  if (input.packages.charts.length === 0) return entries;
  const dir = join(payloadDir, 'charts');
  mkdirSync(dir, { recursive: true });
  for (const chart of input.packages.charts) {
    let source: string;
    let origin: string;
    let version = chart.version;
    if (isRemoteChartRepo(chart.repo)) {
      const key = chartKey({ repo: chart.repo!, name: chart.name, version: chart.version });
      const locked = remote!.lock.charts.find((c) => chartKey(c) === key)!;
      source = remote!.fetched.charts.get(locked.sha256)!;
      origin = redact(locked.url);
      version = locked.resolved;
    } else {
      source = chart.path ? resolve(input.profileDir, chart.path) : join(resolve(input.profileDir, chart.repo!), `${chart.name}-${chart.version}.tgz`);
      origin = local(input, source);
    }
    if (!existsSync(source)) throw usageError(`packages.charts: chart ${chart.name} ${version} not found: ${source}`);
    const check = await checkChart(source, { name: chart.name, version });
    if (check.problems.length > 0) throw failed('packages.charts: chart', source, check.problems);
    const file = `${chart.name}-${version}.tgz`;
    const sha256 = await sha256File(source);
    // Two entries may pin the same chart version (`~1.7.0` and `1.7.1`): one file, one index entry.
    const same = entries.find((e) => e.file === file);
    if (same) {
      if (same.sha256 !== sha256) {
        throw usageError(`packages.charts: two different archives are both chart ${chart.name} ${version} (${file})`, 'name each chart version once in packages.charts');
      }
      continue;
    }
    copyFileSync(source, join(dir, file));
    entries.push({ name: chart.name, version, metadata: check.metadata, file, sha256 });
    items.push({ kind: 'chart', name: `${chart.name} ${version}`, digest: `sha256:${sha256}`, source: origin, file: `charts/${file}` });
  }
  writeFileSync(join(dir, 'index.yaml'), chartIndexYaml(entries, input.epochSeconds));
  return entries;
}

/** packages.files: each to files/DEST with its mode (the cache checked its sha256); image bundles checked too. */
async function addFiles(input: PayloadInput, payloadDir: string, remote: Remote | undefined, items: NewItem[]): Promise<void> {
  for (const f of input.packages.files) {
    const locked = remote!.lock.files.find((l) => l.url === f.url && l.dest === f.dest)!;
    const source = remote!.fetched.files.get(locked.sha256)!;
    if (f.k3sImages) {
      const check = await checkImage(source);
      if (check.problems.length > 0) throw failed(`packages.files (${f.dest}): image bundle`, source, check.problems);
      if (input.packages.k3sAirgap) toK3sImages(input.rootfs, source, basename(f.dest));
    }
    const target = join(payloadDir, 'files', f.dest);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    copyFileSync(source, target);
    chmodSync(target, parseInt(f.mode, 8));
    items.push({ kind: 'file', name: f.dest, digest: `sha256:${locked.sha256}`, source: redact(f.url), file: `files/${f.dest}` });
  }
}
