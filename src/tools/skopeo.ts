/**
 * skopeo (Debian package `skopeo`): reading manifests and tags from registries and copying images into archives.
 *
 * Credentials are skopeo's own standard ones: `$REGISTRY_AUTH_FILE` (skopeo's --authfile default), else
 * ${XDG_RUNTIME_DIR}/containers/auth.json, else ~/.docker/config.json. Plain-HTTP registries are marked `insecure` in
 * registries.conf (/etc/containers/registries.conf, or ~/.config/containers/registries.conf which replaces it), as for
 * podman. A custom CA goes in through --cert-dir: a directory
 * of *.crt files, added to the system roots (containers/image pkg/tlsclientconfig.SetupCertificates).
 * Transient failures (connection refused/reset, timeouts, 5xx) are retried with exponential backoff; a missing tag,
 * a denied login or an unknown CA are not, and each becomes one line with a hint.
 */
import { mkdirSync, mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, IsoBuildError } from '../errors.js';
import { run } from './process.js';
import { withRetries } from '../retry.js';
import type { BuildLog } from '../build-log.js';

export interface SkopeoOptions {
  /** PEM file of extra CA certificates for the registries. */
  caFile?: string;
  log?: BuildLog;
}

/** A platform as OCI image indexes name it. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function platformText(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

type Failure = 'not-found' | 'auth' | 'tls' | 'transient' | 'other';

function classify(text: string): Failure {
  // Digests are hex: status codes only count as whole words.
  if (/manifest unknown|name unknown|not found|\b404\b/i.test(text)) return 'not-found';
  if (/unauthorized|authentication required|access to the resource is denied|\b40[13]\b/i.test(text)) return 'auth';
  if (/x509|certificate|tls: /i.test(text)) return 'tls';
  if (/connection refused|connection reset|timeout|timed out|\bEOF\b|no such host|temporary|\b5\d\d\b|too many requests|\b429\b/i.test(text)) {
    return 'transient';
  }
  return 'other';
}

/** The skopeo stderr's own message, without its `time=... level=fatal msg=` framing. */
function skopeoMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const fatal = lines.reverse().find((l) => /level=fatal|^Error/i.test(l)) ?? lines[0] ?? '';
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(fatal);
  return (m ? m[1]!.replace(/\\"/g, '"') : fatal).replace(/\s+/g, ' ').slice(0, 400);
}

function toError(what: string, subject: string, failure: Failure, message: string): IsoBuildError {
  switch (failure) {
    case 'not-found':
      return new IsoBuildError(`${what} ${subject}: not in the registry (${message})`, {
        exitCode: ExitCode.Usage,
        hint: 'check the name and tag in the profile (skopeo list-tags docker://NAME lists the tags)',
      });
    case 'auth':
      return new IsoBuildError(`${what} ${subject}: the registry refused access (${message})`, {
        exitCode: ExitCode.Usage,
        hint: 'log in with credentials in $REGISTRY_AUTH_FILE or ~/.docker/config.json (skopeo login / docker login)',
      });
    case 'tls':
      return new IsoBuildError(`${what} ${subject}: TLS failed (${message})`, {
        exitCode: ExitCode.Usage,
        hint: 'name the registry\'s CA in packages.caFile, or mark a plain-HTTP registry insecure in registries.conf',
      });
    default:
      return new IsoBuildError(`${what} ${subject} failed (${message})`, {
        exitCode: ExitCode.Failed,
        hint: 'check the network and the registry; transient failures were retried',
      });
  }
}

/** A failed skopeo run: its own message and what kind of failure that is. */
class SkopeoFailure extends Error {
  constructor(
    message: string,
    readonly failure: Failure,
  ) {
    super(message);
  }
}

async function skopeo(args: string[], subject: string, what: string, opts: SkopeoOptions): Promise<string> {
  let certDir: string | undefined;
  if (opts.caFile) {
    certDir = mkdtempSync(join(tmpdir(), 'isob-certs-'));
    copyFileSync(opts.caFile, join(certDir, 'profile-ca.crt'));
  }
  const [verb, ...rest] = args;
  const certArgs = certDir ? (verb === 'copy' ? ['--src-cert-dir', certDir] : ['--cert-dir', certDir]) : [];
  const once = async (): Promise<string> => {
    const res = await run('skopeo', [verb!, ...certArgs, ...rest], {
      log: opts.log,
      // skopeo's "Copying blob ..." lines are progress: kept out of the build log
      isProgress: (line) => /^(Copying|Writing|Storing|Getting image source signatures)/.test(line),
      okExitCodes: [1, 2, 125],
      what: `skopeo ${verb}`,
    });
    if (res.exitCode === 0) return res.stdout;
    const message = skopeoMessage(res.stderr);
    throw new SkopeoFailure(message, classify(message));
  };
  try {
    return await withRetries(
      { log: opts.log, label: `skopeo: ${subject}` },
      once,
      (err) => err instanceof SkopeoFailure && err.failure === 'transient',
      (err) => (err instanceof SkopeoFailure ? toError(what, subject, err.failure, err.message) : err),
    );
  } finally {
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  }
}

/** The manifest (or image index) a reference points at, byte for byte: its sha256 is the manifest digest. */
export async function inspectRaw(ref: string, opts: SkopeoOptions = {}): Promise<Buffer> {
  const out = await skopeo(['inspect', '--raw', '--no-tags', `docker://${ref}`], ref, 'image', opts);
  // skopeo prints the raw manifest bytes followed by nothing else; stdout is utf-8 JSON.
  return Buffer.from(out, 'utf8');
}

/** The tags of a repository (`host/path/name`). */
export async function listTags(repository: string, opts: SkopeoOptions = {}): Promise<string[]> {
  const out = await skopeo(['list-tags', `docker://${repository}`], repository, 'repository', opts);
  const doc = JSON.parse(out) as { Tags?: string[] };
  return doc.Tags ?? [];
}

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

/**
 * Pulls one image (by manifest digest: `name@sha256:...`, so no platform choice happens here) into a `dir:` copy:
 * manifest and blobs as the registry serves them, no conversion (skopeo(1) "dir:path").
 */
export async function pullToDir(source: string, dir: string, opts: SkopeoOptions = {}): Promise<void> {
  await skopeo(['copy', '--quiet', `docker://${source}`, `dir:${dir}`], source, 'image', opts);
}

/**
 * A `dir:` copy written as one archive that names the image `tag` (docker-archive: RepoTags; oci-archive: the
 * org.opencontainers.image.ref.name annotation). skopeo writes one image per archive (skopeo#2072: several images
 * in one docker-archive exist only in containers/image's archive.Writer, not in the CLI): bundles are made by
 * src/packages/bundle.ts.
 */
export async function dirToArchive(dir: string, file: string, format: ArchiveFormat, tag: string | undefined, opts: SkopeoOptions = {}): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  rmSync(file, { force: true });
  const dest = `${format}:${file}${tag ? `:${tag}` : ''}`;
  // --preserve-digests is not used: a docker-archive stores layers uncompressed, its digests differ by design.
  await skopeo(['copy', '--quiet', `dir:${dir}`, dest], dir, 'image', { log: opts.log });
}

/** Copies an artifact (a Helm chart in an OCI registry) as it is into an OCI layout directory. */
export async function copyToOciLayout(source: string, dir: string, opts: SkopeoOptions = {}): Promise<void> {
  await skopeo(['copy', '--quiet', '--preserve-digests', `docker://${source}`, `oci:${dir}:chart`], source, 'chart', opts);
}
