/**
 * Assembles the offline payload under <rootfs>/opt/novasphere/packages/: system/ (signed apt repository), images/,
 * charts/, manifest.json; install.sh beside it; the repository's key and sources entry in the rootfs's /etc/apt.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { resolveInRoot } from '../rootfs-path.js';
import { stopAgent } from '../tools/gpg.js';
import { writeRepo, type RepoDeb } from './repo.js';
import { resolveClosure, type ResolveResult } from './resolve.js';
import type { BuildLog } from '../build-log.js';
import type { PackagesOptions } from '../profile/schema.js';

export const PRODUCT_DIR = '/opt/novasphere';
export const PAYLOAD_DIR = `${PRODUCT_DIR}/packages`;
export const REPO_DIR = `${PAYLOAD_DIR}/system`;
export const INSTALL_SCRIPT = `${PRODUCT_DIR}/install.sh`;
export const K3S_IMAGES_DIR = '/var/lib/rancher/k3s/agent/images';

export function keyringPath(name: string): string {
  return `/etc/apt/keyrings/${name}-packages.gpg`;
}
export function sourcesPath(name: string): string {
  return `/etc/apt/sources.list.d/${name}-packages.list`;
}
export function sourcesEntry(name: string): string {
  return `deb [signed-by=${keyringPath(name)}] file:${REPO_DIR} ./\n`;
}

export interface PayloadInput {
  /** The profile's name (file names) and product (repository labels). */
  name: string;
  product: string;
  version: string;
  /** The profile's directory: relative paths in `packages` are relative to it. */
  profileDir: string;
  packages: PackagesOptions;
  rootfs: string;
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
  const payloadDir = resolveInRoot(rootfs, PAYLOAD_DIR);
  rmSync(payloadDir, { recursive: true, force: true });
  mkdirSync(payloadDir, { recursive: true, mode: 0o755 });

  let closure: ResolveResult | undefined;
  if (packages.system.length > 0) {
    progress(`resolving ${packages.system.join(' ')} for the target`);
    closure = await resolveClosure({
      rootfs,
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
      label: `${input.product} ${input.version}`,
      epochSeconds: input.epochSeconds,
      signingKey: packages.signingKey ? resolve(input.profileDir, packages.signingKey) : undefined,
      gpgHome,
      log,
    });
  } finally {
    await stopAgent({ home: gpgHome, log }).catch(() => undefined);
    rmSync(gpgHome, { recursive: true, force: true });
  }
  writeInRoot(rootfs, keyringPath(input.name), repo.publicKey);
  writeInRoot(rootfs, sourcesPath(input.name), sourcesEntry(input.name));
  return { payloadDir, closure, debs: repo.packages, fingerprint: repo.fingerprint };
}
