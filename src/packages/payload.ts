/**
 * Assembles the offline payload under <rootfs>/opt/novasphere/packages/: system/ (signed apt repository), images/,
 * charts/, manifest.json; install.sh beside it; the repository's key and sources entry in the rootfs's /etc/apt.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { resolveInRoot } from '../rootfs-path.js';
import { IsoBuildError, usageError } from '../errors.js';
import { stopAgent } from '../tools/gpg.js';
import { chartIndexYaml, checkChart, type IndexEntry } from './charts.js';
import { checkImage } from './images.js';
import { readInstallTemplate, renderInstallScript } from './install-script.js';
import { writeManifest } from './manifest.js';
import { repoSourcesEntry, writeRepo, type RepoDeb } from './repo.js';
import { sha256File } from '../file-hash.js';
import { resolveClosure, type ResolveResult } from './resolve.js';
import type { BuildLog } from '../build-log.js';
import type { PackagesOptions } from '../profile/schema.js';

import { PAYLOAD_DIR, PRODUCT_DIR } from '../product.js';

export { PAYLOAD_DIR, PRODUCT_DIR };
export const REPO_DIR = `${PAYLOAD_DIR}/system`;
export const INSTALL_SCRIPT = `${PRODUCT_DIR}/install.sh`;
export const K3S_IMAGES_DIR = '/var/lib/rancher/k3s/agent/images';

export function keyringPath(name: string): string {
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
  packages: PackagesOptions;
  rootfs: string;
  /** The target system apt resolves against; default: `rootfs` (`packages fetch --output` writes elsewhere). */
  resolveRoot?: string;
  cacheDir: string;
  epochSeconds: number;
  log?: BuildLog;
  progress?: (text: string) => void;
}

export interface PayloadResult {
  payloadDir: string;
  closure?: ResolveResult;
  debs: { name: string; version: string; arch: string; file: string }[];
  fingerprint: string;
  images: PayloadImage[];
  charts: IndexEntry[];
  files: number;
}

export interface PayloadImage {
  reference: string;
  digest: string;
  file: string;
  format: string;
}

/** Writes a file inside the rootfs without following a symlink out of it. */
export function writeInRoot(root: string, inRoot: string, content: string | Buffer, mode = 0o644): string {
  const dir = resolveInRoot(root, dirname(inRoot));
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, basename(inRoot));
  rmSync(path, { force: true });
  writeFileSync(path, content, { mode });
  return path;
}

export async function buildPayload(input: PayloadInput): Promise<PayloadResult> {
  const { packages, rootfs, log } = input;
  const progress = input.progress ?? (() => undefined);
  checkLocalFiles(input);
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
  progress(`writing the signed repository (${debs.length} .debs)`);
  const gpgHome = mkdtempSync(join(tmpdir(), 'isob-gpg-'));
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
    await stopAgent({ home: gpgHome, log }).catch(() => undefined);
    rmSync(gpgHome, { recursive: true, force: true });
  }
  writeInRoot(rootfs, keyringPath(input.name), repo.publicKey);
  writeInRoot(rootfs, sourcesPath(input.name), sourcesEntry(input.name));

  progress(`checking ${packages.images.length} image archives`);
  const images = await addImages(input, payloadDir);
  progress(`checking ${packages.charts.length} charts`);
  const charts = await addCharts(input, payloadDir);
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
      system: [...packages.system.map((p) => p.replace(/=.*$/, '')), ...repo.packages.filter((d) => localNames(input).has(d.file)).map((d) => d.name)],
      images,
      k3sAirgap: packages.k3sAirgap,
      k3sImagesDir: K3S_IMAGES_DIR,
    }),
    0o755,
  );
  const manifest = await writeManifest(payloadDir, input.product);
  return { payloadDir, closure, debs: repo.packages, fingerprint: repo.fingerprint, images, charts, files: manifest.files.length };
}

/** Every local file the section names must exist before anything is fetched: one error lists all missing ones. */
export function checkLocalFiles(input: Pick<PayloadInput, 'packages' | 'profileDir'>): void {
  const p = input.packages;
  const at = (f: string): string => resolve(input.profileDir, f);
  const wanted: [string, string][] = [
    ...p.debs.map((d, i): [string, string] => [`packages.debs[${i}]`, at(d)]),
    ...p.images.map((img, i): [string, string] => [`packages.images[${i}].archive`, at(img.archive)]),
    ...p.charts.map((c, i): [string, string] => [
      `packages.charts[${i}]`,
      c.path ? at(c.path) : join(at(c.repo!), `${c.name}-${c.version}.tgz`),
    ]),
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

/** File names in the repository of the profile's local .debs (installed by install.sh along with `system`). */
function localNames(input: PayloadInput): Set<string> {
  return new Set(input.packages.debs.map((d) => basename(d)));
}

function failed(what: string, file: string, problems: string[]): IsoBuildError {
  return usageError(`${what} ${file}: ${problems.join('; ')}`, 'fix or replace the file named in the profile\'s packages section');
}

async function addImages(input: PayloadInput, payloadDir: string): Promise<PayloadImage[]> {
  const out: PayloadImage[] = [];
  if (input.packages.images.length === 0) return out;
  const dir = join(payloadDir, 'images');
  mkdirSync(dir, { recursive: true });
  for (const image of input.packages.images) {
    const source = resolve(input.profileDir, image.archive);
    if (!existsSync(source)) throw usageError(`packages.images: archive not found: ${source}`);
    const check = await checkImage(source, image.reference);
    if (check.problems.length > 0) throw failed('packages.images: image archive', source, check.problems);
    const file = basename(source);
    copyFileSync(source, join(dir, file));
    if (input.packages.k3sAirgap) {
      const k3s = resolveInRoot(input.rootfs, K3S_IMAGES_DIR);
      mkdirSync(k3s, { recursive: true });
      copyFileSync(source, join(k3s, file));
    }
    out.push({ reference: image.reference, digest: check.digest ?? '', file, format: check.format });
  }
  writeFileSync(join(dir, 'images.txt'), `# reference digest file\n${out.map((i) => `${i.reference} ${i.digest} ${i.file}\n`).join('')}`);
  return out;
}

async function addCharts(input: PayloadInput, payloadDir: string): Promise<IndexEntry[]> {
  const entries: IndexEntry[] = [];
  if (input.packages.charts.length === 0) return entries;
  const dir = join(payloadDir, 'charts');
  mkdirSync(dir, { recursive: true });
  for (const chart of input.packages.charts) {
    const source = chart.path
      ? resolve(input.profileDir, chart.path)
      : join(resolve(input.profileDir, chart.repo!), `${chart.name}-${chart.version}.tgz`);
    if (!existsSync(source)) throw usageError(`packages.charts: chart ${chart.name} ${chart.version} not found: ${source}`);
    const check = await checkChart(source, chart);
    if (check.problems.length > 0) throw failed('packages.charts: chart', source, check.problems);
    const file = `${chart.name}-${chart.version}.tgz`;
    copyFileSync(source, join(dir, file));
    entries.push({ ...chart, appVersion: check.appVersion, description: check.description, apiVersion: check.apiVersion, file, sha256: await sha256File(source) });
  }
  writeFileSync(join(dir, 'index.yaml'), chartIndexYaml(entries, input.epochSeconds));
  return entries;
}
