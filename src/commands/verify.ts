/**
 * `iso-build verify ISO`: check a published ISO the way a user who downloaded it would, in this order:
 * the gpg signature of SHA256SUMS, the ISO's sha256 against it, every md5sum.txt line against the file read back
 * from the ISO, the El Torito boot records, and the VERSION in the rootfs the installer copies. Nothing is extracted
 * or mounted: the ISO and its squashfs layers are read in place by the in-process readers (src/image).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ExitCode, IsoBuildError, usageError } from '../errors.js';
import { MANIFEST_NAME, VERSION_FILE } from '../product.js';
import type { BuildManifest } from '../release/manifest.js';
import { parseSha256Sums } from '../sha256sums.js';
import { sha256File } from '../file-hash.js';
import { verifyFileSignature } from '../tools/gpg.js';
import { IsoImage } from '../image/iso9660.js';
import { checkIsoMd5sums } from '../image/md5sum.js';
import { LayerStack, detectIsoLayout, openLayer } from '../image/rootfs.js';
import { withSource } from '../image/source.js';
import { listBootImages } from '../tools/xorriso.js';
import { isQuiet, result, resultJson, symbol, warning } from '../output.js';

export interface VerifyOptions {
  sums?: string;
  /** A public key file, or a fingerprint / key id in the user's keyring. */
  key?: string;
  expectVersion?: string;
  /** Print VerifyResult as JSON on stdout. */
  json?: boolean;
}

export type VerifyCheck = 'signature' | 'sha256' | 'md5sum' | 'boot' | 'version';

/** `verify --json` (docs/cli-json.md): every check that ran, in order; the first failed one ends the list. */
export interface VerifyResult {
  iso: string;
  ok: boolean;
  checks: { check: VerifyCheck; ok: boolean; detail: string }[];
}

const VERSION_IN_NAME = /(v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?|\d{8})\.iso$/;

function fail(message: string, hint?: string): IsoBuildError {
  return new IsoBuildError(message, { hint, exitCode: ExitCode.Verification });
}

/** The checks of this run, printed as they pass (or collected for --json). */
class Checks {
  readonly list: VerifyResult['checks'] = [];
  /** The check running now: the one a failure belongs to. */
  current: VerifyCheck = 'sha256';
  constructor(private readonly json: boolean) {}

  ok(check: VerifyCheck, line: string): void {
    this.list.push({ check, ok: true, detail: line.replace(/^[\w .]+: /, '') });
    if (!this.json && !isQuiet()) result(`${symbol('ok')} ${line}`);
  }
}

export async function verifyCommand(iso: string, opts: VerifyOptions): Promise<number> {
  const checks = new Checks(opts.json === true);
  try {
    await verifyChecks(iso, opts, checks);
  } catch (err) {
    if (opts.json && err instanceof IsoBuildError && err.exitCode === ExitCode.Verification) {
      resultJson({ iso: resolve(iso), ok: false, checks: [...checks.list, { check: checks.current, ok: false, detail: err.message }] } satisfies VerifyResult);
    }
    throw err;
  }
  if (opts.json) resultJson({ iso: resolve(iso), ok: true, checks: checks.list } satisfies VerifyResult);
  else result(`${basename(iso)}: OK`);
  return 0;
}

async function verifyChecks(iso: string, opts: VerifyOptions, checks: Checks): Promise<void> {
  const ok = checks.ok.bind(checks);
  const isoPath = resolve(iso);
  if (!existsSync(isoPath) || !statSync(isoPath).isFile()) throw usageError(`${iso} does not exist or is not a file`);
  const name = basename(isoPath);
  const sumsPath = resolve(opts.sums ?? sumsBeside(isoPath));
  if (!existsSync(sumsPath)) {
    throw usageError(`${sumsPath} does not exist`, 'download SHA256SUMS (and SHA256SUMS.asc) of the release next to the ISO, or pass --sums FILE');
  }

  // 1. Who vouches for SHA256SUMS.
  checks.current = 'signature';
  const signature = `${sumsPath}.asc`;
  if (existsSync(signature)) {
    const key = opts.key;
    const check = await verifyFileSignature(signature, sumsPath, key === undefined ? {} : existsSync(key) ? { keyFile: key } : { keyId: key });
    if (!check.ok) {
      throw fail(`signature: ${basename(signature)} does not verify ${basename(sumsPath)}: ${check.reason}`, 'do not use this ISO: download it and SHA256SUMS again from the release page');
    }
    ok('signature', `signature: ${basename(sumsPath)} is signed by ${check.primaryFingerprint}`);
  } else if (opts.key !== undefined) {
    throw fail(`signature: ${signature} is missing, but --key asks for a signed SHA256SUMS`);
  } else {
    warning(`signature: none (${basename(signature)} not found): the checksums only detect corruption, not tampering`);
  }

  // 2. The ISO is the one SHA256SUMS lists.
  checks.current = 'sha256';
  const sums = parseSha256Sums(readFileSync(sumsPath, 'utf8'));
  const expected = sums.get(name);
  if (!expected) throw fail(`sha256: ${basename(sumsPath)} has no line for ${name}`, `it lists: ${[...sums.keys()].join(', ') || 'nothing'}`);
  const actual = await sha256File(isoPath);
  if (actual !== expected) {
    throw fail(`sha256: ${name} has sha256 ${actual}, but ${basename(sumsPath)} says ${expected}`, 'the download is corrupt or was changed: download it again');
  }
  ok('sha256', `sha256: ${name} ${actual}`);

  // build-manifest.json is only used when SHA256SUMS vouches for it.
  const manifest = trustedManifest(dirname(sumsPath), sums, name);

  // 3-5. Read the ISO back, in place (no extraction).
  await withSource(isoPath, async (source) => {
    checks.current = 'md5sum';
    const image = await IsoImage.open(source);
    const md5 = await checkIsoMd5sums(image);
    if (!md5.present) throw fail('md5sum.txt: the ISO has no md5sum.txt');
    if (md5.problems.length) throw fail(md5.problems[0]!.message);
    ok('md5sum', `md5sum.txt: ${md5.ok} files match`);

    checks.current = 'boot';
    const platforms = [...new Set((await listBootImages(isoPath)).map((b) => b.platform))].sort();
    const wanted = manifest?.iso.bootPlatforms ?? [];
    const missing = wanted.filter((p) => !platforms.includes(p));
    if (platforms.length === 0 || missing.length) {
      throw fail(`boot records: the ISO has ${platforms.length ? platforms.join(' + ') : 'no El Torito boot image'}${missing.length ? `, missing ${missing.join(', ')}` : ''}`);
    }
    ok('boot', `boot records: ${platforms.join(' + ')}`);

    checks.current = 'version';
    const wantVersion = opts.expectVersion ?? manifest?.version ?? VERSION_IN_NAME.exec(name)?.[1];
    const { rootfs, version } = await readVersion(image);
    if (wantVersion !== undefined && version !== wantVersion) {
      throw fail(`VERSION: ${VERSION_FILE} in ${rootfs} reads "${version}", expected "${wantVersion}"`);
    }
    ok('version', `VERSION: ${version} (${rootfs})`);
  });
}

/**
 * The release's names for a file of this ISO: as `iso-build build` writes it (`build-manifest.json` in the release
 * directory), or as scripts/publish-assets publishes it beside other products (`<iso stem>-build-manifest.json`).
 */
function releaseFileNames(isoName: string, file: string): string[] {
  return [`${isoName.replace(/\.iso$/i, '')}-${file}`, file];
}

/** SHA256SUMS beside the ISO, else `<iso stem>-SHA256SUMS` (a release that publishes one sums file per ISO). */
function sumsBeside(isoPath: string): string {
  const candidates = releaseFileNames(basename(isoPath), 'SHA256SUMS').reverse().map((n) => join(dirname(isoPath), n));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

function trustedManifest(dir: string, sums: Map<string, string>, isoName: string): BuildManifest | undefined {
  const manifestName = releaseFileNames(isoName, MANIFEST_NAME).find((n) => sums.has(n) && existsSync(join(dir, n)));
  if (!manifestName) return undefined;
  const text = readFileSync(join(dir, manifestName));
  if (createHash('sha256').update(text).digest('hex') !== sums.get(manifestName)) {
    throw fail(`sha256: ${manifestName} does not match its line in SHA256SUMS`, 'download the release files again');
  }
  try {
    return JSON.parse(text.toString('utf8')) as BuildManifest;
  } catch {
    throw fail(`${manifestName} is not valid JSON, although SHA256SUMS lists it`);
  }
}

/** VERSION as the installed system will have it: from the merged layers the installer copies. */
async function readVersion(image: IsoImage): Promise<{ rootfs: string; version: string }> {
  const layout = await detectIsoLayout(image);
  const stack = new LayerStack(await Promise.all(layout.stack.map((p) => openLayer(image, p))));
  const rootfs = layout.stack.join(' over ');
  const found = await stack.lookup(VERSION_FILE, { follow: true });
  if (!found || found.inode.type !== 'file') throw fail(`VERSION: no ${VERSION_FILE} in ${rootfs}`);
  return { rootfs, version: (await found.fs.readAll(found.inode, 4096)).toString('utf8').trim() };
}
