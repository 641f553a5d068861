/**
 * The signed flat apt repository under packages/system/: the .debs, Packages(.gz/.xz), Release with the fields and
 * checksums apt-ftparchive writes (MD5Sum, SHA1, SHA256, SHA512), InRelease and Release.gpg signed with the profile's
 * key (or one generated for the build), and the public key. Installed systems use it through a deb822 `.sources`
 * entry with Signed-By (`repoSourcesEntry`), which apt reads since 1.1 (Ubuntu 22.04 has 2.4, Debian 12 2.6).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { IsoBuildError } from '../errors.js';
import { debControl, ftparchivePackages, xzCompress } from '../tools/apt.js';
import {
  clearSign,
  detachSign,
  exportPublicKey,
  exportSecretKey,
  generateSigningKey,
  importSecretKey,
  prepareGpgHome,
  type GpgHome,
} from '../tools/gpg.js';
import type { BuildLog } from '../build-log.js';

export const PUBLIC_KEY_NAME = 'signing-key.asc';
const GENERATED_KEY_TIME = 946684800;

export interface RepoDeb {
  /** The file to copy. */
  source: string;
  /** Its file name in the repository; undefined: name_version_arch.deb from its control data. */
  fileName?: string;
}

export interface RepoOptions {
  dir: string;
  debs: readonly RepoDeb[];
  origin: string;
  label: string;
  epochSeconds: number;
  /** Armored secret key file; undefined: use (or first generate) `generatedKey`. */
  signingKey?: string;
  /** Where the key generated when the profile names none is kept, so later builds sign with the same key. */
  generatedKey: string;
  /** Private GnuPG home for this build (removed by the caller). */
  gpgHome: string;
  log?: BuildLog;
}

export interface RepoResult {
  fingerprint: string;
  /** Binary public key, for /etc/apt/keyrings. */
  publicKey: Buffer;
  /** Each .deb: its control fields, its file name in the repository, the file it was copied from. */
  packages: { name: string; version: string; arch: string; file: string; source: string }[];
}

export function controlField(control: string, field: string): string | undefined {
  return new RegExp(`^${field}:[ \\t]*(.*)$`, 'm').exec(control)?.[1]?.trim();
}

/** Stanzas sorted by Package, Version, Architecture: the same .debs always give the same Packages file. */
export function sortStanzas(packages: string): string {
  const stanzas = packages.split(/\n\s*\n/).map((s) => s.trim()).filter(Boolean);
  const key = (s: string): string => ['Package', 'Version', 'Architecture'].map((f) => controlField(s, f) ?? '').join('\u0000');
  return stanzas.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)).map((s) => `${s}\n`).join('\n');
}

/** The Date format of apt-ftparchive (apt's TimeRFC1123 with a numeric zone): `Tue, 14 Nov 2023 22:13:20 +0000`. */
function rfc1123(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toUTCString().replace(/GMT$/, '+0000');
}

/** The checksum sections of a Release file, in apt-ftparchive's order (apt verifies with the strongest it knows). */
const RELEASE_HASHES = [
  ['MD5Sum', 'md5'],
  ['SHA1', 'sha1'],
  ['SHA256', 'sha256'],
  ['SHA512', 'sha512'],
] as const;

export interface ReleaseFields {
  origin: string;
  label: string;
  epochSeconds: number;
  architectures: string[];
}

/**
 * Release for a flat repository: the text `apt-ftparchive release` writes for the same fields (apt 2.6 writes its
 * header fields sorted by name: they come from a std::map in ftparchive/writer.cc), checked against the real tool in
 * test/unit/repo-release.test.ts. No Components: a flat repository ("./") has none.
 */
export function releaseText(dir: string, files: readonly string[], fields: ReleaseFields): string {
  const entries = files.map((name) => ({ name, data: readFileSync(join(dir, name)) }));
  const header: Record<string, string> = {
    Architectures: fields.architectures.join(' '),
    Codename: 'offline',
    Date: rfc1123(fields.epochSeconds),
    Description: `${fields.label} (offline, signed)`,
    Label: fields.label,
    Origin: fields.origin,
    Suite: 'stable',
  };
  const head = Object.keys(header)
    .sort()
    .map((k) => `${k}: ${header[k]}\n`)
    .join('');
  const sections = RELEASE_HASHES.map(
    ([title, algo]) => `${title}:\n${entries.map((e) => ` ${createHash(algo).update(e.data).digest('hex')} ${String(e.data.length).padStart(16)} ${e.name}\n`).join('')}`,
  );
  return head + sections.join('');
}

/**
 * The apt sources entry for the repository, deb822 (`.sources`): a flat repository is `Suites: ./` without
 * Components (sources.list(5)); Signed-By names the keyring, so the key is trusted for this repository only.
 */
export function repoSourcesEntry(repo: { uri: string; keyring: string }): string {
  return `Types: deb\nURIs: ${repo.uri}\nSuites: ./\nSigned-By: ${repo.keyring}\n`;
}

export async function writeRepo(opts: RepoOptions): Promise<RepoResult> {
  rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(opts.dir, { recursive: true });
  const packages: RepoResult['packages'] = [];
  for (const deb of opts.debs) {
    let control: string;
    try {
      control = await debControl(deb.source, { log: opts.log });
    } catch (err) {
      throw new IsoBuildError(`not a valid .deb: ${deb.source}`, { cause: err, hint: 'dpkg-deb --field cannot read its control data' });
    }
    const name = controlField(control, 'Package');
    const version = controlField(control, 'Version');
    const arch = controlField(control, 'Architecture');
    if (!name || !version || !arch) throw new IsoBuildError(`${deb.source}: control data lacks Package, Version or Architecture`);
    const file = deb.fileName ?? `${name}_${version.replace(/^\d+:/, '')}_${arch}.deb`;
    copyFileSync(deb.source, join(opts.dir, file));
    packages.push({ name, version, arch, file, source: deb.source });
  }
  const index = sortStanzas(await ftparchivePackages(opts.dir, { log: opts.log }));
  writeFileSync(join(opts.dir, 'Packages'), index);
  writeFileSync(join(opts.dir, 'Packages.gz'), gzipSync(Buffer.from(index), { level: 9 }));
  await xzCompress(join(opts.dir, 'Packages'), { log: opts.log });
  const architectures = [...new Set(packages.map((p) => p.arch))].sort();
  const release = releaseText(opts.dir, ['Packages', 'Packages.gz', 'Packages.xz'], { ...opts, architectures });
  writeFileSync(join(opts.dir, 'Release'), release);

  // Signatures carry the build's time (reproducible); a profile's own key may be newer than that, so it signs with the real time.
  const gpg: GpgHome = { home: opts.gpgHome, log: opts.log, epochSeconds: opts.signingKey ? undefined : opts.epochSeconds };
  prepareGpgHome(opts.gpgHome);
  let fingerprint: string;
  if (opts.signingKey) fingerprint = await importSecretKey(gpg, opts.signingKey);
  else if (existsSync(opts.generatedKey)) {
    fingerprint = await importSecretKey(gpg, opts.generatedKey);
    opts.log?.line(`packages: signing with the key generated earlier for this profile: ${opts.generatedKey}`);
  } else {
    const slug = opts.origin.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    // created "in 2000" so that any build time can sign with it
    fingerprint = await generateSigningKey({ ...gpg, epochSeconds: GENERATED_KEY_TIME }, `${opts.origin} offline packages (generated by iso-build) <packages@${slug}.invalid>`);
    mkdirSync(dirname(opts.generatedKey), { recursive: true, mode: 0o700 });
    writeFileSync(opts.generatedKey, await exportSecretKey(gpg, fingerprint), { mode: 0o600 });
    opts.log?.line(`packages: generated signing key ${fingerprint}, kept in ${opts.generatedKey}`);
  }
  await clearSign(gpg, fingerprint, join(opts.dir, 'Release'), join(opts.dir, 'InRelease'));
  await detachSign(gpg, fingerprint, join(opts.dir, 'Release'), join(opts.dir, 'Release.gpg'));
  writeFileSync(join(opts.dir, PUBLIC_KEY_NAME), await exportPublicKey(gpg, fingerprint, true));
  const publicKey = await exportPublicKey(gpg, fingerprint, false);
  opts.log?.line(`packages: repository ${opts.dir}: ${packages.length} .debs, signed by ${fingerprint}`);
  return { fingerprint, publicKey, packages: packages.sort((a, b) => (a.file < b.file ? -1 : 1)) };
}
